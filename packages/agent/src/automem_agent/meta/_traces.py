"""Episode traces made cheap to survey: a per-episode index, step-range views and the prompts as
the agent saw them, without decoding a whole trace per question.

A `TraceLibrary` is bundle-agnostic: it takes named trace files (Loop 1's review bundle, Loop 2's
pool) and a cache directory. Preparing an episode writes its rendered text (`<name>.txt`, one
`=== step N` block per step) and `<name>.index.json` (the `EpisodeIndex` plus byte offsets of
every step in the text and in the JSON Lines file), so any later view reads only the bytes it
shows.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec

from automem_agent._jsonl import JsonlError, iter_jsonl
from automem_agent._trace_records import (
    EpisodeSummary,
    HookRecord,
    StepRecord,
    TraceHeader,
    TraceRecord,
)
from automem_agent.trace import apply_memory_diff, expand_step

STUCK_MIN_STEPS = 5
VIEW_CHARS = 12_000  # the most text one view returns
MEMORY_SAMPLES = 12
WRITE_OPS = ("append", "write", "create", "str_replace", "insert", "delete", "rename")
SEARCH_OPS = ("search", "read", "tail", "count")

_decoder = msgspec.json.Decoder(TraceRecord)
_encoder = msgspec.json.Encoder()


class MemoryFile(msgspec.Struct, frozen=True, kw_only=True):
    """One file of the episode's final memory: size, lines and how many lines repeat another."""

    path: str
    bytes: int
    lines: int
    duplicate_lines: int


class EpisodeIndex(msgspec.Struct, frozen=True, kw_only=True):
    """What happened in one episode, in a few hundred characters per episode.

    `ended` is how the episode ended: "death", "solved", "step limit", "timeout (no progress)",
    "error" or "cut off" (no summary line: the run was killed). Step lists are step numbers.
    """

    name: str
    env_id: str
    seed: int
    scaffold: str
    steps: int
    ended: str
    error: str | None = None
    progression: float = 0.0
    achievements: list[str] = []
    progression_changes: list[tuple[int, float]] = []
    stuck_spans: list[tuple[int, int]] = []  # (first, last) with an unchanged observation
    longest_without_gain: int = 0
    invalid_steps: list[int] = []
    fallback_steps: list[int] = []
    error_steps: list[tuple[int, str]] = []  # turn errors, failed ops and harness events
    truncated_replies: list[int] = []  # steps with a reply cut at the phase's token limit
    rejections: list[tuple[int, str]] = []  # (step, action) the agent program sent back
    notice_steps: int = 0  # steps on which the scaffold's code added a notice
    upkeep_op_counts: dict[str, int] = {}  # the agent program's scripted memory ops
    op_counts: dict[str, int] = {}
    write_to_search: float | None = None
    memory_growth_per_step: float = 0.0  # characters added per step (bytes if cut off)
    memory_samples: list[tuple[int, int]] = []  # (step, memory bytes) at evenly spaced steps
    memory_files: list[MemoryFile] = []  # the final memory, largest first
    text_offsets: list[int] = []  # byte offset of step i's block in <name>.txt (+ the end)
    raw_offsets: list[int] = []  # byte offset of step i's line in the trace file (+ the end)


_ENDINGS = {
    "died": "death",
    "step_limit": "step limit",
    "no_progress": "timeout (no progress)",
    "errored": "error",
    "cut": "cut off",
    "game_over": "game over",
}


def episode_ending(summary: EpisodeSummary | None, steps: list[StepRecord]) -> str:
    """How an episode ended, in the words reviewers use (see `EpisodeIndex.ended`)."""
    if summary is None:
        return "cut off"
    if getattr(summary, "ending", ""):  # the runner's own label, where the trace has one
        return _ENDINGS.get(summary.ending, summary.ending)
    if summary.status == "errored" or summary.stats.end_reason == "errored":
        return "error"
    reason = summary.stats.end_reason
    if reason == "max_steps":
        return "step limit"
    if reason == "no_progress":
        return "timeout (no progress)"
    if reason == "done":
        solved = summary.stats.progression >= 1.0 or (steps and steps[-1].reward >= 1.0)
        return "solved" if solved else "death"
    return reason


def render_step(step: StepRecord) -> str:
    """One step as readable text: a header line, the observation, each turn verbatim."""
    valid = "valid" if step.valid_action else f"INVALID, ran {step.executed_action!r}"
    fallback = " FALLBACK" if step.fallback else ""
    out = [
        f"=== step {step.step} | progression {step.progression:.3f} | reward {step.reward:g} "
        f"| action {step.action!r} ({valid}){fallback} | memory {step.memory_bytes} B",
        "--- observation",
        step.observation.rstrip(),
    ]
    out += _hook_lines(step.hooks)
    for turn in step.turns:
        cut = " [cut at max_tokens]" if turn.truncated or turn.finish_reason == "length" else ""
        out.append(f"--- {turn.phase} round {turn.round} ({turn.role} model){cut}")
        out.append(turn.response.rstrip() or "(empty response)")
        for result in turn.results:
            status = "ok" if result.ok else f"ERROR {result.error or ''}".rstrip()
            text = result.text.replace("\n", "\n     ")
            out.append(f"  -> {result.op} [{status}] {text}")
        if turn.error:
            out.append(f"  !! {turn.error}")
    for event in step.events:
        out.append(f"  !! EVENT {event}")
    return "\n".join(out) + "\n\n"


def _hook_lines(hooks: HookRecord | None) -> list[str]:
    """What the scaffold's code put in front of the model this step (the prompts hold it too,
    verbatim; these lines make it greppable): notices, variables, analysis, rejections."""
    if hooks is None:
        return []
    out = []
    if hooks.observation is not None:
        out.append("--- hooks: format_observation rewrote the observation the model saw")
    if hooks.analysis:
        out.append("--- hooks: analysis: " + hooks.analysis.strip().replace("\n", "\n     "))
    for notice in hooks.notices:
        out.append(f"--- hooks: notice: {notice}")
    for name, value in hooks.variables.items():
        out.append(f"--- hooks: variable {name} = {value[:200]!r}")
    for change in hooks.action_changes:
        out.append(f"--- hooks: {change}")
    for rejection in hooks.rejections:
        out.append(f"--- hooks: REJECTED {rejection.action!r}: {rejection.message}")
    for result in hooks.upkeep:
        status = "ok" if result.ok else f"ERROR {result.error or ''}".rstrip()
        out.append(f"--- hooks: upkeep {result.op} [{status}] {result.text[:200]}")
    return out


def render_prompts(record: StepRecord, *, title: str = "") -> str:
    """Every message a step's model calls received, verbatim, each followed by its reply."""
    out = [f"# {title or f'step {record.step}'}: the prompts as sent, then each reply"]
    for turn in record.turns:
        out.append(f"\n## {turn.phase} round {turn.round} ({turn.role} model)")
        for message in turn.messages:
            out.append(f"--- [{message.get('role', '?')}]")
            out.append(str(message.get("content", "")).rstrip())
        out.append("--- [reply]")
        out.append(turn.response.rstrip() or "(empty)")
    out.append(f"--- action {record.action!r} -> ran {record.executed_action!r}")
    out += [f"!! EVENT {event}" for event in record.events]
    return "\n".join(out) + "\n"


def render_header(header: TraceHeader) -> str:
    models = ", ".join(f"{k}={v}" for k, v in header.models.items())
    return (
        f"# {header.env_id} seed {header.seed} | scaffold {header.scaffold_name} "
        f"({header.scaffold_hash[:12]})\n# models: {models} | max_steps {header.max_steps}\n\n"
    )


def render_end(summary: EpisodeSummary | None, ended: str) -> str:
    if summary is None:
        return "=== (trace cut off: no summary)\n"
    achievements = ", ".join(summary.stats.achievements) or "-"
    return (
        f"=== end: {ended} ({summary.status}) after {summary.steps} steps | progression "
        f"{summary.stats.progression:.3f} | achievements {achievements}\n"
    )


def _stuck(observations: list[tuple[int, int]], min_len: int) -> list[tuple[int, int]]:
    """Maximal runs of >= min_len steps with the same observation hash: (first, last) steps."""
    spans, start = [], 0
    for i in range(1, len(observations) + 1):
        if i < len(observations) and observations[i][1] == observations[start][1]:
            continue
        if i - start >= min_len:
            spans.append((observations[start][0], observations[i - 1][0]))
        start = i
    return spans


def _memory_files(files: Mapping[str, str]) -> list[MemoryFile]:
    out = []
    for path, text in files.items():
        lines = [line for line in text.splitlines() if line.strip()]
        out.append(
            MemoryFile(
                path=path,
                bytes=len(text.encode("utf-8")),
                lines=len(lines),
                duplicate_lines=len(lines) - len(set(lines)),
            )
        )
    return sorted(out, key=lambda f: -f.bytes)


def prepare_episode(
    name: str,
    trace_path: Path,
    text_path: Path,
    *,
    reply_limits: Mapping[str, int] | None = None,
) -> EpisodeIndex:
    """Reads `trace_path` once, streaming: writes the rendered text to `text_path` and returns
    the episode's index with the byte offsets of every step in both files.

    `reply_limits` maps a phase ("log", "plan") to its max reply tokens, to flag cut replies.
    A torn last line (a killed writer) is skipped and logged, as `read_trace` does; damage
    before it, a step's turn claiming more shared messages than its predecessor had included,
    raises `JsonlError`.
    """
    limits = dict(reply_limits or {})
    header: TraceHeader | None = None
    summary: EpisodeSummary | None = None
    steps_seen: list[StepRecord] = []  # only the last one is kept (for `episode_ending`)
    raw_offsets: list[int] = []
    text_offsets: list[int] = []
    observations: list[tuple[int, int]] = []
    changes: list[tuple[int, float]] = []
    invalid: list[int] = []
    fallback: list[int] = []
    truncated: list[int] = []
    rejections: list[tuple[int, str]] = []
    notice_steps = 0
    upkeep: dict[str, int] = {}
    errors: list[tuple[int, str]] = []
    ops: dict[str, int] = {}
    memory: list[tuple[int, int]] = []
    files: dict[str, str] = {}
    run = longest = 0
    last_progression = 0.0
    steps_end = 0
    text_path.parent.mkdir(parents=True, exist_ok=True)
    with open(text_path, "wb") as text:
        for number, start, end, record in iter_jsonl(trace_path, decoder=_decoder):
            if isinstance(record, TraceHeader):
                header = record
                text.write(render_header(record).encode("utf-8"))
                continue
            if isinstance(record, EpisodeSummary):
                summary = record
                continue
            try:
                step = expand_step(record)
            except ValueError as exc:
                raise JsonlError(f"{trace_path}:{number}: {exc}") from None
            raw_offsets.append(start)
            steps_end = end + 1  # past the newline
            text_offsets.append(text.tell())
            text.write(render_step(step).encode("utf-8"))
            steps_seen[:] = [step]
            observations.append((step.step, hash(step.observation)))
            if step.progression > last_progression:
                changes.append((step.step, step.progression))
                last_progression, run = step.progression, 0
            else:
                run += 1
                longest = max(longest, run)
            if not step.valid_action:
                invalid.append(step.step)
            if step.fallback:
                fallback.append(step.step)
            for turn in step.turns:
                if turn.error:
                    errors.append((step.step, turn.error[:160]))
                for result in turn.results:
                    if not result.ok:
                        errors.append((step.step, f"{result.op}: {result.text[:140]}"))
                limit = limits.get(turn.phase)
                cut = turn.finish_reason == "length" or (limit and turn.output_tokens >= limit)
                if cut and step.step not in truncated[-1:]:
                    truncated.append(step.step)
            if step.hooks is not None:
                rejections += [(step.step, r.action) for r in step.hooks.rejections]
                notice_steps += bool(step.hooks.notices)
                for kind, count in step.hooks.upkeep_op_counts.items():
                    upkeep[kind] = upkeep.get(kind, 0) + count
            for event in step.events:
                errors.append((step.step, f"event: {event[:150]}"))
            for kind, count in step.op_counts.items():
                ops[kind] = ops.get(kind, 0) + count
            memory.append((step.step, step.memory_bytes))
            apply_memory_diff(files, step.memory_diff)
        ended = episode_ending(summary, steps_seen)
        text_offsets.append(text.tell())
        text.write(render_end(summary, ended).encode("utf-8"))
    raw_offsets.append(steps_end)
    if header is None:
        raise ValueError(f"{trace_path}: not a trace (no header line)")
    writes = sum(ops.get(k, 0) for k in WRITE_OPS)
    searches = sum(ops.get(k, 0) for k in SEARCH_OPS)
    every = max(1, len(memory) // MEMORY_SAMPLES)
    samples = memory[::every]
    if memory and samples[-1] != memory[-1]:
        samples.append(memory[-1])
    return EpisodeIndex(
        name=name,
        env_id=header.env_id,
        seed=header.seed,
        scaffold=f"{header.scaffold_name} ({header.scaffold_hash[:12]})",
        steps=len(raw_offsets) - 1,
        ended=ended,
        error=(summary.error or None) if summary else None,
        progression=summary.stats.progression if summary else last_progression,
        achievements=list(summary.stats.achievements) if summary else [],
        progression_changes=changes,
        stuck_spans=_stuck(observations, STUCK_MIN_STEPS),
        longest_without_gain=longest,
        invalid_steps=invalid,
        fallback_steps=fallback,
        error_steps=errors,
        truncated_replies=truncated,
        rejections=rejections,
        notice_steps=notice_steps,
        upkeep_op_counts=dict(sorted(upkeep.items())),
        op_counts=dict(sorted(ops.items())),
        write_to_search=writes / searches if searches else None,
        memory_growth_per_step=summary.memory_growth_per_step
        if summary
        else (memory[-1][1] / len(memory) if memory else 0.0),
        memory_samples=samples,
        memory_files=_memory_files(files),
        text_offsets=text_offsets,
        raw_offsets=raw_offsets,
    )


def _steps_list(steps: list[int], limit: int = 12) -> str:
    if not steps:
        return "none"
    shown = ", ".join(str(s) for s in steps[:limit])
    return f"{len(steps)} (steps {shown}{', ...' if len(steps) > limit else ''})"


def format_index(index: EpisodeIndex) -> str:
    """The index as compact text for a model: one short paragraph and a memory table."""
    gains = ", ".join(f"{s}->{p:.3f}" for s, p in index.progression_changes[:16]) or "none"
    if len(index.progression_changes) > 16:
        gains += f", ... ({len(index.progression_changes)} changes)"
    stuck = ", ".join(f"{a}-{b}" for a, b in index.stuck_spans[:10]) or "none"
    if len(index.stuck_spans) > 10:
        stuck += f", ... ({len(index.stuck_spans)} spans)"
    errors = "; ".join(f"step {s}: {t}" for s, t in index.error_steps[:5]) or "none"
    if len(index.error_steps) > 5:
        errors += f"; ... ({len(index.error_steps)} in all)"
    ops = ", ".join(f"{k} {v}" for k, v in index.op_counts.items()) or "none"
    w2s = "-" if index.write_to_search is None else f"{index.write_to_search:.2f}"
    growth = ", ".join(f"{s}:{b}" for s, b in index.memory_samples)
    growth += f" ({index.memory_growth_per_step:.1f} characters per step)"
    lines = [
        f"## {index.name}: {index.env_id} seed {index.seed}, {index.steps} steps, "
        f"ended: {index.ended}{f' ({index.error[:200]})' if index.error else ''}",
        f"- progression {index.progression:.3f}; achievements: "
        f"{', '.join(index.achievements) or 'none'}",
        f"- progression changes (step->value): {gains}; longest without gain: "
        f"{index.longest_without_gain} steps",
        f"- stuck spans (observation unchanged >= {STUCK_MIN_STEPS} steps): {stuck}",
        f"- invalid actions: {_steps_list(index.invalid_steps)}; fallbacks: "
        f"{_steps_list(index.fallback_steps)}; truncated replies: "
        f"{_steps_list(index.truncated_replies)}",
        f"- errors: {errors}",
        f"- memory ops: {ops} (write/search {w2s})",
        *_program_lines(index),
        f"- memory bytes by step: {growth}",
        "- final memory files (bytes, non-empty lines, duplicate lines):",
    ]
    for f in index.memory_files[:8]:
        lines.append(f"  - {f.path}: {f.bytes} B, {f.lines} lines, {f.duplicate_lines} duplicates")
    if len(index.memory_files) > 8:
        lines.append(f"  - ... {len(index.memory_files) - 8} more files")
    return "\n".join(lines) + "\n"


def _program_lines(index: EpisodeIndex) -> list[str]:
    """What the scaffold's code did (only when it did something)."""
    if not (index.rejections or index.notice_steps or index.upkeep_op_counts):
        return []
    shown = ", ".join(f"{s}: {a!r}" for s, a in index.rejections[:6])
    more = f", ... ({len(index.rejections)} in all)" if len(index.rejections) > 6 else ""
    upkeep = ", ".join(f"{k} {v}" for k, v in index.upkeep_op_counts.items()) or "none"
    return [
        f"- scaffold code: actions sent back {len(index.rejections)}"
        + (f" ({shown}{more})" if shown else "")
        + f"; notices on {index.notice_steps} steps; upkeep ops: {upkeep}"
    ]


def cut(text: str, limit: int, *, hint: str = "") -> str:
    """`text` bounded to `limit` characters; a cut text ends with a line saying how much was cut."""
    if len(text) <= limit:
        return text
    kept = text[:limit]
    kept = kept[: kept.rfind("\n") + 1] or kept
    more = f" {hint}" if hint else ""
    return f"{kept}[cut: {len(text) - len(kept):,} of {len(text):,} characters not shown.{more}]\n"


class TraceLibrary:
    """Named episode traces with their indexes and rendered text, prepared on first use.

    `traces` maps an episode name (e.g. "crafter__42") to its JSON Lines trace file; `cache_dir`
    receives `<name>.txt` and `<name>.index.json`. A library over a read-only bundle whose cache
    was prepared at build time never writes.
    """

    def __init__(
        self,
        traces: Mapping[str, str | os.PathLike[str]],
        cache_dir: str | os.PathLike[str],
        *,
        reply_limits: Mapping[str, int] | None = None,
    ):
        self.traces = {name: Path(path) for name, path in sorted(traces.items())}
        self.cache_dir = Path(cache_dir)
        self.reply_limits = dict(reply_limits or {})
        self._indexes: dict[str, EpisodeIndex] = {}

    @classmethod
    def from_dir(cls, directory: str | os.PathLike[str], cache_dir: str | os.PathLike[str], **kw):
        """Every `*.jsonl` under `directory`, named by its path (`crafter/42.jsonl` ->
        `crafter__42`)."""
        root = Path(directory)
        traces = {
            "__".join(p.relative_to(root).with_suffix("").parts): p
            for p in sorted(root.rglob("*.jsonl"))
        }
        return cls(traces, cache_dir, **kw)

    @property
    def names(self) -> list[str]:
        return list(self.traces)

    def text_path(self, name: str) -> Path:
        return self.cache_dir / f"{name}.txt"

    def _check(self, name: str) -> str:
        if name not in self.traces:
            known = ", ".join(self.names[:20]) or "none"
            raise KeyError(f"no episode {name!r}; episodes: {known}")
        return name

    def index(self, name: str) -> EpisodeIndex:
        """The episode's index, from the cache when it is newer than the trace."""
        name = self._check(name)
        if name in self._indexes:
            return self._indexes[name]
        path = self.cache_dir / f"{name}.index.json"
        trace = self.traces[name]
        fresh = (
            path.exists()
            and self.text_path(name).exists()
            and path.stat().st_mtime_ns >= trace.stat().st_mtime_ns
        )
        if fresh:
            index = msgspec.json.decode(path.read_bytes(), type=EpisodeIndex)
        else:
            index = prepare_episode(
                name, trace, self.text_path(name), reply_limits=self.reply_limits
            )
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(_encoder.encode(index))
            os.replace(tmp, path)
        self._indexes[name] = index
        return index

    def prepare(self) -> list[EpisodeIndex]:
        """Indexes every episode (writing the cache); returns them in name order."""
        return [self.index(name) for name in self.names]

    def _range(self, name: str, start: int, end: int) -> tuple[EpisodeIndex, int, int]:
        index = self.index(name)
        first = min(max(0, start), index.steps)
        last = min(max(first, end), index.steps - 1)
        return index, first, last

    def view(self, name: str, start: int, end: int, *, limit: int = VIEW_CHARS) -> str:
        """Steps `start..end` (inclusive) as rendered text, cut at whole steps to `limit`
        characters; a cut view ends with the step to continue from."""
        index, first, last = self._range(name, start, end)
        if index.steps == 0:
            return f"{name} has no steps"
        offsets = index.text_offsets
        with open(self.text_path(name), "rb") as f:
            f.seek(offsets[first])
            blocks: list[str] = []
            used = 0
            for i in range(first, last + 1):
                block = f.read(offsets[i + 1] - offsets[i]).decode("utf-8", errors="replace")
                if blocks and used + len(block) > limit:
                    rest = last - i + 1
                    blocks.append(
                        f"[cut: steps {i}..{last} ({rest} steps) not shown; "
                        f"view start={i} to continue]\n"
                    )
                    break
                blocks.append(cut(block, limit) if not blocks else block)
                used += len(block)
            if last == index.steps - 1:
                f.seek(offsets[-1])
                blocks.append(f.read().decode("utf-8", errors="replace"))
        return "".join(blocks)

    def step(self, name: str, step: int) -> StepRecord:
        """The recorded step `step` of an episode, decoded from its one line."""
        index, first, _ = self._range(name, step, step)
        if not 0 <= step < index.steps:
            raise IndexError(f"{name} has steps 0..{index.steps - 1}, not {step}")
        with open(self.traces[name], "rb") as f:
            f.seek(index.raw_offsets[first])
            line = f.read(index.raw_offsets[first + 1] - index.raw_offsets[first])
        record = _decoder.decode(line)
        assert isinstance(record, StepRecord)
        return expand_step(record)

    def steps(self, name: str, start: int, end: int) -> Iterable[StepRecord]:
        """Recorded steps `start..end` (inclusive), decoded one line at a time."""
        index, first, last = self._range(name, start, end)
        with open(self.traces[name], "rb") as f:
            f.seek(index.raw_offsets[first])
            for i in range(first, last + 1):
                record = _decoder.decode(f.read(index.raw_offsets[i + 1] - index.raw_offsets[i]))
                assert isinstance(record, StepRecord)
                yield expand_step(record)

    def prompts(self, name: str, step: int, *, limit: int = VIEW_CHARS) -> str:
        """Every message the agent's models received at `step`, verbatim, turn by turn: the
        system prompt (with the hooks' output rendered in), the observation, earlier rounds."""
        text = render_prompts(self.step(name, step), title=f"{name} step {step}")
        return cut(text, limit, hint="Ask for one step at a time.")
