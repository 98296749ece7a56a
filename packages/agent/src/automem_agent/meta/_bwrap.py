"""The boundary around LLM-written code: a bubblewrap (`bwrap`) command line and the confinement
its child applies before running anything.

Inside the box the filesystem holds only what the code needs to run, read-only: the system
directories, the Python installation and the import path of this process, plus any extra
read-only paths the caller names. The one writable place is the code's own scratch directory
(also its `$HOME` and `$TMPDIR`). There is no network, the process sees its own pid namespace,
the environment is an allow-list, and the box dies with its parent. Before the code starts,
`_confine.py` applies the resource limits and, when this process is root, drops to an unused
uid so that the process-count limit binds and no file is writable by ownership.

Where bwrap cannot run, `require_bwrap` raises `SandboxUnavailable`, naming the package to
install; `unsafe_no_sandbox=True` runs the same child without the box, with a logged warning.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import msgspec

BWRAP_ENV = "AUTOMEM_BWRAP"  # path of the bwrap executable (default: `bwrap` on PATH)
INSTALL_HINT = "apt-get install bubblewrap"
UNSAFE_FLAG = "--unsafe-no-sandbox"
CONFINE = Path(__file__).with_name("_confine.py")

log = logging.getLogger("automem.sandbox")

# System paths the child may read. Missing ones are skipped; symlinks (merged /usr) stay links.
_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/alternatives",
)
# Variables the child inherits when set here (nothing credential-like; the rest is dropped).
_PASSED_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM")
_UID_BASE = 1_500_000_000  # far above any real account, so the sandbox owns nothing on the host
_uids = itertools.count()


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox here, so LLM-written code must not run.
    The message names the package to install and the unsafe flag."""


class Confinement(msgspec.Struct, frozen=True, kw_only=True):
    """What `_confine.py` applies to itself before running the code: rlimits (None = leave the
    inherited one) and the uid to drop to (None = stay). `nproc` counts processes and threads."""

    memory_bytes: int | None = None
    file_bytes: int | None = None
    nproc: int | None = None
    uid: int | None = None


def bwrap_path() -> str | None:
    """The bwrap executable that would be used, or None when there is none."""
    configured = os.environ.get(BWRAP_ENV)
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return shutil.which("bwrap")


@functools.cache
def _probe(path: str) -> str:
    """'' when `path` can build the box we use, else why not (cached per executable)."""
    argv = [path, *_namespace_args(), "--ro-bind", "/", "/", "--", "true"]
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{path} did not run: {exc}"
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[-500:]
        return f"{path} cannot create a sandbox here (exit {proc.returncode}): {err}"
    return ""


def sandbox_problem() -> str:
    """'' when LLM-written code can run in bubblewrap here, else a message saying how to fix it."""
    path = bwrap_path()
    if path is None:
        where = os.environ.get(BWRAP_ENV) or "bwrap on PATH"
        return (
            f"bubblewrap is not installed ({where} not found): LLM-written code runs only in "
            f"its sandbox. Install it ({INSTALL_HINT}) or pass {UNSAFE_FLAG} to run it unconfined."
        )
    why = _probe(path)
    if why:
        return (
            f"{why}. LLM-written code runs only in bubblewrap; fix the host (user namespaces, "
            f"{INSTALL_HINT}) or pass {UNSAFE_FLAG} to run it unconfined."
        )
    return ""


def require_bwrap() -> str:
    """The bwrap path; raises `SandboxUnavailable` when bwrap cannot run here."""
    problem = sandbox_problem()
    if problem:
        raise SandboxUnavailable(problem)
    path = bwrap_path()
    assert path is not None
    return path


@functools.cache
def warn_unsafe() -> str:
    """Logs (once per process) that LLM-written code runs without a sandbox; returns the text."""
    text = (
        f"{UNSAFE_FLAG}: LLM-written code runs WITHOUT the bubblewrap sandbox; it can read and "
        "write anything this user can and open network connections"
    )
    log.warning(text)
    return text


def sandbox_env(
    home: Path, extra: Mapping[str, str] | None = None, python: str | None = None
) -> dict[str, str]:
    """The child's whole environment: an allow-list, with `$HOME` and `$TMPDIR` in scratch."""
    bin_dir = str(Path(python or sys.executable).parent)
    env = {k: os.environ[k] for k in _PASSED_ENV if k in os.environ}
    env.update(
        PATH=f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        HOME=str(home),
        TMPDIR=str(home),
        PYTHONDONTWRITEBYTECODE="1",  # the code's directories are read-only anyway
        PYTHONUNBUFFERED="1",
        PYTHONHASHSEED="0",
        # Numeric libraries reserve address space per thread; one thread keeps RLIMIT_AS
        # meaningful and the process count low.
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    if sys.prefix != sys.base_prefix:
        env["VIRTUAL_ENV"] = sys.prefix
    env.update(extra or {})
    return env


def sandbox_uid() -> int | None:
    """A fresh unused uid to drop to when running as root (None otherwise)."""
    if os.geteuid() != 0:
        return None
    return _UID_BASE + (os.getpid() % 10_000) * 10_000 + next(_uids) % 10_000


def process_limit(extra: int, uid: int | None) -> int:
    """RLIMIT_NPROC for a child allowed `extra` processes/threads. It counts every process of
    the child's uid, so a fresh uid gets exactly `extra`; a shared uid gets its current count
    on top (otherwise a busy user's own processes would use it up)."""
    if uid is not None:
        return extra
    mine, me = 0, os.getuid()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == me:
                    mine += len(os.listdir(f"/proc/{entry.name}/task"))
            except OSError:
                continue
    return mine + extra


def confined_argv(
    script: str | os.PathLike[str],
    args: Sequence[str],
    confinement: Confinement,
    *,
    scratch: Path,
    cwd: Path,
    read_only: Sequence[str | os.PathLike[str]] = (),
    writable: Sequence[str | os.PathLike[str]] = (),
    python: str | None = None,
    unsafe_no_sandbox: bool = False,
) -> list[str]:
    """The argv that runs `python -I _confine.py CONFINEMENT script *args` in the box.

    `scratch` (and any `writable` path) is bind-mounted read-write at its own path, and `cwd`
    is where the code starts. With `unsafe_no_sandbox` the same child runs without bwrap.
    """
    py = python or sys.executable
    inner = [py, "-I", str(CONFINE), msgspec.json.encode(confinement).decode(), str(script)]
    inner += list(args)
    if unsafe_no_sandbox:
        warn_unsafe()
        return inner
    bwrap = require_bwrap()
    if confinement.uid is not None:
        for path in (scratch, *writable):
            _chown_tree(Path(path), confinement.uid)
    argv = [bwrap, *_namespace_args(), "--tmpfs", "/"]
    for path in _SYSTEM_PATHS:
        if os.path.islink(path):
            argv += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            argv += ["--ro-bind", path, path]
    argv += ["--dev", "/dev", "--proc", "/proc"]
    for path in _ETC_FILES:
        argv += ["--ro-bind-try", path, path]
    rw = [str(Path(p).resolve()) for p in (scratch, *writable)]
    ro = _python_paths(py, script, read_only)
    # A read-only path inside a writable one is bound after it, so that it stays read-only.
    inside = [p for p in ro if any(_within(p, w) for w in rw)]
    mounts: list[str] = []
    for flag, path in [
        *(("--ro-bind-try", p) for p in ro if p not in inside),
        *(("--bind", p) for p in rw),
        *(("--ro-bind-try", p) for p in inside),
    ]:
        argv += _parents(path, mounts)
        argv += [flag, path, path]
        mounts.append(path)
    argv += ["--chdir", str(Path(cwd).resolve()), "--remount-ro", "/", "--", *inner]
    return argv


def _namespace_args() -> list[str]:
    return [
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]


def _python_paths(
    python: str, script: str | os.PathLike[str], read_only: Sequence[str | os.PathLike[str]]
) -> list[str]:
    """What the child reads: the interpreter's installation, this process's import path (the
    venv and the workspace sources), the script, and the caller's extra read-only paths.
    Nested and duplicate entries are dropped; '' and relative entries are never bound."""
    candidates = [sys.base_prefix, sys.prefix, str(Path(python).resolve().parent.parent)]
    candidates += [p for p in sys.path if p and os.path.isabs(p)]
    candidates += [str(script), *map(str, read_only)]
    real = sorted({str(Path(p).resolve()) for p in candidates if os.path.exists(p)})
    kept: list[str] = []
    for path in real:
        if path == "/" or any(_within(path, k) for k in kept):
            continue
        kept.append(path)
    return kept


def _parents(path: str, mounts: list[str]) -> list[str]:
    """`--dir` arguments for the parents of `path` that no mount provides. bwrap would create
    them mode 0700, which a dropped uid could not traverse."""
    out: list[str] = []
    for parent in reversed(Path(path).parents):
        p = str(parent)
        if p == "/" or any(_within(p, m) for m in mounts):
            continue
        out += ["--perms", "0755", "--dir", p]
    return out


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _chown_tree(root: Path, uid: int) -> None:
    os.chown(root, uid, uid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, uid, follow_symlinks=False)


def describe_confinement(c: Confinement) -> str:
    """One line for logs: the limits a child runs under."""
    return json.dumps(msgspec.to_builtins(c))
