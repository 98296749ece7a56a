"""Scaffold hooks: optional named functions in `hooks.py`, called defensively.

Hooks are the scaffold's code, written by a meta-LLM, so by default they run in a hook worker:
a child process inside the bubblewrap sandbox (`automem_agent.meta._bwrap`: read-only
filesystem except a scratch directory of its own, no network, an allow-listed environment,
its own pid namespace, a process-count and an address-space limit), with the scaffold
directory as its working directory. Each call has a wall-time limit. A hook that
raises, returns the wrong type, hangs, eats memory or crashes its worker must not stop an
episode: the call falls back to the default behaviour and the problem is recorded as an event
in the step's trace record. A worker that failed is killed (with its process group) and started
again for the next call; after `max_restarts` failures the hooks are disabled for the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from automem_envs import Observation

from automem_agent import _hooks_worker as proto
from automem_agent._program import ProgramError, program_facts
from automem_agent.meta._bwrap import confined_argv, sandbox_env
from automem_agent.meta._sandbox import SandboxLimits, _kill_group, scrubbed_env

# hook name -> (positional arguments it is called with, what it returns)
HOOK_SIGNATURES: dict[str, tuple[tuple[str, ...], str]] = {
    "format_observation": (("observation", "env_id"), "the observation text the model sees"),
    "repair_action": (("action", "actions"), "the action text to send to the env"),
    "analyze": (("observation", "history"), "extra analysis text for the prompt, or ''"),
}
assert {k: v[0] for k, v in HOOK_SIGNATURES.items()} == proto.HOOK_PARAMS


class HookLoadError(Exception):
    """`hooks.py` cannot be used; the message names the file and the problem."""


class HookLimits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of the hook worker: `call_s` per call, `load_s` for importing `hooks.py`,
    `memory_mb` of address space, and how many worker failures before hooks are disabled.

    `unsafe_no_sandbox=True` starts the worker without bubblewrap (where it cannot run); the
    limits still apply, and a warning is logged."""

    call_s: float = 5.0
    load_s: float = 15.0
    memory_mb: int | None = 1024
    max_restarts: int = 3
    max_processes: int = 32
    unsafe_no_sandbox: bool = False


class Hooks:
    """The hooks a scaffold defines, called in this process (`functions`); each call is guarded
    and reports failures in `events`. With no functions every call keeps the default.
    `program` is the agent program class (in this process only), with the methods it defines
    and the extra ops it declares (`program_methods`, `program_ops`, also set by the worker)."""

    def __init__(
        self,
        functions: dict[str, Callable[..., Any]] | None = None,
        program: type | None = None,
    ):
        self.functions = dict(functions or {})
        self.program = program
        self.program_methods: list[str] = []
        self.program_ops: dict[str, str] = {}
        if program is not None:
            self.program_methods, self.program_ops = program_facts(program)

    @property
    def names(self) -> list[str]:
        return list(self.functions)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def format_observation(self, obs: Observation, env_id: str, events: list[str]) -> str:
        out = self._call("format_observation", (obs, env_id), events)
        return out if out is not None else obs.text

    def repair_action(self, action: str, actions: list[str], events: list[str]) -> str:
        out = self._call("repair_action", (action, list(actions)), events)
        return out if out is not None else action

    def analyze(self, obs: Observation, history: list[Observation], events: list[str]) -> str:
        out = self._call("analyze", (obs, list(history)), events)
        return out or ""

    def close(self) -> None:
        """Releases what the hooks hold (the worker process, for isolated hooks)."""

    def _call(self, name: str, args: tuple[Any, ...], events: list[str]) -> str | None:
        fn = self.functions.get(name)
        if fn is None:
            return None
        try:
            out = fn(*args)
        except Exception as exc:  # a hook bug must not end the episode
            events.append(f"hook {name} raised {type(exc).__name__}: {exc}")
            return None
        if not isinstance(out, str):
            events.append(f"hook {name} returned {type(out).__name__}, expected str")
            return None
        return out


_MEMORY_SIGNALS = (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS)


class _WorkerFailed(Exception):
    """The worker timed out, ran out of memory or died; the message is the event's tail."""


class _Worker:
    """One child process running `_hooks_worker.py`; not thread-safe (`IsolatedHooks` locks)."""

    def __init__(self, init: proto.Init, cwd: Path, limits: HookLimits):
        # The worker sets its own address-space limit once it is up (see _hooks_worker); the
        # box adds the process count, the file size and the uid.
        box = SandboxLimits(
            memory_mb=None,
            max_processes=limits.max_processes,
            unsafe_no_sandbox=limits.unsafe_no_sandbox,
        )
        confinement = box.confinement()
        self._scratch = tempfile.TemporaryDirectory(prefix="automem-hooks-")
        scratch = Path(self._scratch.name)
        argv = confined_argv(
            proto.__file__,
            [],
            confinement,
            scratch=scratch,
            cwd=cwd,
            read_only=[cwd],
            unsafe_no_sandbox=limits.unsafe_no_sandbox,
        )
        env = scrubbed_env() if limits.unsafe_no_sandbox else sandbox_env(scratch)
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, so a kill reaches its children
        )
        self._buffer = b""
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(proto.Reply)
        try:
            self._send(self._encoder.encode(init))
        except _WorkerFailed:
            self.kill()
            raise

    @property
    def pid(self) -> int:
        return self._proc.pid

    def alive(self) -> bool:
        return self._proc.poll() is None

    def request(self, body: bytes, timeout: float, what: str) -> proto.Reply:
        self._send(body)
        return self.receive(timeout, what)

    def kill(self) -> None:
        _kill_group(self._proc.pid)
        with contextlib.suppress(OSError):
            self._proc.kill()
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            self._proc.wait(timeout=5)
        for stream in (self._proc.stdin, self._proc.stdout):
            with contextlib.suppress(OSError):
                stream.close()  # type: ignore[union-attr]
        with contextlib.suppress(OSError):
            self._scratch.cleanup()

    def _send(self, body: bytes) -> None:
        try:
            self._proc.stdin.write(proto.pack(body))  # type: ignore[union-attr]
            self._proc.stdin.flush()  # type: ignore[union-attr]
        except (BrokenPipeError, ValueError, OSError):
            raise _WorkerFailed(self._death()) from None

    def receive(self, timeout: float, what: str) -> proto.Reply:
        deadline = time.monotonic() + timeout
        fd = self._proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            if len(self._buffer) >= 4:
                size = int.from_bytes(self._buffer[:4], "big")
                if len(self._buffer) >= 4 + size:
                    body, self._buffer = self._buffer[4 : 4 + size], self._buffer[4 + size :]
                    return self._decoder.decode(body)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise _WorkerFailed(f"{what} timed out after {timeout:g}s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise _WorkerFailed(self._death())
            self._buffer += chunk

    def _death(self) -> str:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=1)
        code = self._proc.returncode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                why = signal.Signals(-code)
                # Allocation failures under RLIMIT_AS often surface as an abort inside C code.
                hint = ", perhaps at its memory limit" if why in _MEMORY_SIGNALS else ""
                return f"crashed its worker ({why.name}{hint})"
        return f"crashed its worker (exit status {code})"


class _Session:
    """One hook worker with its failure bookkeeping: a failed worker is killed and the next
    call starts a fresh one; after `max_restarts` failures the session is disabled. Thread-safe.
    `generation` counts worker starts, so a caller can tell that worker state was lost."""

    def __init__(self, path: Path, init: proto.Init, limits: HookLimits, names: list[str]):
        self.path = path
        self.init = init
        self.limits = limits
        self.names = names
        self.lock = threading.Lock()
        self.worker: _Worker | None = None
        self.generation = 0
        self.failures = 0
        self.disabled = ""
        self.closed = False
        # The finalizer holds a one-slot box, not self, so collection can still run it; it also
        # runs at interpreter exit (weakref.finalize's atexit), so no worker outlives us.
        self.box: list[_Worker | None] = [None]
        self._finalizer = weakref.finalize(self, _kill_boxed, self.box)

    def start(self, check: bool = False) -> proto.Reply:
        try:
            worker = _Worker(self.init, self.path.parent, self.limits)
            self.worker = self.box[0] = worker
            reply = worker.receive(self.limits.load_s, "import")
        except _WorkerFailed as exc:
            self.stop()
            raise HookLoadError(f"{self.path.name}: {exc}") from None
        if reply.status == "memory":
            self.stop()
            raise HookLoadError(f"{self.path.name}: import exceeded its memory limit")
        if reply.status != "ok":
            self.stop()
            raise HookLoadError(reply.value)
        if not check and reply.names != self.names:
            self.stop()
            raise HookLoadError(f"{self.path.name}: the restarted worker found other hooks")
        self.generation += 1
        return reply

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.kill()
        self.worker = self.box[0] = None

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.stop()

    def request(self, code: int, args: Any, what: str, events: list[str]) -> proto.Reply | None:
        """One call; None when it failed (the event says why and the worker is gone)."""
        body = bytes([code]) + msgspec.msgpack.encode(args)
        with self.lock:
            if self.disabled:
                events.append(f"{what} skipped: {self.disabled}")
                return None
            if self.closed:
                events.append(f"{what} skipped: hooks were closed")
                return None
            try:
                if self.worker is None:
                    self.start()
                assert self.worker is not None
                reply = self.worker.request(body, self.limits.call_s, what)
            except _WorkerFailed as exc:
                text = str(exc) if str(exc).startswith(what) else f"{what} {exc}"
                self.fail(text, events)
                return None
            except HookLoadError as exc:
                self.fail(f"{what} could not restart its worker: {exc}", events)
                return None
            if reply.status == "memory":
                limit = f" ({self.limits.memory_mb} MiB)" if self.limits.memory_mb else ""
                self.fail(f"{what} exceeded its memory limit{limit}", events)
                return None
            return reply

    def fail(self, event: str, events: list[str]) -> None:
        self.stop()
        self.failures += 1
        if self.failures > self.limits.max_restarts:
            self.disabled = f"hooks disabled after {self.failures} worker failures"
            event += f"; {self.disabled}"
        events.append(event)


class IsolatedHooks(Hooks):
    """Hooks that run in a hook worker (see the module docstring). Thread-safe: calls made on
    this object from concurrent threads share one worker; `episode()` gives each episode a
    worker of its own. `close()` ends the worker; so does garbage collection or the end of
    this process."""

    def __init__(self, path: Path, source: bytes, limits: HookLimits, program_class: str = "Agent"):
        super().__init__()
        self.path = path
        self.limits = limits
        memory = limits.memory_mb * 2**20 if limits.memory_mb else None
        self._init = proto.Init(
            path=str(path), source=source, memory_bytes=memory, program_class=program_class
        )
        self._session = _Session(path, self._init, limits, [])
        reply = self._session.start(check=True)
        self._session.names = self._names = reply.names
        self.program_methods = list(reply.program)
        self.program_ops = dict(reply.ops)
        if not reply.names:
            self._session.stop()  # nothing stateless to call: no process to keep

    @property
    def names(self) -> list[str]:
        return list(self._names)

    @property
    def worker_pid(self) -> int | None:
        """The running worker's process id, or None when none runs."""
        w = self._session.worker
        return w.pid if w is not None and w.alive() else None

    def close(self) -> None:
        self._session.close()

    def session(self, keep_observations: int = 32) -> _Session:
        """A new worker session for one episode (started on its first call)."""
        init = msgspec.structs.replace(self._init, keep_observations=keep_observations)
        return _Session(self.path, init, self.limits, self._names)

    def _call(self, name: str, args: tuple[Any, ...], events: list[str]) -> str | None:
        if name not in self._names:
            return None
        reply = self._session.request(proto.HOOK_CODES[name], args, f"hook {name}", events)
        return _hook_value(name, reply, events)


def _hook_value(name: str, reply: proto.Reply | None, events: list[str]) -> str | None:
    if reply is None:
        return None
    if reply.status == "raised":
        events.append(f"hook {name} raised {reply.value}")
        return None
    if reply.status == "type":
        events.append(f"hook {name} returned {reply.value}, expected str")
        return None
    return reply.value


def _kill_boxed(box: list[_Worker | None]) -> None:
    worker = box[0]
    if worker is not None:
        worker.kill()
        box[0] = None


def load_hooks(
    path: Path,
    *,
    limits: HookLimits | None = None,
    isolated: bool = True,
    program_class: str = "Agent",
) -> Hooks:
    """Loads `path` and checks each known hook's arity; raises `HookLoadError` naming the file.

    Isolated (the default): the checks run in a hook worker under `limits`, which then serves
    the calls. `isolated=False` imports the file into this process, unlimited: only for code
    that already runs inside a sandbox (Loop 1's validation child, whose checks wrap the
    functions to see which hook raised).
    """
    source = path.read_bytes()
    if isolated:
        return IsolatedHooks(path, source, limits or HookLimits(), program_class)
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise HookLoadError(f"{path.name}:{exc.lineno}: syntax error: {exc.msg}") from None
    name = f"_automem_hooks_{hashlib.sha256(source).hexdigest()[:16]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling inside hooks need the module findable
    try:
        exec(code, module.__dict__)
    except Exception as exc:
        sys.modules.pop(name, None)
        raise HookLoadError(f"{path.name}: import failed: {type(exc).__name__}: {exc}") from None
    functions: dict[str, Callable[..., Any]] = {}
    for hook, (params, _returns) in HOOK_SIGNATURES.items():
        if not hasattr(module, hook):
            continue
        fn = getattr(module, hook)
        if not callable(fn):
            raise HookLoadError(f"{path.name}: {hook} must be a function, got {type(fn).__name__}")
        try:
            inspect.signature(fn).bind(*params)
        except TypeError:
            raise HookLoadError(f"{path.name}: {hook} must accept ({', '.join(params)})") from None
        except ValueError:
            pass  # builtins without a signature: trust them
        functions[hook] = fn
    program = getattr(module, program_class, None) if program_class else None
    if program is not None and not isinstance(program, type):
        raise HookLoadError(
            f"{path.name}: {program_class} must be a class, got {type(program).__name__}"
        )
    try:
        return Hooks(functions, program)
    except ProgramError as exc:
        raise HookLoadError(f"{path.name}: {program_class}: {exc}") from None
