"""Run LLM-written Python (a candidate scaffold's checks, an analysis, Loop 2's selector) in a
bubblewrap sandbox.

The child sees the filesystem read-only except its own scratch directory (`cwd`), has no
network, its own pid namespace, an allow-listed environment and resource limits: wall time
(the whole box is killed), address space, file size and process count (see `_bwrap`).
Whatever the code does comes back as a `SandboxResult` value. Only a host problem raises:
`SandboxUnavailable` when bwrap cannot run here (unless `unsafe_no_sandbox`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

from automem_agent.meta._bwrap import (
    Confinement,
    confined_argv,
    process_limit,
    sandbox_env,
    sandbox_uid,
    warn_unsafe,
)

SECRET_PATTERN = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_CHILD = Path(__file__).with_name("_sandbox_child.py")

SandboxError = Literal["timeout", "memory", "exception", "crashed", "bad_result"]


class SandboxLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits for one sandboxed call: `memory_mb` caps the child's address space, `file_mb`
    any one file it writes, `max_processes` its processes and threads together.

    `unsafe_no_sandbox=True` runs the code without bubblewrap (same limits, no boundary), for
    hosts where bwrap cannot run; it is logged as a warning and marked on every result.
    """

    wall_s: float = 60.0
    memory_mb: int | None = 2048
    file_mb: int | None = 1024
    max_processes: int = 64
    unsafe_no_sandbox: bool = False

    def confinement(self) -> Confinement:
        """The rlimits and uid a child under these limits runs with."""
        uid = None if self.unsafe_no_sandbox else sandbox_uid()
        return Confinement(
            memory_bytes=self.memory_mb * 2**20 if self.memory_mb else None,
            file_bytes=self.file_mb * 2**20 if self.file_mb else None,
            nproc=process_limit(self.max_processes, uid),
            uid=uid,
        )


class SandboxResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a sandboxed call did: `value` (JSON) when `ok`, otherwise `error` and `message`.

    `message` is written for a model to read; `traceback` holds the tail of the child's traceback.
    """

    ok: bool
    value: Any = None
    error: SandboxError | None = None
    message: str = ""
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""
    returncode: int | None = None
    wall_s: float = 0.0
    sandboxed: bool = True  # False only under unsafe_no_sandbox

    def describe(self) -> str:
        """A short report for a model or a log: the error, then the traceback tail."""
        if self.ok:
            return "ok"
        parts = [f"{self.error}: {self.message}"]
        if self.traceback:
            parts.append(self.traceback[-1500:])
        elif self.stderr:
            parts.append(self.stderr[-1500:])
        return "\n".join(parts)


def scrubbed_env(
    base: Mapping[str, str] | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """`base` (default: this process's environment) without any variable whose name looks like a
    credential (contains KEY, TOKEN, SECRET or PASSWORD), plus `extra`."""
    env = {k: v for k, v in (os.environ if base is None else base).items()}
    env = {k: v for k, v in env.items() if not SECRET_PATTERN.search(k)}
    # Numeric libraries reserve address space per thread; one thread keeps RLIMIT_AS meaningful.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(name, "1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # keep __pycache__ out of archived scaffold copies
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", errors="replace")


def run_sandboxed(
    target: str,
    kwargs: Mapping[str, Any] | None = None,
    *,
    cwd: str | os.PathLike[str],
    limits: SandboxLimits = SandboxLimits(),
    extra_env: Mapping[str, str] | None = None,
    sys_path: Sequence[str | os.PathLike[str]] = (),
    python: str | None = None,
    read_only: Sequence[str | os.PathLike[str]] = (),
) -> SandboxResult:
    """Call `target` (`"package.module:function"` or `"/path/file.py:function"`) with `kwargs` in
    the sandbox and return its JSON-able result.

    The function may be async. Its return value travels back as JSON (non-JSON objects become
    their `repr`). `cwd` is the code's scratch directory: the only place it can write, also its
    `$HOME` and `$TMPDIR`. It can read the Python installation, this process's import path,
    `sys_path` (prepended to its import path), the target file and the `read_only` paths; no
    other file of the host. Raises `SandboxUnavailable` when bwrap cannot run here and
    `limits.unsafe_no_sandbox` is not set.
    """
    scratch = Path(cwd).resolve()
    with tempfile.TemporaryDirectory(prefix="automem-sandbox-") as tmp:
        tmp_path = Path(tmp)
        io_dir = tmp_path / "io"  # spec and result: the child's second writable place
        io_dir.mkdir()
        target_file = target.rpartition(":")[0]
        spec = {
            "target": target,
            "kwargs": dict(kwargs or {}),
            "result_path": str(io_dir / "result.json"),
            "sys_path": [str(p) for p in sys_path],
        }
        spec_path = io_dir / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        confinement = limits.confinement()
        argv = confined_argv(
            _CHILD,
            [str(spec_path)],
            confinement,
            scratch=scratch,
            cwd=scratch,
            read_only=[
                *read_only,
                *sys_path,
                *([target_file] if target_file.endswith(".py") else []),
            ],
            writable=[io_dir],
            python=python,
            unsafe_no_sandbox=limits.unsafe_no_sandbox,
        )
        env = (
            scrubbed_env(extra=extra_env)
            if limits.unsafe_no_sandbox
            else sandbox_env(scratch, extra_env, python)
        )
        out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        start = time.perf_counter()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                argv,
                cwd=scratch,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, so a timeout kills children too
            )
            timed_out = False
            try:
                returncode = proc.wait(timeout=limits.wall_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                _kill_group(proc.pid)
                returncode = proc.wait()
            finally:
                if proc.poll() is None:
                    _kill_group(proc.pid)
                    proc.wait()
            # A daemonised grandchild may outlive the child; the group kill reaches it too.
            _kill_group(proc.pid)
        wall = time.perf_counter() - start
        if confinement.uid is not None:
            _give_back(scratch)
        stdout, stderr = _tail(out_path), _tail(err_path)
        common: dict[str, Any] = dict(
            stdout=stdout,
            stderr=stderr,
            returncode=returncode,
            wall_s=wall,
            sandboxed=not limits.unsafe_no_sandbox,
        )
        if limits.unsafe_no_sandbox:
            common["stderr"] = warn_unsafe() + "\n" + stderr
        result_file = io_dir / "result.json"
        if timed_out:
            return SandboxResult(
                ok=False,
                error="timeout",
                message=f"the code did not finish within {limits.wall_s:g} s and was killed",
                **common,
            )
        if not result_file.exists():
            return _crash_result(returncode, stderr, limits, common)
        try:
            payload = json.loads(result_file.read_text(encoding="utf-8"))
        except ValueError as exc:
            return SandboxResult(ok=False, error="bad_result", message=str(exc), **common)
        if payload.get("ok"):
            return SandboxResult(ok=True, value=payload.get("value"), **common)
        return SandboxResult(
            ok=False,
            error=payload.get("error", "exception"),
            message=payload.get("message", ""),
            traceback=payload.get("traceback", ""),
            **common,
        )


def _crash_result(
    returncode: int | None, stderr: str, limits: SandboxLimits, common: dict[str, Any]
) -> SandboxResult:
    memory_hint = "MemoryError" in stderr or "Cannot allocate memory" in stderr
    if returncode is not None and returncode < 0:
        try:
            why = signal.Signals(-returncode).name
        except ValueError:
            why = f"signal {-returncode}"
    else:
        why = f"exit status {returncode}"
    if memory_hint or (returncode is not None and -returncode in (signal.SIGSEGV, signal.SIGABRT)):
        # Allocation failures under RLIMIT_AS often surface as an abort inside C code.
        return SandboxResult(
            ok=False,
            error="memory",
            message=f"the process died ({why}), most likely at the {limits.memory_mb} MiB memory limit",
            **common,
        )
    return SandboxResult(
        ok=False, error="crashed", message=f"the process died ({why}) without a result", **common
    )


def _give_back(root: Path) -> None:
    """Returns the scratch tree to this process's user (the child ran under a fresh uid)."""
    uid, gid = os.geteuid(), os.getegid()
    with contextlib.suppress(OSError):
        os.chown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            with contextlib.suppress(OSError):
                os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
