"""What one memory write was worth, by counterfactual replay.

Games are deterministic and the agent's calls can be (temperature 0 or a fixed seed), so an
episode can be replayed: the recorded replies are served again while the model's input matches
the trace exactly (no model calls), the write made at step t is removed from its reply, and from
the first input that differs the live model plays on. The progression reached at step t + H is
compared with the original trace's. A positive `effect` means the write helped.
"""

from __future__ import annotations

import tempfile
from collections import deque
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import (
    ChatModel,
    ChatRequest,
    ChatResponse,
    LLMTurn,
    Manifest,
    RoleModels,
    Trace,
    load_scaffold,
    memory_agent_factory,
    plan_replays,
    read_trace,
    run_episode,
)
from automem_agent.meta import Tool, ToolError
from automem_envs import EpisodeSpec
from automem_memfs import WRITE_OPS, ParseError, format_call

DEFAULT_HORIZON = 20


class AttributionError(ValueError):
    """Bad arguments to an attribution (no such episode, step or write; budget too small)."""


class WriteEffect(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the per-write table: the write, and the progression at `step + horizon`
    with it (the trace) and without it (the replay)."""

    step: int
    round: int
    call: int  # index of the write among the turn's parsed calls
    op: str
    path: str
    progression_with: float
    progression_without: float
    effect: float  # with - without
    calls: int  # live model calls the replay spent
    replayed_prefix: bool  # False: the replay diverged before the write (effect unreliable)


class AttributionTable(msgspec.Struct, frozen=True, kw_only=True):
    """`attribution.json`: the per-write table of one episode."""

    episode: str
    trace: str
    scaffold: str
    horizon: int
    estimated_calls: int
    calls: int
    rows: list[WriteEffect]


class _Write(msgspec.Struct, frozen=True, kw_only=True):
    step: int
    turn: int  # index in the step's turns
    call: int
    op: str
    path: str


def writes_in(trace: Trace, steps: list[int] | None = None) -> list[_Write]:
    """Every memory write the agent made (at `steps`, or anywhere), in order."""
    wanted = set(steps) if steps is not None else None
    out = []
    for record in trace.steps:
        if wanted is not None and record.step not in wanted:
            continue
        for t, turn in enumerate(record.turns):
            for c, call in enumerate(turn.calls):
                kind = call.__struct_config__.tag
                if kind in WRITE_OPS:
                    out.append(
                        _Write(
                            step=record.step,
                            turn=t,
                            call=c,
                            op=str(kind),
                            path=str(getattr(call, "path", "")),
                        )
                    )
    return out


def estimate_replay_calls(trace: Trace, n_writes: int, horizon: int) -> int:
    """Live model calls `n_writes` replays cost: the prefix is served from the trace, so each
    replay pays about `horizon + 1` steps at the trace's mean calls per step."""
    steps = len(trace.steps) or 1
    per_step = sum(len(r.turns) for r in trace.steps) / steps
    return round(n_writes * (horizon + 1) * per_step)


def _progression_at(trace: Trace, step: int) -> float:
    reached = [r.progression for r in trace.steps if r.step <= step]
    return max(reached, default=0.0)


class _ReplayThenLive:
    """Serves recorded replies while the request matches the recorded input, then the live
    model for good. `calls` counts live calls; `matched` the recorded replies served."""

    def __init__(self, live: ChatModel, turns: list[tuple[LLMTurn, str]]):
        self.live = live
        self.name = getattr(live, "name", "live")
        self.supports_tools = False
        self._queue = deque(turns)
        self.calls = 0
        self.matched = 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if self._queue:
            turn, text = self._queue[0]
            seen = [{"role": m.role, "content": m.content} for m in request.messages]
            if seen == [{"role": m["role"], "content": m["content"]} for m in turn.messages]:
                self._queue.popleft()
                self.matched += 1
                return ChatResponse(text=text, model=turn.model, finish_reason="replay")
            self._queue.clear()  # diverged: the counterfactual has begun
        self.calls += 1
        return await self.live.complete(request)


def _without(turn: LLMTurn, call: int, syntax: str) -> str:
    """The turn's reply with one call removed (the others re-written in the scaffold's syntax)."""
    kept = [c for i, c in enumerate(turn.calls) if i != call and not isinstance(c, ParseError)]
    return "\n".join(format_call(c, syntax) for c in kept)


async def attribute_writes(
    trace_path: Path,
    scaffold_dir: Path,
    model: ChatModel,
    *,
    steps: list[int] | None = None,
    horizon: int = DEFAULT_HORIZON,
    max_replays: int | None = None,
    max_calls: int | None = None,
    spec: EpisodeSpec | None = None,
) -> AttributionTable:
    """Replays the episode once per write at `steps` (all steps if None) without that write,
    and tabulates the progression at `step + horizon` with and without it.

    `max_replays` bounds the number of writes tried; `max_calls` refuses to start when the
    estimate exceeds it. `spec` gives the episode's exact settings (default: from the header).
    """
    trace = read_trace(trace_path)
    h = trace.header
    writes = writes_in(trace, steps)
    if steps is not None and not writes:
        raise AttributionError(f"no memory write at step(s) {steps} of {trace_path}")
    if max_replays is not None:
        writes = writes[:max_replays]
    estimate = estimate_replay_calls(trace, len(writes), horizon)
    if max_calls is not None and estimate > max_calls:
        raise AttributionError(
            f"{len(writes)} replay(s) need about {estimate} model calls, over the budget of "
            f"{max_calls}; pass fewer steps or a larger budget"
        )
    base = spec or EpisodeSpec(env_id=h.env_id, seed=h.seed, max_steps=h.max_steps)
    scaffold = load_scaffold(scaffold_dir)
    syntax = scaffold.manifest.syntax
    rows = []
    try:
        for w in writes:
            end = w.step + horizon
            cut = (
                base
                if 0 < base.max_steps <= end + 1
                else msgspec.structs.replace(base, max_steps=end + 1)
            )
            served: list[tuple[LLMTurn, str]] = [
                (turn, turn.response) for r in trace.steps[: w.step] for turn in r.turns
            ]
            record = trace.steps[w.step]
            served += [(turn, turn.response) for turn in record.turns[: w.turn]]
            target = record.turns[w.turn]
            served.append((target, _without(target, w.call, syntax)))
            replay = _ReplayThenLive(model, served)
            factory = memory_agent_factory(scaffold, RoleModels.single(replay))
            with tempfile.TemporaryDirectory(prefix="automem-attr-") as tmp:
                await run_episode(cut, factory, Path(tmp), retry_errored=False)
                counterfactual = read_trace(Path(tmp) / "eval" / cut.env_id / f"{cut.seed}.jsonl")
            with_it = _progression_at(trace, end)
            without = _progression_at(counterfactual, end)
            rows.append(
                WriteEffect(
                    step=w.step,
                    round=target.round,
                    call=w.call,
                    op=w.op,
                    path=w.path,
                    progression_with=with_it,
                    progression_without=without,
                    effect=with_it - without,
                    calls=replay.calls,
                    replayed_prefix=replay.matched == len(served),
                )
            )
    finally:
        scaffold.close()
    return AttributionTable(
        episode=base.key,
        trace=str(trace_path),
        scaffold=str(scaffold_dir),
        horizon=horizon,
        estimated_calls=estimate,
        calls=sum(r.calls for r in rows),
        rows=rows,
    )


def format_attribution(table: AttributionTable) -> str:
    """The per-write table as aligned text, biggest effect first."""
    head = ["step", "round", "op", "path", "with", "without", "effect", "calls", "prefix"]
    rows = [
        [
            str(r.step),
            str(r.round),
            r.op,
            r.path,
            f"{r.progression_with:.3f}",
            f"{r.progression_without:.3f}",
            f"{r.effect:+.3f}",
            str(r.calls),
            "exact" if r.replayed_prefix else "DIVERGED",
        ]
        for r in sorted(table.rows, key=lambda r: -abs(r.effect))
    ]
    widths = [
        max(len(h), *(len(x[i]) for x in rows)) if rows else len(h) for i, h in enumerate(head)
    ]
    lines = [
        f"{table.episode}: {len(table.rows)} write(s), horizon {table.horizon} steps, "
        f"{table.calls} model calls (estimated {table.estimated_calls})",
        "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(x, widths, strict=True)) for x in rows]
    return "\n".join(lines)


class AttributionBudget:
    """What the review's `attribute` tool may still spend: replays and live model calls."""

    def __init__(self, replays: int, calls: int):
        self.replays = replays
        self.calls = calls

    @classmethod
    def planned(
        cls, replays: int, horizon: int, manifest: Manifest, env_id: str = "crafter"
    ) -> AttributionBudget:
        """One session's budget: `replays` replays and the calls the run's plan allows them
        (`plan_replays`: every round of both phases for each of `horizon + 1` live steps)."""
        return cls(replays, plan_replays(env_id, replays, horizon, manifest).calls_max)


def _reviewed(eval_root: Path) -> list[tuple[str, Path]]:
    """(episode key, trace) of every finished trace under `eval_root/eval`, partials aside."""
    out = []
    for path in sorted((eval_root / "eval").rglob("*.jsonl")):
        if "partial" not in path.relative_to(eval_root).parts:
            h = read_trace(path).header
            out.append((f"{h.env_id.replace('/', '-')}__{h.seed}", path))
    return out


def attribution_tool(
    eval_root: Path,
    scaffold_dir: Path,
    model: ChatModel,
    *,
    budget: AttributionBudget,
    horizon: int = DEFAULT_HORIZON,
) -> Tool:
    """A review tool that replays search-pool episodes under `eval_root` without chosen writes.

    It reads traces only from `eval_root/eval` (the reviewed evaluation: the search pool), so
    the accept and report pools stay out of reach; each use is checked against `budget` first.
    """

    async def handler(args: dict[str, Any]) -> str:
        episode = str(args.get("episode", ""))
        path = next((p for key, p in _reviewed(eval_root) if key == episode), None)
        if path is None:
            known = ", ".join(key for key, _ in _reviewed(eval_root))
            raise ToolError(f"no reviewed episode {episode!r}; choose one of: {known}")
        raw = args.get("steps")
        if not isinstance(raw, list) or not raw or not all(isinstance(s, int) for s in raw):
            raise ToolError("steps must be a non-empty list of step numbers")
        h = int(args.get("horizon") or horizon)
        trace = read_trace(path)
        writes = writes_in(trace, raw)
        if not writes:
            raise ToolError(f"no memory write at steps {raw} of {episode}")
        n = min(len(writes), budget.replays)
        estimate = estimate_replay_calls(trace, n, h)
        if n == 0 or estimate > budget.calls:
            raise ToolError(
                f"attribution budget left: {budget.replays} replay(s), {budget.calls} model "
                f"calls; this needs {len(writes)} replay(s), about {estimate} calls"
            )
        table = await attribute_writes(
            path, scaffold_dir, model, steps=raw, horizon=h, max_replays=n
        )
        budget.replays -= len(table.rows)
        budget.calls = max(0, budget.calls - table.calls)
        return (
            format_attribution(table)
            + f"\n(budget left: {budget.replays} replay(s), {budget.calls} calls)"
        )

    return Tool(
        name="attribute",
        description=(
            "What a memory write was worth: replay a reviewed episode without the writes made "
            "at the given steps and compare progression `horizon` steps later. Costs model "
            "calls; the budget left is shown."
        ),
        input_schema={
            "type": "object",
            "properties": {
                "episode": {"type": "string"},
                "steps": {"type": "array", "items": {"type": "integer"}},
                "horizon": {"type": "integer"},
            },
            "required": ["episode", "steps"],
        },
        handler=handler,
    )
