"""Candidate training examples: one memory turn each, cut verbatim out of an episode trace.

An example keeps the exact messages the model saw and its exact response. Nothing here rewrites
model text: the specialist must learn its own outputs. Features are facts a selection policy
can use; they are computed from the whole episode (later reads, later progression).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import iter_jsonl, write_jsonl
from automem_agent.trace import (
    TRUNCATED_REASONS,
    EpisodeSummary,
    LLMTurn,
    StepRecord,
    TraceError,
    TraceHeader,
    read_trace,
)
from automem_memfs import READ_ONLY_OPS, WRITE_OPS, Action, Done, ParseError, op_kind


class ExampleFeatures(msgspec.Struct, frozen=True, kw_only=True):
    """What a selector may look at besides the text itself."""

    op_kinds: list[str] = []  # memory ops in call order, e.g. ["search", "append"]
    n_read_ops: int = 0
    n_write_ops: int = 0
    consulted_before_write: bool = False  # a search/read/tail/count ran before the first write
    wrote: bool = False
    written_paths: list[str] = []
    written_later_read: bool = False  # a later turn read one of the files written here
    written_later_used: bool = False  # ... and that later read was a PLAN consultation
    duplicate_writes: int = 0  # writes whose content was already written earlier this episode
    parse_errors: int = 0
    failed_ops: int = 0  # ops that executed but returned ok=False
    ended_with_done: bool = False
    committed_action: bool = False
    progression_at_step: float = 0.0
    progression_gain_after: float = 0.0  # progression `horizon` steps later minus now
    next_steps_valid_rate: float = 1.0  # share of valid actions over the following steps
    episode_progression: float = 0.0
    episode_status: str = ""  # "finished", "errored" or "" (no summary line: cut off)
    episode_write_to_search: float | None = None


class MemoryExample(msgspec.Struct, frozen=True, kw_only=True):
    """One memory turn: the verbatim input context and the verbatim response, with features."""

    id: str  # stable: a hash of where the turn came from
    env_id: str
    seed: int
    step: int
    phase: str  # "log" or "plan"
    round: int
    role: str  # the model role that answered in the trace ("memory" or "action")
    messages: list[dict[str, str]]
    response: str
    features: ExampleFeatures
    scaffold_hash: str = ""
    source: str = ""  # the trace file it came from


def is_memory_turn(turn: LLMTurn, *, plan_actions: bool = False) -> bool:
    """A LOG turn, or the memory-consultation part of a PLAN turn.

    PLAN turns answered by the memory role are consultation. In single-model traces a PLAN turn
    that only ran read-only memory ops (no ACTION) is consultation too; a turn that committed the
    world action belongs to the action role and is not a memory example, unless
    `plan_actions` (a consulting PLAN turn that also acted; post-processing strips its ACTION).
    """
    if turn.phase == "log":
        return True
    if turn.phase != "plan":
        return False
    if turn.role == "memory":
        return True
    has_action = any(isinstance(c, Action) for c in turn.calls)
    has_read = any(_kind(c) in READ_ONLY_OPS for c in turn.calls)
    return has_read and (plan_actions or not has_action)


def _kind(call: Any) -> str | None:
    if isinstance(call, Done | Action | ParseError):
        return None
    return op_kind(call)


def _paired(turn: LLMTurn) -> list[tuple[Any, Any]]:
    """(call, result) pairs. Every executed op and every parse error produced one result, in
    call order; DONE and ACTION produce none."""
    results = iter(turn.results)
    pairs: list[tuple[Any, Any]] = []
    for call in turn.calls:
        if isinstance(call, Done | Action):
            pairs.append((call, None))
        else:
            pairs.append((call, next(results, None)))
    return pairs


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _example_id(env_id: str, seed: int, step: int, phase: str, rnd: int, scaffold: str) -> str:
    key = f"{env_id}|{seed}|{step}|{phase}|{rnd}|{scaffold}"
    return hashlib.sha1(key.encode()).hexdigest()[:16]


def is_truncated(turn: LLMTurn) -> bool:
    """The reply was cut at its token budget (older traces only carry the finish reason)."""
    return turn.truncated or turn.finish_reason in TRUNCATED_REASONS


def extract_from_trace(
    trace: Any,
    *,
    horizon: int = 10,
    source: str = "",
    plan_actions: bool = False,
    include_truncated: bool = False,
) -> list[MemoryExample]:
    """Every memory turn of one episode as an example, in the order the model saw them.

    `horizon` is how many following steps count as "the outcome" of a turn. Replies cut at
    max_tokens are left out (a half-written op teaches the specialist to stop mid-call)
    unless `include_truncated`.
    """
    header: TraceHeader = trace.header
    steps: Sequence[StepRecord] = trace.steps
    summary: EpisodeSummary | None = trace.summary
    progression = [s.progression for s in steps]
    final_progression = summary.stats.progression if summary else max(progression, default=0.0)

    # Later reads per path: (flat turn position, phase) of every read-only op with a path, plus
    # paths named in the results of path-less searches (a global search that surfaced the file).
    reads: list[tuple[int, str, str]] = []
    flat: list[tuple[int, LLMTurn]] = []
    for index, step in enumerate(steps):
        for turn in step.turns:
            flat.append((index, turn))
    for position, (_, turn) in enumerate(flat):
        for call, result in _paired(turn):
            if _kind(call) not in READ_ONLY_OPS:
                continue
            read_path = getattr(call, "path", None)
            if read_path:
                reads.append((position, turn.phase, read_path))
            elif result is not None:
                reads.append((position, turn.phase, "\0" + result.text))

    examples: list[MemoryExample] = []
    seen_content: set[str] = set()
    for position, (index, turn) in enumerate(flat):
        step = steps[index]
        ops = [c for c in turn.calls if _kind(c) is not None]
        kinds = [_kind(c) or "" for c in ops]
        first_write = next((i for i, k in enumerate(kinds) if k in WRITE_OPS), None)
        consulted = any(k in READ_ONLY_OPS for k in kinds[: first_write or 0])
        if first_write is not None and not consulted:
            # Earlier rounds of the same phase in the same step count as consulting first.
            consulted = any(
                t.phase == turn.phase
                and t.round < turn.round
                and any(_kind(c) in READ_ONLY_OPS for c in t.calls)
                for t in step.turns
            )
        written: list[str] = []
        duplicates = 0
        for call, kind in zip(ops, kinds, strict=True):
            if kind not in WRITE_OPS:
                continue
            path = getattr(call, "path", "")
            written.append(path)
            content = getattr(call, "content", None) or getattr(call, "new", None)
            if content is not None and content.strip():
                key = _norm(content)
                if key in seen_content:
                    duplicates += 1
                seen_content.add(key)
        later_read = later_used = False
        for where, phase, target in reads:
            if where <= position:
                continue
            hit = any(
                (target == p) if not target.startswith("\0") else (p and p in target)
                for p in written
            )
            if hit:
                later_read = True
                later_used = later_used or phase == "plan"
        if not is_memory_turn(turn, plan_actions=plan_actions):
            continue
        if is_truncated(turn) and not include_truncated:
            continue
        end = min(index + horizon, len(steps) - 1)
        following = steps[index + 1 : end + 1]
        valid_rate = sum(s.valid_action for s in following) / len(following) if following else 1.0
        features = ExampleFeatures(
            op_kinds=kinds,
            n_read_ops=sum(k in READ_ONLY_OPS for k in kinds),
            n_write_ops=sum(k in WRITE_OPS for k in kinds),
            consulted_before_write=bool(written) and consulted,
            wrote=bool(written),
            written_paths=sorted(set(written)),
            written_later_read=later_read,
            written_later_used=later_used,
            duplicate_writes=duplicates,
            parse_errors=sum(isinstance(c, ParseError) for c in turn.calls),
            failed_ops=sum(
                r is not None and not r.ok and _kind(c) is not None for c, r in _paired(turn)
            ),
            ended_with_done=any(isinstance(c, Done) for c in turn.calls),
            committed_action=any(isinstance(c, Action) for c in turn.calls),
            progression_at_step=progression[index],
            progression_gain_after=progression[end] - progression[index],
            next_steps_valid_rate=valid_rate,
            episode_progression=final_progression,
            episode_status=summary.status if summary else "",
            episode_write_to_search=summary.write_to_search if summary else None,
        )
        examples.append(
            MemoryExample(
                id=_example_id(
                    header.env_id,
                    header.seed,
                    step.step,
                    turn.phase,
                    turn.round,
                    header.scaffold_hash,
                ),
                env_id=header.env_id,
                seed=header.seed,
                step=step.step,
                phase=turn.phase,
                round=turn.round,
                role=turn.role,
                messages=[dict(m) for m in turn.messages],
                response=turn.response,
                features=features,
                scaffold_hash=header.scaffold_hash,
                source=source,
            )
        )
    return examples


def trace_files(root: Path | str) -> list[Path]:
    """Every `*.jsonl` trace under `root` (a file is returned as itself), sorted."""
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.jsonl") if p.is_file())


def extract_examples(
    traces: Path | str | Iterable[Path | str],
    *,
    horizon: int = 10,
    plan_actions: bool = False,
    include_truncated: bool = False,
) -> list[MemoryExample]:
    """Examples from every trace file under one or more paths (directories are searched);
    replies cut at max_tokens are left out unless `include_truncated`."""
    roots = [traces] if isinstance(traces, str | Path) else list(traces)
    out: list[MemoryExample] = []
    for root in roots:
        for path in trace_files(root):
            try:
                trace = read_trace(path)
            except (TraceError, msgspec.DecodeError, msgspec.ValidationError):
                continue  # not a trace (e.g. a results file); pools mix both
            out.extend(
                extract_from_trace(
                    trace,
                    horizon=horizon,
                    source=str(path),
                    plan_actions=plan_actions,
                    include_truncated=include_truncated,
                )
            )
    return out


_DECODER = msgspec.json.Decoder(MemoryExample)


def write_examples(path: Path | str, examples: Iterable[MemoryExample]) -> int:
    """Writes examples as JSON Lines (atomically); returns how many."""
    return write_jsonl(path, examples)


def read_examples(path: Path | str) -> Iterator[MemoryExample]:
    """Examples back from a JSON Lines file written by `write_examples`."""
    for line in iter_jsonl(path, decoder=_DECODER):
        yield line.record
