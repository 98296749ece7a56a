"""One episode's view of a scaffold's code: the stateless hooks and the agent program instance.

Each episode gets its own `EpisodeHooks`. Isolated hooks (the default) get a hook worker of
their own per episode, so module globals and program state are never shared between concurrent
episodes; the worker keeps its per-call time and memory limits, is restarted after a failure
(the program is constructed again and told memory afresh, an event says its state was lost)
and disabled after too many. Every failure is an event in the step's record and the call
keeps its default behaviour.
"""

from __future__ import annotations

from typing import Any

import msgspec
from automem_envs import Observation

from automem_agent import _hooks_worker as proto
from automem_agent._hooks import Hooks, IsolatedHooks, _hook_value, _Session
from automem_agent._program import (
    EpisodeInfo,
    ProgramError,
    ProgramHost,
    ProgramOutput,
    StepUpdate,
    Verdict,
)


class EpisodeHooks:
    """The hooks and agent program of one episode. Every method records failures in `events`
    and returns the default (the unchanged text, no ops, no output, acceptance)."""

    def __init__(self, hooks: Hooks, episode: EpisodeInfo):
        self.episode = episode
        self.names = hooks.names
        self.program_methods = list(hooks.program_methods)
        self.ops = dict(hooks.program_ops)  # NAME -> help
        self._sent: dict[str, str] = {}  # memory as the program last saw it
        self._fresh = True  # the next update carries the whole memory

    @property
    def has_program(self) -> bool:
        return bool(self.program_methods) or self._has_class()

    def _has_class(self) -> bool:
        return False

    # --- stateless hooks ---------------------------------------------------------------------
    def format_observation(self, obs: Observation, env_id: str, events: list[str]) -> str:
        out = self._hook("format_observation", (obs, env_id), events)
        return out if out is not None else obs.text

    def repair_action(self, action: str, actions: list[str], events: list[str]) -> str:
        out = self._hook("repair_action", (action, list(actions)), events)
        return out if out is not None else action

    def analyze(self, obs: Observation, history: list[Observation], events: list[str]) -> str:
        return self._hook("analyze", (obs, list(history)), events) or ""

    # --- the agent program -------------------------------------------------------------------
    def begin(self, update: StepUpdate, memory: dict[str, str], events: list[str]) -> list[str]:
        """Starts a step for the program (memory: the files now); returns upkeep's op texts."""
        if not self.has_program or not self._prepare(events):
            return []
        changes, reset = self._changes(memory)
        update = msgspec.structs.replace(update, memory=changes, reset_memory=reset)
        out = self._program(proto.PROGRAM_BEGIN, update, "agent program upkeep", events)
        if out is None:
            return []
        try:
            return msgspec.convert(out, list[str])
        except msgspec.ValidationError as exc:
            events.append(f"agent program upkeep returned bad data: {exc}")
            return []

    def observe(self, memory: dict[str, str], events: list[str]) -> ProgramOutput | None:
        if "observe" not in self.program_methods or self._fresh:
            return None  # (fresh: the worker restarted since begin(); the next step resends)
        changes, _ = self._changes(memory)
        out = self._program(proto.PROGRAM_OBSERVE, changes, "agent program observe", events)
        return None if out is None else msgspec.convert(out, ProgramOutput)

    def check_action(self, action: str, events: list[str]) -> Verdict | None:
        if "check_action" not in self.program_methods:
            return None
        out = self._program(proto.PROGRAM_CHECK, action, "agent program check_action", events)
        return None if out is None else msgspec.convert(out, Verdict)

    def op(self, name: str, argument: str, events: list[str]) -> str | None:
        """The text result of the program's op `name`, or None when it failed (see events)."""
        reply = self._raw(proto.PROGRAM_OP, (name, argument), f"agent program op {name}", events)
        return None if reply is None else reply.value

    def close(self) -> None:
        """Ends this episode's worker, if one runs."""

    # --- transport (subclasses) ------------------------------------------------------------
    def _prepare(self, events: list[str]) -> bool:
        """Makes sure the program instance exists; False when it cannot."""
        return True

    def _hook(self, name: str, args: tuple[Any, ...], events: list[str]) -> str | None:
        raise NotImplementedError

    def _raw(self, code: int, args: Any, what: str, events: list[str]) -> proto.Reply | None:
        raise NotImplementedError

    def _program(self, code: int, args: Any, what: str, events: list[str]) -> Any:
        reply = self._raw(code, args, what, events)
        return None if reply is None else reply.data

    def _changes(self, memory: dict[str, str]) -> tuple[dict[str, str | None], bool]:
        reset = self._fresh
        if reset:
            self._sent = {}
            self._fresh = False
        changes: dict[str, str | None] = {
            p: t for p, t in memory.items() if self._sent.get(p) is not t and self._sent.get(p) != t
        }
        changes.update({p: None for p in self._sent if p not in memory})
        self._sent = dict(memory)
        return changes, reset


def _reply_problem(reply: proto.Reply, what: str, events: list[str]) -> proto.Reply | None:
    if reply.status == "raised":
        events.append(f"{what} raised {reply.value}")
        return None
    if reply.status == "type":
        events.append(f"{what}: {reply.value}")
        return None
    return reply


class LocalEpisodeHooks(EpisodeHooks):
    """Calls the hooks and the program in this process (code already inside a sandbox)."""

    def __init__(self, hooks: Hooks, episode: EpisodeInfo, keep_observations: int = 32):
        super().__init__(hooks, episode)
        self._hooks = hooks
        self._host: ProgramHost | None = None
        self._keep = keep_observations
        self._broken = ""

    def _has_class(self) -> bool:
        return self._hooks.program is not None

    def _hook(self, name: str, args: tuple[Any, ...], events: list[str]) -> str | None:
        return self._hooks._call(name, args, events)  # looked up per call (validation wraps)

    def _raw(self, code: int, args: Any, what: str, events: list[str]) -> proto.Reply | None:
        if self._hooks.program is None:
            return None
        if self._broken:
            events.append(f"{what} skipped: {self._broken}")
            return None
        if self._host is None:
            try:
                self._host = ProgramHost(self._hooks.program, self.episode, self._keep)
            except Exception as exc:
                self._broken = f"the agent program could not be constructed: {exc}"
                events.append(f"agent program raised {type(exc).__name__}: {exc}")
                return None
        host = self._host
        try:
            if code == proto.PROGRAM_BEGIN:
                return proto.Reply(status="ok", data=host.begin(args))
            if code == proto.PROGRAM_OBSERVE:
                host.refresh(args)
                return proto.Reply(status="ok", data=host.observe())
            if code == proto.PROGRAM_CHECK:
                return proto.Reply(status="ok", data=host.check_action(args))
            return proto.Reply(status="ok", value=host.op(*args))
        except ProgramError as exc:
            events.append(f"{what}: {exc}")
        except Exception as exc:  # a program bug must not end the episode
            events.append(f"{what} raised {type(exc).__name__}: {exc}")
        return None

    def _program(self, code: int, args: Any, what: str, events: list[str]) -> Any:
        reply = self._raw(code, args, what, events)
        if reply is None:
            return None
        return msgspec.to_builtins(reply.data)


class IsolatedEpisodeHooks(EpisodeHooks):
    """This episode's own hook worker (see the module docstring)."""

    def __init__(self, hooks: IsolatedHooks, episode: EpisodeInfo, keep_observations: int = 32):
        super().__init__(hooks, episode)
        self._session: _Session = hooks.session(keep_observations)
        self._opened = 0  # the worker generation the program was constructed in

    def _hook(self, name: str, args: tuple[Any, ...], events: list[str]) -> str | None:
        if name not in self.names:
            return None
        reply = self._session.request(proto.HOOK_CODES[name], args, f"hook {name}", events)
        return _hook_value(name, reply, events)

    def _raw(self, code: int, args: Any, what: str, events: list[str]) -> proto.Reply | None:
        if not self.program_methods:
            return None
        if not self._ensure_program(events):
            return None
        reply = self._session.request(code, args, what, events)
        if reply is None:
            self._fresh = True  # the worker is gone: the next step resends memory
        return None if reply is None else _reply_problem(reply, what, events)

    def _ensure_program(self, events: list[str]) -> bool:
        session = self._session
        if session.worker is not None and self._opened == session.generation:
            return True
        restarted = self._opened > 0
        reply = session.request(proto.PROGRAM_OPEN, self.episode, "agent program", events)
        if reply is None or _reply_problem(reply, "agent program", events) is None:
            return False
        self._opened = session.generation
        self._fresh = True  # a new instance has seen no memory yet
        if restarted:
            events.append("agent program restarted in a new worker: its state was lost")
        return True

    def _prepare(self, events: list[str]) -> bool:
        return bool(self.program_methods) and self._ensure_program(events)

    def close(self) -> None:
        self._session.close()


def episode_hooks(hooks: Hooks, episode: EpisodeInfo, keep_observations: int = 32) -> EpisodeHooks:
    """This episode's hooks: a worker of its own for isolated hooks, else in-process calls."""
    if isinstance(hooks, IsolatedHooks):
        return IsolatedEpisodeHooks(hooks, episode, keep_observations)
    return LocalEpisodeHooks(hooks, episode, keep_observations)
