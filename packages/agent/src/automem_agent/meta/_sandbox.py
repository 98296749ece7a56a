"""Run untrusted Python (a candidate scaffold's hooks, a training script) in a child process.

The child gets a wall-time limit (the whole process group is killed), an address-space limit
(`RLIMIT_AS`), an environment with secrets removed, and a chosen working directory. Whatever
happens comes back as a `SandboxResult` value; only a broken host raises.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec

SECRET_PATTERN = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_CHILD = Path(__file__).with_name("_sandbox_child.py")

SandboxError = Literal["timeout", "memory", "exception", "crashed", "bad_result"]


class SandboxLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits for one sandboxed call. `memory_mb` caps the child's address space."""

    wall_s: float = 60.0
    memory_mb: int | None = 2048


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
) -> SandboxResult:
    """Call `target` (`"package.module:function"` or `"/path/file.py:function"`) with `kwargs` in
    a child process and return its JSON-able result.

    The function may be async. Its return value travels back as JSON (non-JSON objects become
    their `repr`). The child runs in `cwd` with `sys_path` prepended to its import path.
    """
    with tempfile.TemporaryDirectory(prefix="automem-sandbox-") as tmp:
        tmp_path = Path(tmp)
        spec = {
            "target": target,
            "kwargs": dict(kwargs or {}),
            "result_path": str(tmp_path / "result.json"),
            "memory_bytes": limits.memory_mb * 2**20 if limits.memory_mb else None,
            "sys_path": [str(p) for p in sys_path],
        }
        spec_path = tmp_path / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        out_path, err_path = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
        start = time.perf_counter()
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = subprocess.Popen(
                [python or sys.executable, str(_CHILD), str(spec_path)],
                cwd=os.fspath(cwd),
                env=scrubbed_env(extra=extra_env),
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
        stdout, stderr = _tail(out_path), _tail(err_path)
        common = dict(stdout=stdout, stderr=stderr, returncode=returncode, wall_s=wall)
        if timed_out:
            return SandboxResult(
                ok=False,
                error="timeout",
                message=f"the code did not finish within {limits.wall_s:g} s and was killed",
                **common,
            )
        result_file = tmp_path / "result.json"
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


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
