"""Scaffold hooks: optional named functions in `hooks.py`, loaded once and called defensively.

Hooks are the scaffold's code. A hook that raises or returns the wrong type must not stop an
episode: the call falls back to the default behaviour and the problem is recorded as an event
in the step's trace record.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automem_envs._types import Observation

# hook name -> (positional arguments it is called with, what it returns)
HOOK_SIGNATURES: dict[str, tuple[tuple[str, ...], str]] = {
    "format_observation": (("observation", "env_id"), "the observation text the model sees"),
    "repair_action": (("action", "actions"), "the action text to send to the env"),
    "analyze": (("observation", "history"), "extra analysis text for the prompt, or ''"),
}


class HookLoadError(Exception):
    """`hooks.py` cannot be used; the message names the file and the problem."""


class Hooks:
    """The hooks a scaffold defines; each call is guarded and reports failures in `events`."""

    def __init__(self, functions: dict[str, Callable[..., Any]] | None = None):
        self.functions = dict(functions or {})

    def __contains__(self, name: str) -> bool:
        return name in self.functions

    def format_observation(self, obs: Observation, env_id: str, events: list[str]) -> str:
        out = self._call("format_observation", (obs, env_id), events)
        return out if out is not None else obs.text

    def repair_action(self, action: str, actions: list[str], events: list[str]) -> str:
        out = self._call("repair_action", (action, list(actions)), events)
        return out if out is not None else action

    def analyze(self, obs: Observation, history: list[Observation], events: list[str]) -> str:
        out = self._call("analyze", (obs, list(history)), events)
        return out or ""

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


def load_hooks(path: Path) -> Hooks:
    """Imports `path` as a private module and checks each known hook's arity."""
    source = path.read_bytes()
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
    return Hooks(functions)
