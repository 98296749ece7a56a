"""Hook worker: the child process that imports a scaffold's `hooks.py` and answers calls.

The parent (`automem_agent._hooks`) runs this file as a plain script (`python -I <file>`), so
it imports only the standard library, msgspec and `automem_envs` (whose import is light: no
game, numpy or torch): never torch or the agent package. The parent also imports it for the
shared protocol: frames are a 4-byte big-endian length and a msgpack body. The first frame in
is an `Init`; the worker answers with a `Reply` whose `names` are the hooks it found, and
`program`/`ops` what the agent program class offers (or `status="load"` and the problem). Each
later frame in is one call, a code byte then the msgpack arguments; each frame out is a
`Reply`. Codes below 16 are the stateless hooks; the `PROGRAM_*` codes drive the one agent
program instance this worker holds (one worker per episode, so episodes never share state).
`_program.py` (loaded by path) runs the program.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
import resource
import struct
import sys
import threading
import time
from typing import Any, Literal

import msgspec
from automem_envs import Observation

# hook name -> the positional parameters it is called with (checked at load time)
HOOK_PARAMS: dict[str, tuple[str, ...]] = {
    "format_observation": ("observation", "env_id"),
    "repair_action": ("action", "actions"),
    "analyze": ("observation", "history"),
}
HOOK_CODES: dict[str, int] = {name: i for i, name in enumerate(HOOK_PARAMS)}
ARG_TYPES: dict[str, Any] = {
    "format_observation": tuple[Observation, str],
    "repair_action": tuple[str, list[str]],
    "analyze": tuple[Observation, list[Observation]],
}
PROGRAM_OPEN, PROGRAM_BEGIN, PROGRAM_OBSERVE, PROGRAM_CHECK, PROGRAM_OP = range(16, 21)
_HEADER = struct.Struct(">I")

Status = Literal["ok", "raised", "type", "memory", "load"]


def _load_program_module() -> Any:
    """`_program.py` beside this file, by path: the worker must not import the agent package."""
    name = "automem_agent._program"
    if name in sys.modules:
        return sys.modules[name]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_program.py")
    spec = importlib.util.spec_from_file_location("_automem_program", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_automem_program"] = module
    spec.loader.exec_module(module)
    return module


class Init(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """What the worker loads: the hooks file's bytes as read by the parent at load time (a
    restarted worker runs the same code even if the file changed), and the address-space cap."""

    path: str
    source: bytes
    memory_bytes: int | None = None
    program_class: str = ""  # the agent program's class name ("" = none)
    keep_observations: int = 32


class Reply(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """`status="ok"`: `value` is the hook's string. Otherwise `value` says what went wrong."""

    status: Status
    value: str = ""
    names: list[str] = []
    program: list[str] = []  # the agent program's methods (load reply; [] = no program)
    ops: dict[str, str] = {}  # extra read-only ops the program declares: NAME -> help
    data: Any = None  # a program call's structured result


def pack(body: bytes) -> bytes:
    return _HEADER.pack(len(body)) + body


def _read_exact(stream: Any, n: int) -> bytes | None:
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _read_frame(stream: Any) -> bytes | None:
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    return _read_exact(stream, _HEADER.unpack(header)[0])


def _load(init: Init) -> tuple[dict[str, Any], Any, Reply]:
    functions, reply = _load_hooks(init)
    if reply.status != "ok" or not init.program_class:
        return functions, None, reply
    module = sys.modules["_automem_hooks"]
    cls = getattr(module, init.program_class, None)
    if cls is None:
        return functions, None, reply
    name = os.path.basename(init.path)
    if not isinstance(cls, type):
        problem = f"{init.program_class} must be a class, got {type(cls).__name__}"
        return {}, None, Reply(status="load", value=f"{name}: {problem}")
    try:
        methods, ops = _load_program_module().program_facts(cls)
    except Exception as exc:
        return {}, None, Reply(status="load", value=f"{name}: {init.program_class}: {exc}")
    return functions, cls, Reply(status="ok", names=reply.names, program=methods, ops=ops)


def _load_hooks(init: Init) -> tuple[dict[str, Any], Reply]:
    name = os.path.basename(init.path)
    try:
        code = compile(init.source, init.path, "exec")
    except SyntaxError as exc:
        return {}, Reply(status="load", value=f"{name}:{exc.lineno}: syntax error: {exc.msg}")
    module = type(sys)("_automem_hooks")
    module.__file__ = init.path
    sys.modules["_automem_hooks"] = module  # dataclasses and pickling need the module findable
    try:
        exec(code, module.__dict__)
    except MemoryError:
        return {}, Reply(status="load", value=f"{name}: import exceeded its memory limit")
    except BaseException as exc:  # SystemExit too: the hooks file must not end its worker
        return {}, Reply(status="load", value=f"{name}: import failed: {type(exc).__name__}: {exc}")
    functions: dict[str, Any] = {}
    for hook, params in HOOK_PARAMS.items():
        if not hasattr(module, hook):
            continue
        fn = getattr(module, hook)
        if not callable(fn):
            problem = f"{hook} must be a function, got {type(fn).__name__}"
            return {}, Reply(status="load", value=f"{name}: {problem}")
        try:
            inspect.signature(fn).bind(*params)
        except TypeError:
            return {}, Reply(
                status="load", value=f"{name}: {hook} must accept ({', '.join(params)})"
            )
        except ValueError:
            pass  # builtins without a signature: trust them
        functions[hook] = fn
    return functions, Reply(status="ok", names=list(functions))


def _call(fn: Any, args: tuple[Any, ...]) -> Reply:
    try:
        out = fn(*args)
    except MemoryError:
        raise
    except BaseException as exc:  # a hook bug is a value for the parent, not the worker's end
        return Reply(status="raised", value=f"{type(exc).__name__}: {exc}")
    if not isinstance(out, str):
        return Reply(status="type", value=type(out).__name__)
    return Reply(status="ok", value=out)


def _program_call(host: Any, code: int, args: Any, api: Any) -> Reply:
    try:
        if code == PROGRAM_BEGIN:
            data: Any = host.begin(args)
        elif code == PROGRAM_OBSERVE:
            host.refresh(args)
            data = host.observe()
        elif code == PROGRAM_CHECK:
            data = host.check_action(args)
        else:
            return Reply(status="ok", value=host.op(*args))
    except MemoryError:
        raise
    except api.ProgramError as exc:
        return Reply(status="type", value=str(exc))
    except BaseException as exc:  # a program bug is a value for the parent
        return Reply(status="raised", value=f"{type(exc).__name__}: {exc}")
    return Reply(status="ok", data=data)


def _watch_parent(parent: int) -> None:
    # A worker stuck in a hook never sees its stdin close; this thread ends it with the parent.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main() -> None:
    sys.dont_write_bytecode = True  # keep __pycache__ out of scaffold copies
    stdin = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a hook prints must not corrupt the reply stream
    encoder = msgspec.msgpack.Encoder()
    memory_reply = pack(encoder.encode(Reply(status="memory")))  # built before any limit
    decoders = {HOOK_CODES[n]: (n, msgspec.msgpack.Decoder(t)) for n, t in ARG_TYPES.items()}
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    frame = _read_frame(stdin)
    if frame is None:
        return
    init = msgspec.msgpack.decode(frame, type=Init)
    if init.memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (init.memory_bytes, init.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    sys.path.insert(0, os.getcwd())  # the scaffold directory: hooks may import siblings
    functions, program_cls, loaded = _load(init)
    out.write(pack(encoder.encode(loaded)))
    out.flush()
    if loaded.status != "ok":
        return
    # None without a program class; then no PROGRAM_* code has a decoder, so none reaches api.
    api: Any = _load_program_module() if program_cls is not None else None
    host = None
    if api is not None:
        decoders.update(
            {
                PROGRAM_OPEN: ("open", msgspec.msgpack.Decoder(api.EpisodeInfo)),
                PROGRAM_BEGIN: ("begin", msgspec.msgpack.Decoder(api.StepUpdate)),
                PROGRAM_OBSERVE: ("observe", msgspec.msgpack.Decoder(dict[str, str | None])),
                PROGRAM_CHECK: ("check", msgspec.msgpack.Decoder(str)),
                PROGRAM_OP: ("op", msgspec.msgpack.Decoder(tuple[str, str])),
            }
        )
    while (frame := _read_frame(stdin)) is not None:
        code = frame[0]
        name, decoder = decoders[code]
        try:
            args = decoder.decode(frame[1:])
            if code == PROGRAM_OPEN:
                try:
                    host = api.ProgramHost(program_cls, args, init.keep_observations)
                    reply = Reply(status="ok")
                except MemoryError:
                    raise
                except BaseException as exc:
                    reply = Reply(status="raised", value=f"{type(exc).__name__}: {exc}")
            elif code >= PROGRAM_BEGIN:
                if host is None:
                    reply = Reply(status="raised", value="the program was not constructed")
                else:
                    reply = _program_call(host, code, args, api)
            else:
                reply = _call(functions[name], args)
            body = pack(encoder.encode(reply))
        except MemoryError:
            out.write(memory_reply)
            out.flush()
            os._exit(3)  # the heap may hold the hook's hoard: start clean
        out.write(body)
        out.flush()


if __name__ == "__main__":
    main()
