"""Evaluate a scaffold on a list of episodes with the agent model, through `run_suite`.

`run_suite` writes `eval/`, `memory/` and `results.json` under the output directory and skips
finished episodes, so an interrupted evaluation resumes episode by episode. When it returns,
`evaluation.json` records per-episode progression, tokens and LLM time, and the memory figures
of the finished episodes (ops, write-to-search, growth per step, parse rate per phase); its
presence marks the evaluation done.
"""

from __future__ import annotations

import time
from pathlib import Path

import msgspec
from automem_agent import (
    ChatModel,
    EpisodeResult,
    HookLimits,
    RoleModels,
    aggregate,
    load_scaffold,
    memory_agent_factory,
    run_suite,
    write_json_atomic,
)
from automem_agent.trace import iter_traces
from automem_envs import EpisodeSpec, Suite, env_family

from automem_scaffold._archive import read_json


class Evaluation(msgspec.Struct, frozen=True, kw_only=True):
    """`evaluation.json`. Keys of `per_episode` are `EpisodeSpec.key` (`env__seed`)."""

    scaffold_hash: str
    per_episode: dict[str, float]
    per_env: dict[str, float]  # family -> mean progression
    mean: float
    tokens: dict[str, dict[str, int]]  # role -> {"input", "output"}
    models: dict[str, str]  # role -> model name
    episodes: int
    errored: list[str] = []
    wall_s: float = 0.0
    llm_s: float = 0.0  # summed latency of the agent's model calls
    calls: int = 0  # agent model calls over all episodes
    # memory figures over the finished episodes (errored ones are left out, as BALROG does)
    steps: int = 0
    op_counts: dict[str, int] = {}  # the model's memory ops by kind
    write_to_search: float | None = None  # total writes / total searches (None: no search)
    memory_growth_per_step: float | None = None  # mean over episodes, characters per step
    turns: dict[str, int] = {}  # per phase ("log", "plan"): LLM turns
    parsed_turns: dict[str, int] = {}  # per phase: turns whose reply parsed

    def parse_rate(self, phase: str) -> float | None:
        """Share of the phase's turns that parsed; None without turns."""
        total = self.turns.get(phase, 0)
        return self.parsed_turns.get(phase, 0) / total if total else None


def load_evaluation(root: Path) -> Evaluation | None:
    path = root / "evaluation.json"
    return read_json(path, Evaluation) if path.exists() else None


async def evaluate(
    scaffold_dir: Path,
    episodes: list[EpisodeSpec],
    out_root: Path,
    *,
    model: ChatModel,
    concurrency: int = 2,
    suite_name: str = "evolve",
    progress: bool = False,
    hook_timeout_s: float | None = 5.0,
    hook_memory_mb: int | None = 1024,
    unsafe_no_sandbox: bool = False,
) -> Evaluation:
    """Runs (or finishes) the evaluation into `out_root` and writes `evaluation.json`.

    The scaffold's hooks run in a hook worker process: each call is cut after `hook_timeout_s`
    and the worker's address space is capped at `hook_memory_mb`, so a hook that hangs or eats
    memory late in an episode costs that call (an event in the step's record), not the run.
    """
    done = load_evaluation(out_root)
    if done is not None:
        return done
    start = time.perf_counter()
    limits = HookLimits(
        call_s=hook_timeout_s or HookLimits().call_s,
        memory_mb=hook_memory_mb,
        unsafe_no_sandbox=unsafe_no_sandbox,
    )
    scaffold = load_scaffold(scaffold_dir, hook_limits=limits)
    try:
        factory = memory_agent_factory(scaffold, RoleModels.single(model))
        suite = Suite(name=suite_name, episodes=list(episodes))
        await run_suite(suite, factory, out_root, concurrency=concurrency, progress=progress)
    finally:
        scaffold.close()
    wanted = {e.key for e in episodes}
    per_episode: dict[str, float] = {}
    tokens: dict[str, dict[str, int]] = {}
    models: dict[str, str] = {}
    errored: list[str] = []
    llm_s = 0.0
    calls = 0
    finished: list[EpisodeResult] = []
    for trace in iter_traces(out_root / "eval"):
        h = trace.header
        key = EpisodeSpec(env_id=h.env_id, seed=h.seed, max_steps=h.max_steps).key
        if key not in wanted:
            continue
        summary = trace.summary
        per_episode[key] = summary.stats.progression if summary else 0.0
        if summary is None or summary.status != "finished":
            errored.append(key)
        else:
            finished.append(
                EpisodeResult(
                    env_id=h.env_id, seed=h.seed, status=summary.status, trace="", summary=summary
                )
            )
        for role, usage in (summary.tokens if summary else {}).items():
            slot = tokens.setdefault(role, {"input": 0, "output": 0})
            slot["input"] += int(usage.get("input", 0))
            slot["output"] += int(usage.get("output", 0))
        models.update(h.models)
        llm_turns = list(trace.turns())
        llm_s += sum(t.latency_s for t in llm_turns)
        calls += len(llm_turns)
    families: dict[str, list[float]] = {}
    for spec in episodes:
        families.setdefault(env_family(spec.env_id), []).append(per_episode.get(spec.key, 0.0))
    values = [per_episode.get(k, 0.0) for k in sorted(wanted)]
    memory = aggregate("evaluation", finished)
    ops: dict[str, int] = {}
    turns: dict[str, int] = {}
    parsed: dict[str, int] = {}
    for e in finished:
        for total, part in (
            (ops, e.summary.op_counts),
            (turns, e.summary.turns),
            (parsed, e.summary.parsed_turns),
        ):
            for k, v in part.items():
                total[k] = total.get(k, 0) + v
    evaluation = Evaluation(
        scaffold_hash=scaffold.content_hash,
        per_episode={k: per_episode.get(k, 0.0) for k in sorted(wanted)},
        per_env={f: sum(v) / len(v) for f, v in sorted(families.items())},
        mean=sum(values) / len(values) if values else 0.0,
        tokens=tokens,
        models=models,
        episodes=len(per_episode),
        errored=sorted(errored),
        wall_s=time.perf_counter() - start,
        llm_s=llm_s,
        calls=calls,
        steps=memory.steps,
        op_counts=dict(sorted(ops.items())),
        write_to_search=memory.write_to_search,
        memory_growth_per_step=memory.memory_growth_per_step if finished else None,
        turns=turns,
        parsed_turns=parsed,
    )
    write_json_atomic(out_root / "evaluation.json", evaluation)
    return evaluation
