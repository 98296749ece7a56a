"""Protocols as data: which episodes a run plays, how the agent samples, where it starts.

A protocol is a TOML file (`protocols/*.toml` ships `paper`, `balrog` and `demo`). It fixes the
suite, the seeds and step limits per game family, the no-progress timeout, the observation
format, the action set, the agent's sampling and its start scaffold. The `[evolve]` and
`[train]` tables are settings of the two loops, passed through to their own typed configs.
Only `demo` has small caps; `resolve_protocol` never falls back to it for a real model.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import msgspec
from automem_envs import ACTION_SETS, OBSERVATION_FORMATS, EpisodeSpec, env_family, suite

FAMILIES = ("crafter", "minihack", "nethack")
# Model specs (the part before ":") that run offline on a CPU; a run on any other model is real.
OFFLINE_MODELS = frozenset({"smollm2", "tiny", "scripted", "replay", "llamacpp"})


class ProtocolError(ValueError):
    """A protocol that cannot be loaded or does not fit the run asked for."""


class AgentSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The start scaffold and the agent's sampling. `max_tokens`/`max_rounds` set (not cap)
    every phase of the start scaffold; None keeps the scaffold's own. `llm` is the default agent
    model (only the offline protocol names one)."""

    scaffold: str = "v0"
    temperature: float = 0.0
    max_tokens: int | None = None
    max_rounds: int | None = None
    llm: str | None = None


class Protocol(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One protocol file, typed. Per-family tables are keyed by `crafter`/`minihack`/`nethack`."""

    name: str
    scale: Literal["full", "demo"]
    description: str
    suite: Literal["automem", "balrog"]
    envs: list[str]
    observation_format: str
    action_set: str
    seeds: dict[str, int]  # episodes per env id: the suite's first N seeds
    max_steps: dict[str, int]  # raw game steps per episode
    no_progress_steps: dict[str, int] = {}  # absent family: no timeout
    agent: AgentSettings = AgentSettings()
    evolve: dict[str, Any] = {}  # Loop 1 settings (EvolveConfig field names)
    train: dict[str, Any] = {}  # Loop 2 settings (Loop2Config field names)

    def __post_init__(self) -> None:
        if self.observation_format not in OBSERVATION_FORMATS:
            raise ProtocolError(
                f"protocol {self.name!r}: observation_format must be one of "
                f"{list(OBSERVATION_FORMATS)}, got {self.observation_format!r}"
            )
        if self.action_set not in ACTION_SETS:
            raise ProtocolError(
                f"protocol {self.name!r}: action_set must be one of {list(ACTION_SETS)}, "
                f"got {self.action_set!r}"
            )
        for table in ("seeds", "max_steps", "no_progress_steps"):
            unknown = set(getattr(self, table)) - set(FAMILIES)
            if unknown:
                raise ProtocolError(
                    f"protocol {self.name!r}: [{table}] has unknown families {sorted(unknown)}; "
                    f"use {list(FAMILIES)}"
                )
        for table in ("seeds", "max_steps"):
            missing = set(FAMILIES) - set(getattr(self, table))
            if missing:
                raise ProtocolError(f"protocol {self.name!r}: [{table}] lacks {sorted(missing)}")

    @property
    def is_demo(self) -> bool:
        return self.scale == "demo"

    def seeds_for(self, env_id: str) -> int:
        return self.seeds[env_family(env_id)]

    def max_steps_for(self, env_id: str) -> int:
        return self.max_steps[env_family(env_id)]

    def no_progress_for(self, env_id: str) -> int | None:
        return self.no_progress_steps.get(env_family(env_id))

    def seed_list(self, env_id: str, count: int | None = None, *, skip: int = 0) -> list[int]:
        """Seeds `skip .. skip+count` of this protocol's suite for `env_id` (count: the
        protocol's own). The suite's seeds continue by one past its last listed seed."""
        count = self.seeds_for(env_id) if count is None else count
        listed = suite_seeds(self.suite, env_id)
        seeds = listed[skip : skip + count]
        nxt = listed[-1] + 1 + max(0, skip - len(listed)) if listed else skip + len(seeds)
        while len(seeds) < count:
            seeds.append(nxt)
            nxt += 1
        return seeds

    def episode(self, env_id: str, seed: int, *, max_steps: int | None = None) -> EpisodeSpec:
        """The episode `env_id`/`seed` under this protocol (`max_steps` overrides its limit)."""
        return EpisodeSpec(
            env_id=env_id,
            seed=seed,
            max_steps=self.max_steps_for(env_id) if max_steps is None else max_steps,
            no_progress_steps=self.no_progress_for(env_id),
            observation_format=self.observation_format,  # type: ignore[arg-type]
            action_set=self.action_set,  # type: ignore[arg-type]
        )

    def summary(self, envs: list[str] | None = None) -> str:
        """One line naming the protocol, its scale and the episodes of `envs` (default: its
        own), for a run's first output line and the top of its report."""
        limits = ", ".join(
            f"{env} {self.seeds_for(env)} seeds x {self.max_steps_for(env)} steps"
            for env in (envs or self.envs)
        )
        label = "DEMO scale (small caps)" if self.is_demo else "full scale"
        return f"protocol {self.name} [{label}]: {limits} ({self.suite} seeds)"


def suite_seeds(suite_name: str, env_id: str) -> list[int]:
    """The seeds a built-in suite lists for `env_id`, in order (the family's, for a MiniHack
    task outside BALROG's eight)."""
    family = env_family(env_id)
    episodes = suite(suite_name, skip_unavailable=False).episodes
    exact = [e.seed for e in episodes if e.env_id == env_id]
    return sorted(exact or {e.seed for e in episodes if env_family(e.env_id) == family})


def builtin_protocols() -> list[str]:
    """The names of the protocols shipped with the package."""
    root = resources.files("automem_agent") / "protocols"
    return sorted(p.name[: -len(".toml")] for p in root.iterdir() if p.name.endswith(".toml"))


def load_protocol(name_or_path: str | Path) -> Protocol:
    """A built-in protocol by name, or a protocol TOML file by path. Raises `ProtocolError`
    with the known names for anything else."""
    text = str(name_or_path)
    path = Path(text)
    if text in builtin_protocols():
        data = (resources.files("automem_agent") / "protocols" / f"{text}.toml").read_text(
            encoding="utf-8"
        )
        where = f"built-in protocol {text!r}"
    elif path.suffix == ".toml" and path.is_file():
        data = path.read_text(encoding="utf-8")
        where = str(path)
    else:
        raise ProtocolError(
            f"unknown protocol {text!r}: use one of {builtin_protocols()} or a path to a .toml file"
        )
    try:
        return msgspec.convert(tomllib.loads(data), Protocol)
    except (tomllib.TOMLDecodeError, msgspec.ValidationError) as exc:
        raise ProtocolError(f"{where}: {exc}") from None


def is_offline_model(spec: str | None) -> bool:
    """True for a model spec that runs offline on a CPU (SmolLM2, tiny, scripted, replay)."""
    return spec is None or spec.split(":", 1)[0] in OFFLINE_MODELS


def resolve_protocol(name: str | None, *models: str | None) -> Protocol:
    """The protocol a run uses: `name` if given; otherwise `demo` when every model is an
    offline one (or unset), and `paper` as soon as one is real, never `demo` silently."""
    if name is None:
        name = "demo" if all(is_offline_model(m) for m in models) else "paper"
    return load_protocol(name)


def parse_per_family(text: str, what: str = "value") -> int | dict[str, int]:
    """`"2000"` -> 2000 (every family); `"crafter=100,nethack=5000"` -> a per-family dict."""
    text = text.strip()
    try:
        if "=" not in text:
            return int(text)
        out: dict[str, int] = {}
        for part in text.split(","):
            family, _, value = part.partition("=")
            family = family.strip()
            if family not in FAMILIES:
                raise ValueError(f"unknown family {family!r}; use {list(FAMILIES)}")
            out[family] = int(value)
        return out
    except ValueError as exc:
        raise ProtocolError(
            f"bad {what} {text!r}: give a number or family=number pairs "
            f"(e.g. crafter=100,nethack=5000): {exc}"
        ) from None


def with_overrides(protocol: Protocol, **overrides: Any) -> tuple[Protocol, list[str]]:
    """`protocol` with command-line overrides applied (None = keep), and a line per field that
    changed, e.g. `max_steps crafter 2000 -> 100`, so a shrunk real run says so."""
    changes: list[str] = []
    fields: dict[str, Any] = {}
    for name, value in overrides.items():
        if value is None:
            continue
        current: Any = getattr(protocol, name, None)
        if name in ("seeds", "max_steps", "no_progress_steps"):
            table = dict(current)
            given = value if isinstance(value, dict) else {f: value for f in FAMILIES}
            for family, number in given.items():
                if table.get(family) != number:
                    changes.append(f"{name} {family} {table.get(family)} -> {number}")
                table[family] = number
            fields[name] = table
        elif name in ("temperature", "max_tokens", "max_rounds", "scaffold"):
            agent = fields.get("agent", protocol.agent)
            if getattr(agent, name) != value:
                changes.append(f"agent {name} {getattr(agent, name)} -> {value}")
            fields["agent"] = msgspec.structs.replace(agent, **{name: value})
        else:
            if current != value:
                changes.append(f"{name} {current} -> {value}")
            fields[name] = value
    return msgspec.structs.replace(protocol, **fields), changes
