"""`apps/play` as a library call: a typed config in, a suite run and its summary out."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Literal

import msgspec
from automem_envs import EpisodeSpec, Suite

from automem_agent._agent import AgentFactory, RoleModels
from automem_agent._files import write_bytes_atomic
from automem_agent._history_agent import history_agent_factory
from automem_agent._hooks import HookLimits
from automem_agent._manifest import with_sampling
from automem_agent._memory_agent import memory_agent_factory
from automem_agent._scaffold import load_scaffold, resolve_scaffold
from automem_agent._summary import SuiteResult


class PlayConfig(msgspec.Struct, frozen=True, kw_only=True):
    """One `apps/play` run. Model specs are `load_model` strings (e.g. `smollm2`, `tiny`,
    `openai:http://host:8000/v1#qwen`); `memory_llm`/`action_llm` override `llm` per role.
    `episodes`, when given, are played instead of `envs` x `seeds` (apps/play builds them from
    its protocol); `temperature`/`max_tokens`/`max_rounds` set the scaffold's sampling."""

    envs: list[str]
    seeds: list[int]
    max_steps: int = 30
    no_progress_steps: int | None = None
    episodes: list[EpisodeSpec] | None = None
    protocol: str | None = None  # the protocol the episodes come from (recorded in config.json)
    temperature: float | None = None
    max_tokens: int | None = None
    max_rounds: int | None = None
    agent: Literal["memory", "history"] = "memory"
    llm: str = "smollm2"
    memory_llm: str | None = None
    action_llm: str | None = None
    memory_adapter: str | None = None
    action_adapter: str | None = None
    scaffold: str = "v0"  # a built-in name or a scaffold directory
    concurrency: int = 4
    out: str | None = None  # default: runs/play-<UTC timestamp>
    progress: bool = True
    history: int = 16  # pairs kept by the history agent
    unsafe_no_sandbox: bool = False  # run the scaffold's hooks without bubblewrap (warned)


def parse_seeds(text: str) -> list[int]:
    """`"42-44"` -> [42, 43, 44]; `"1,5,7-8"` -> [1, 5, 7, 8]."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part[1:]:
            lo, hi = part.split("-", 1) if not part.startswith("-") else (part, part)
            seeds.extend(range(int(lo), int(hi) + 1))
        else:
            seeds.append(int(part))
    if not seeds:
        raise ValueError(f"no seeds in {text!r}")
    return seeds


def build_suite(config: PlayConfig) -> Suite:
    if config.episodes is not None:
        return Suite(name=config.protocol or "play", episodes=list(config.episodes))
    episodes = [
        EpisodeSpec(
            env_id=env,
            seed=seed,
            max_steps=config.max_steps,
            no_progress_steps=config.no_progress_steps,
        )
        for env in config.envs
        for seed in config.seeds
    ]
    return Suite(name="play", episodes=episodes)


def build_models(config: PlayConfig) -> RoleModels:
    """Loads each distinct model spec once; roles sharing a spec share the instance.

    An adapter given as `name=path` is a local PEFT adapter directory, loaded into that role's
    model under `name`; a bare name is one the backend already serves (e.g. a vLLM LoRA)."""
    memory_adapter, memory_path = _adapter(config.memory_adapter)
    action_adapter, action_path = _adapter(config.action_adapter)
    models = RoleModels.from_specs(
        config.memory_llm or config.llm,
        config.action_llm or config.llm,
        memory_adapter=memory_adapter,
        action_adapter=action_adapter,
    )
    for role, name, path in (
        ("memory", memory_adapter, memory_path),
        ("action", action_adapter, action_path),
    ):
        if path is not None:
            model, _ = models.model(role)
            if not hasattr(model, "load_adapter"):
                raise ValueError(f"{model.name} cannot load a local adapter ({name}={path})")
            if name not in getattr(model, "adapters", []):
                model.load_adapter(name, path)
    return models


def _adapter(value: str | None) -> tuple[str | None, str | None]:
    if value is None or "=" not in value:
        return value, None
    name, path = value.split("=", 1)
    return name, path


def build_factory(config: PlayConfig, models: RoleModels) -> AgentFactory:
    if config.agent == "history":
        return history_agent_factory(models, history=config.history)
    scaffold = load_scaffold(
        resolve_scaffold(config.scaffold),
        hook_limits=HookLimits(unsafe_no_sandbox=config.unsafe_no_sandbox),
    )
    sampled = with_sampling(
        scaffold.manifest,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        max_rounds=config.max_rounds,
    )
    if sampled != scaffold.manifest:
        scaffold = dataclasses.replace(scaffold, manifest=sampled)
    return memory_agent_factory(scaffold, models)


def play(config: PlayConfig) -> tuple[SuiteResult, Path]:
    """Runs the configured episodes; returns the result and the run directory."""
    out = Path(config.out or f"runs/play-{_dt.datetime.now(_dt.UTC).strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "config.json", msgspec.json.format(msgspec.json.encode(config)))
    factory = build_factory(config, build_models(config))
    from automem_agent._runner import run_suite

    result = asyncio.run(
        run_suite(
            build_suite(config),
            factory,
            out,
            concurrency=config.concurrency,
            progress=config.progress,
        )
    )
    return result, out
