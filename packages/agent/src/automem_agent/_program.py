"""The agent program: an episode-scoped class in a scaffold's `hooks.py`, one instance per episode.

This module is what runs beside the program. It imports only the standard library, msgspec and
`automem_envs` (light: no game, numpy or torch), because the hook worker loads it by path inside
the sandbox; the agent imports it too, for the messages it exchanges with the worker.

A program is a class (named by `[program] class_name` in `scaffold.toml`, default `Agent`),
constructed with an `EpisodeInfo`. Every method is optional:

    class Agent:
        OPS = {"MAP": "MAP: the map of what you have seen, e.g. <|MAP|><|END|>"}

        def __init__(self, episode): ...            # EpisodeInfo; or no argument
        def upkeep(self, step): ...                 # -> memory ops text, or a list of them
        def observe(self, step): ...                # -> {"variables": {...}, "notices": [...]}
        def check_action(self, action, step): ...   # -> None (accept), "message" (reject),
                                                    #    {"action": "other"} (replace)
        def op(self, name, argument, step): ...     # -> the text result of one of OPS

`step` is a `Step`: the step number, the observation (text and structured fields), the action
history, the previous step's turns and a read-only view of memory.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import types
from collections.abc import Iterator, Mapping
from typing import Any

import msgspec
from automem_envs import Observation

METHODS = ("upkeep", "observe", "check_action", "op")
# Prompt variables a program may set from `observe` (the structural ones stay the agent's).
PROGRAM_VARIABLES = frozenset(
    {"observation", "feedback", "analysis", "stuck_warning", "instructions", "actions", "notices"}
)


class EpisodeInfo(msgspec.Struct, frozen=True, kw_only=True):
    """Facts about the episode, given to the program's constructor."""

    env_id: str
    seed: int
    max_steps: int
    actions: list[str]  # the env's action vocabulary
    default_action: str
    instructions: str = ""


class ActionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One step already played: what the agent proposed, what ran, and what it earned."""

    step: int
    action: str  # the agent's action (after repair and the program's check)
    executed: str  # what the env ran (its default action when `action` was invalid)
    valid: bool
    reward: float = 0.0
    progression: float = 0.0
    message: str = ""  # the game's message after this action


class Turn(msgspec.Struct, frozen=True, kw_only=True):
    """One model call of the previous step: its phase, the verbatim reply, the op results."""

    phase: str  # "log" or "plan"
    role: str  # "memory" or "action"
    round: int
    response: str
    results: list[str] = []  # "[op path] ok|ERROR\ntext" per executed op
    error: str | None = None


class StepUpdate(msgspec.Struct, frozen=True, kw_only=True, array_like=True):
    """Agent -> worker at the start of a step: what happened since the last update."""

    step: int
    observation: Observation
    last: ActionRecord | None = None
    turns: list[Turn] = []
    memory: dict[str, str | None] = {}  # files changed since the last update (None: deleted)
    reset_memory: bool = False  # `memory` is the whole directory (a fresh or restarted worker)


class ProgramOutput(msgspec.Struct, frozen=True, kw_only=True):
    """What `observe` changed: prompt variables (see PROGRAM_VARIABLES) and notices."""

    variables: dict[str, str] = {}
    notices: list[str] = []


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """What `check_action` decided: accept (`ok`), replace (`action`) or reject (`message`)."""

    ok: bool = True
    action: str | None = None
    message: str = ""


class ProgramError(Exception):
    """The program returned something the agent cannot use; the message says what."""


class MemoryView(Mapping[str, str]):
    """Read-only view of the episode's memory (path -> text) as of the start of this step,
    after upkeep. A mapping, plus `read`, `grep` and `index`."""

    def __init__(self, files: dict[str, str]):
        self._files = files

    def __getitem__(self, path: str) -> str:
        return self._files[path.strip().lstrip("/")]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._files))

    def __len__(self) -> int:
        return len(self._files)

    def read(self, path: str) -> str | None:
        """The file's text, or None when there is no such file."""
        return self._files.get(path.strip().lstrip("/"))

    def grep(self, pattern: str, path: str = "*") -> list[tuple[str, int, str]]:
        """(path, 1-based line number, line) for each line matching the regex `pattern` in the
        files whose path matches the glob `path`."""
        rx = re.compile(pattern)
        return [
            (p, n, line)
            for p in sorted(self._files)
            if fnmatch.fnmatch(p, path)
            for n, line in enumerate(self._files[p].splitlines(), 1)
            if rx.search(line)
        ]

    def index(self) -> dict[str, int]:
        """Path -> size in characters."""
        return {p: len(t) for p, t in sorted(self._files.items())}

    @property
    def chars(self) -> int:
        return sum(len(t) for t in self._files.values())


class Step:
    """What the program sees at one step. `history` holds every earlier step (oldest first),
    `observations` the recent observations (oldest first, this one last)."""

    def __init__(self, host: ProgramHost, update: StepUpdate):
        self.number: int = update.step
        self.observation: Observation = update.observation
        self.text: str = update.observation.text
        self.episode: EpisodeInfo = host.episode
        self.history: tuple[ActionRecord, ...] = tuple(host.history)
        self.last: ActionRecord | None = update.last
        self.turns: tuple[Turn, ...] = tuple(update.turns)
        self.observations: tuple[Observation, ...] = tuple(host.observations)
        self.memory = MemoryView(types.MappingProxyType(host.memory))  # type: ignore[arg-type]

    @property
    def step(self) -> int:
        """The 0-based step number (same as `number`)."""
        return self.number


class ProgramHost:
    """Runs one program instance for one episode and turns its return values into messages.
    A method that raises propagates (the caller reports it); a wrong return type raises
    `ProgramError`."""

    def __init__(self, cls: type, episode: EpisodeInfo, keep_observations: int = 32):
        self.episode = episode
        self.history: list[ActionRecord] = []
        self.observations: list[Observation] = []
        self.memory: dict[str, str] = {}
        self.keep = keep_observations
        self._step: Step | None = None
        try:
            takes_arg = len(inspect.signature(cls).parameters) >= 1
        except (TypeError, ValueError):
            takes_arg = True
        self.program = cls(episode) if takes_arg else cls()

    def begin(self, update: StepUpdate) -> list[str]:
        """Records the update and runs `upkeep`; returns its memory ops (texts)."""
        if update.reset_memory:
            self.memory.clear()
        for path, text in update.memory.items():
            if text is None:
                self.memory.pop(path, None)
            else:
                self.memory[path] = text
        if update.last is not None:
            self.history.append(update.last)
        self.observations.append(update.observation)
        del self.observations[: -self.keep]
        self._step = Step(self, update)
        fn = getattr(self.program, "upkeep", None)
        if fn is None:
            return []
        out = fn(self._step)
        if out is None:
            return []
        if isinstance(out, str):
            return [out]
        if isinstance(out, list | tuple) and all(isinstance(o, str) for o in out):
            return list(out)
        raise ProgramError(f"upkeep returned {type(out).__name__}, expected str or list of str")

    def refresh(self, memory: dict[str, str | None]) -> None:
        """Applies memory changes made after `begin` (upkeep's own ops) to the view."""
        for path, text in memory.items():
            if text is None:
                self.memory.pop(path, None)
            else:
                self.memory[path] = text

    def observe(self) -> ProgramOutput:
        fn = getattr(self.program, "observe", None)
        if fn is None:
            return ProgramOutput()
        out = fn(self._current())
        if out is None:
            return ProgramOutput()
        if isinstance(out, str):
            return ProgramOutput(notices=[out] if out else [])
        if not isinstance(out, dict):
            raise ProgramError(f"observe returned {type(out).__name__}, expected dict or str")
        unknown = set(out) - {"variables", "notices"}
        if unknown:
            raise ProgramError(
                f"observe returned unknown keys {sorted(unknown)}; use 'variables' and 'notices'"
            )
        variables = out.get("variables") or {}
        bad = sorted(set(variables) - PROGRAM_VARIABLES)
        if bad:
            raise ProgramError(f"observe may set only {sorted(PROGRAM_VARIABLES)}, not {bad}")
        notices = out.get("notices") or []
        if isinstance(notices, str):
            notices = [notices]
        return ProgramOutput(
            variables={k: str(v) for k, v in variables.items()},
            notices=[str(n) for n in notices if n],
        )

    def check_action(self, action: str) -> Verdict:
        fn = getattr(self.program, "check_action", None)
        if fn is None:
            return Verdict()
        out = fn(action, self._current())
        if out is None or out is True:
            return Verdict()
        if out is False:
            return Verdict(ok=False, message=f"the action {action!r} was rejected")
        if isinstance(out, str):
            return Verdict(ok=False, message=out)
        if isinstance(out, dict) and set(out) <= {"action", "reject"} and out:
            if "reject" in out:
                return Verdict(ok=False, message=str(out["reject"]))
            return Verdict(ok=True, action=str(out["action"]))
        raise ProgramError(
            f"check_action returned {out!r:.80}; expected None, a rejection message or "
            "{'action': replacement}"
        )

    def op(self, name: str, argument: str) -> str:
        fn = getattr(self.program, "op", None)
        if fn is None:
            raise ProgramError(f"the program declares {name} but has no op() method")
        out = fn(name, argument, self._current())
        if not isinstance(out, str):
            raise ProgramError(f"op {name} returned {type(out).__name__}, expected str")
        return out

    def _current(self) -> Step:
        if self._step is None:
            raise ProgramError("the program was called before its first step")
        return self._step


def program_facts(cls: Any) -> tuple[list[str], dict[str, str]]:
    """The methods a program class defines and the extra ops it declares (`OPS`, name -> help).
    Raises `ProgramError` when `OPS` is malformed."""
    methods = [m for m in METHODS if callable(getattr(cls, m, None))]
    ops = getattr(cls, "OPS", {}) or {}
    if not isinstance(ops, dict) or not all(
        isinstance(k, str) and re.fullmatch(r"[A-Za-z][A-Za-z_]*", k) and isinstance(v, str)
        for k, v in ops.items()
    ):
        raise ProgramError("OPS must map op names (letters and _) to help strings")
    if ops and "op" not in methods:
        raise ProgramError("the program declares OPS but has no op(name, argument, step) method")
    return methods, {k.upper(): v for k, v in ops.items()}
