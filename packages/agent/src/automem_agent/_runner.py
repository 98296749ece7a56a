"""The episode runner: many episodes at once on asyncio, traced, resumable.

Layout under `out_dir`: `eval/<env_id>/<seed>.jsonl` (traces), `memory/<env_id>/<seed>/` (each
episode's memory directory, final state), `partial/...` (traces of episodes that were cut off
and replayed), `results.json` (the `SuiteResult`).
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import shutil
import time
import traceback
from pathlib import Path

import msgspec
from automem_envs import EpisodeSpec, EpisodeStats, Observation, StepResult, Suite

from automem_agent._agent import Agent, AgentFactory, EpisodeContext
from automem_agent._balrog import write_balrog_summary
from automem_agent._files import write_bytes_atomic
from automem_agent._summary import EpisodeResult, SuiteResult, summarize, write_to_search
from automem_agent._trace_records import EpisodeSummary, StepRecord, TraceHeader
from automem_agent.models._secrets import redact_logging, redactor
from automem_agent.trace import TraceWriter, trace_status


def trace_path(out_dir: Path, spec: EpisodeSpec) -> Path:
    """Where an episode's trace lives; env ids with slashes give nested directories."""
    return Path(out_dir) / "eval" / spec.env_id / f"{spec.seed}.jsonl"


def memory_path(out_dir: Path, spec: EpisodeSpec) -> Path:
    return Path(out_dir) / "memory" / spec.env_id / str(spec.seed)


async def run_suite(
    suite: Suite,
    agent_factory: AgentFactory,
    out_dir: str | Path,
    *,
    concurrency: int = 4,
    progress: bool = True,
    fsync: bool = False,
    retry_errored: bool = True,
) -> SuiteResult:
    """Plays every episode of `suite` (at most `concurrency` at a time) and summarises them.

    Resume: an episode whose trace already ends with a summary is not played again (an errored
    one is, unless `retry_errored` is False). A trace without a summary is a run that was cut
    off; it is moved to `partial/` and the episode is replayed from the start, so every episode
    ends up exactly once in `eval/`. An episode that fails on infrastructure (a model down
    after retries, an env crash) is kept, marked errored with its reason.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    redact_logging()
    start = time.perf_counter()
    limit = asyncio.Semaphore(max(1, concurrency))
    bar = _Progress(len(suite.episodes), enabled=progress)

    async def one(spec: EpisodeSpec) -> EpisodeResult:
        async with limit:
            result = await run_episode(
                spec, agent_factory, out, fsync=fsync, retry_errored=retry_errored, on_step=bar.step
            )
        bar.episode_done(result)
        return result

    try:
        episodes = await asyncio.gather(*(one(spec) for spec in suite.episodes))
    finally:
        bar.close()
    result = summarize(
        suite.name, list(episodes), skipped=suite.skipped, wall_s=time.perf_counter() - start
    )
    encoded = redactor().scrub_bytes(msgspec.json.format(msgspec.json.encode(result)))
    write_bytes_atomic(out / "results.json", encoded)
    write_balrog_summary(out, result)
    return result


async def run_episode(
    spec: EpisodeSpec,
    agent_factory: AgentFactory,
    out_dir: Path,
    *,
    fsync: bool = False,
    retry_errored: bool = True,
    on_step=None,
) -> EpisodeResult:
    """Plays (or, on resume, reuses) one episode; never raises for a failed episode."""
    path = trace_path(out_dir, spec)
    rel = path.relative_to(out_dir).as_posix()
    done = trace_status(path)
    if done is not None and (done.status == "finished" or not retry_errored):
        return EpisodeResult(
            env_id=spec.env_id,
            seed=spec.seed,
            status=done.status,
            trace=rel,
            summary=done,
            resumed=True,
        )
    if path.exists():
        aside = out_dir / "partial" / spec.env_id / path.name
        aside.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(path, aside)
    summary = await _play(spec, agent_factory, out_dir, path, fsync=fsync, on_step=on_step)
    return EpisodeResult(
        env_id=spec.env_id, seed=spec.seed, status=summary.status, trace=rel, summary=summary
    )


async def _play(spec, agent_factory, out_dir, path, *, fsync, on_step) -> EpisodeSummary:
    from automem_envs import make_from_spec

    started = time.perf_counter()
    env = agent = writer = None
    stats = EpisodeStats(env_id=spec.env_id, seed=spec.seed)
    tally = _Tally()
    status, error = "finished", None
    try:
        env = await asyncio.to_thread(make_from_spec, spec)
        observation: Observation = await asyncio.to_thread(env.reset)
        ctx = EpisodeContext(
            spec=spec,
            instructions=env.instructions,
            actions=list(env.actions),
            default_action=env.default_action,
            memory_dir=memory_path(out_dir, spec),
        )
        agent = agent_factory(ctx)
        tally.initial_chars = agent.info.initial_memory_chars
        writer = TraceWriter(path, _header(spec, agent, env.instructions), fsync=fsync)
        previous: StepResult | None = None
        step = 0
        while True:
            decision = await agent.act(observation, previous)
            result: StepResult = await asyncio.to_thread(env.step, decision.action)
            writer.write(
                StepRecord(
                    step=step,
                    observation=observation.text,
                    turns=decision.turns,
                    action=decision.action,
                    executed_action=result.action,
                    valid_action=result.valid_action,
                    fallback=decision.fallback,
                    reward=result.reward,
                    progression=result.progression,
                    done=result.done or result.truncated,
                    memory_bytes=decision.memory_bytes,
                    op_counts=decision.op_counts,
                    memory_snapshot=decision.memory_snapshot,
                    memory_diff=decision.memory_diff,
                    events=decision.events,
                    hooks=decision.hooks,
                )
            )
            tally.add(decision)
            tally.last_message = result.observation.message
            if on_step is not None:
                on_step()
            step += 1
            previous, observation = result, result.observation
            if result.done or result.truncated:
                break
        stats = env.stats
        if stats.end_reason == "errored":
            status, error = "errored", f"env: {stats.error}"
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # infrastructure failure: keep the episode, marked errored
        status = "errored"
        error = f"{type(exc).__name__}: {exc}"
        tally.traceback = traceback.format_exc(limit=8)
        if env is not None:
            stats = env.stats
    finally:
        for thing in (agent, env):
            try:
                if thing is not None:
                    thing.close()
            except Exception:
                pass
    if writer is None:
        writer = TraceWriter(path, _header(spec, agent, ""), fsync=fsync)
    summary = tally.summary(stats, status, error, time.perf_counter() - started)
    writer.write(summary)
    writer.close()
    return summary


def _header(spec: EpisodeSpec, agent: Agent | None, instructions: str) -> TraceHeader:
    info = agent.info if agent is not None else None
    return TraceHeader(
        env_id=spec.env_id,
        seed=spec.seed,
        max_steps=spec.max_steps,
        agent=info.agent if info else "unknown",
        scaffold_name=info.scaffold_name if info else "",
        scaffold_hash=info.scaffold_hash if info else "",
        models=dict(info.models) if info else {},
        adapters=dict(info.adapters) if info else {},
        started_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        instructions=instructions,
    )


def episode_ending(stats: EpisodeStats, status: str, last_message: str = "") -> str:
    """How an episode ended, as a label for reviewers (see `EpisodeSummary.ending`)."""
    reason = getattr(stats, "end_reason", "")
    if status == "errored" or reason == "errored":
        return "errored"
    if reason == "max_steps":
        return "step_limit"
    if reason == "no_progress":
        return "no_progress"
    if reason == "done":
        text = last_message.lower()
        if "you died" in text or "you die" in text or "killed" in text:
            return "died"
        if stats.progression >= 1.0 or "task complete" in text or "success" in text:
            return "solved"
        return "game_over"
    return "cut"


class _Tally:
    """Running per-episode totals for the summary line."""

    def __init__(self) -> None:
        self.steps = 0
        self.fallbacks = 0
        self.tokens: dict[str, dict[str, int]] = {}
        self.ops: dict[str, int] = {}
        self.turns: dict[str, int] = {}
        self.parsed: dict[str, int] = {}
        self.truncated: dict[str, int] = {}
        self.initial_chars = 0
        self.last_chars: int | None = None
        self.traceback = ""
        self.upkeep: dict[str, int] = {}
        self.last_message = ""

    def add(self, decision) -> None:
        self.steps += 1
        self.fallbacks += decision.fallback
        self.last_chars = decision.memory_chars
        for turn in decision.turns:
            t = self.tokens.setdefault(turn.role, {"input": 0, "output": 0})
            t["input"] += turn.input_tokens
            t["output"] += turn.output_tokens
            self.turns[turn.phase] = self.turns.get(turn.phase, 0) + 1
            self.parsed[turn.phase] = self.parsed.get(turn.phase, 0) + turn.parsed
            if turn.truncated:
                self.truncated[turn.phase] = self.truncated.get(turn.phase, 0) + 1
        for k, v in decision.op_counts.items():
            self.ops[k] = self.ops.get(k, 0) + v
        if decision.hooks is not None:
            for k, v in decision.hooks.upkeep_op_counts.items():
                self.upkeep[k] = self.upkeep.get(k, 0) + v

    def summary(self, stats, status, error, wall_s) -> EpisodeSummary:
        growth = 0.0
        if self.steps and self.last_chars is not None:
            growth = (self.last_chars - self.initial_chars) / self.steps
        if error and self.traceback:
            error = f"{error}\n{self.traceback}"
        return EpisodeSummary(
            stats=stats,
            status=status,
            error=error,
            steps=self.steps,
            fallback_actions=self.fallbacks,
            tokens=self.tokens,
            op_counts=self.ops,
            write_to_search=write_to_search(self.ops),
            memory_growth_per_step=growth,
            wall_s=wall_s,
            ending=episode_ending(stats, status, self.last_message),
            upkeep_op_counts=self.upkeep,
            turns=self.turns,
            parsed_turns=self.parsed,
            truncated_turns=self.truncated,
        )


class _Progress:
    """A tqdm bar over episodes that also shows the step rate."""

    def __init__(self, total: int, *, enabled: bool):
        self._bar = None
        self._steps = 0
        self._errored = 0
        self._start = time.perf_counter()
        self._last = 0.0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="ep", desc="episodes", dynamic_ncols=True)

    def step(self) -> None:
        self._steps += 1
        now = time.perf_counter()
        if self._bar is not None and now - self._last > 0.5:
            self._last = now
            self._postfix(now)

    def episode_done(self, result: EpisodeResult) -> None:
        self._errored += result.status == "errored"
        if self._bar is not None:
            self._postfix(time.perf_counter())
            self._bar.update(1)

    def _postfix(self, now: float) -> None:
        if self._bar is None:
            return
        rate = self._steps / max(now - self._start, 1e-9)
        self._bar.set_postfix(steps=self._steps, steps_s=f"{rate:.1f}", errored=self._errored)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
