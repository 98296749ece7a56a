"""The review bundle: what the meta-LLM reads, rendered as plain files it can list, read and grep.

bundle/summary.md              per-seed table and diagnostics
bundle/traces/<env>__<seed>.txt one block per step: observation, each turn verbatim, results
bundle/memory/<env>/<seed>/    the final memory directory of each episode
bundle/scaffold/               the incumbent scaffold's files (read-only reference)
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import msgspec
from automem_agent.trace import StepRecord, Trace, iter_traces
from automem_envs._types import env_family

STUCK_MIN_STEPS = 5


class EpisodeDiagnostics(msgspec.Struct, frozen=True, kw_only=True):
    """The numbers `summary.md` reports for one episode."""

    key: str
    env_id: str
    seed: int
    finished: bool
    steps: int
    progression: float
    achievements: list[str]
    invalid_action_rate: float
    fallback_actions: int
    write_to_search: float | None
    memory_growth_per_step: float
    final_memory_bytes: int
    stuck_spans: list[tuple[int, int]]  # (first step, last step) with an unchanged observation
    longest_without_gain: int


def stuck_spans(steps: list[StepRecord], min_len: int = STUCK_MIN_STEPS) -> list[tuple[int, int]]:
    """Maximal runs of at least `min_len` steps whose observation text did not change."""
    spans: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(steps) + 1):
        if i < len(steps) and steps[i].observation == steps[start].observation:
            continue
        if i - start >= min_len:
            spans.append((steps[start].step, steps[i - 1].step))
        start = i
    return spans


def _longest_without_gain(steps: list[StepRecord]) -> int:
    best = run = 0
    last = 0.0
    for step in steps:
        if step.progression > last:
            last, run = step.progression, 0
        else:
            run += 1
            best = max(best, run)
    return best


def diagnose(trace: Trace) -> EpisodeDiagnostics:
    """Per-episode diagnostics from a trace (finished or cut off)."""
    steps = trace.steps
    summary = trace.summary
    n = len(steps)
    progression = summary.stats.progression if summary else (steps[-1].progression if steps else 0)
    invalid = sum(1 for s in steps if not s.valid_action)
    ops: dict[str, int] = {}
    for s in steps:
        for kind, count in s.op_counts.items():
            ops[kind] = ops.get(kind, 0) + count
    writes = sum(ops.get(k, 0) for k in ("append", "write", "create", "str_replace", "insert"))
    searches = sum(ops.get(k, 0) for k in ("search", "read", "tail", "count"))
    if summary is not None:
        w2s, growth = summary.write_to_search, summary.memory_growth_per_step
    else:
        w2s = writes / searches if searches else None
        growth = (steps[-1].memory_bytes / n) if n else 0.0
    h = trace.header
    return EpisodeDiagnostics(
        key=f"{h.env_id.replace('/', '-')}__{h.seed}",
        env_id=h.env_id,
        seed=h.seed,
        finished=summary is not None,
        steps=n,
        progression=progression,
        achievements=list(summary.stats.achievements) if summary else [],
        invalid_action_rate=invalid / n if n else 0.0,
        fallback_actions=sum(1 for s in steps if s.fallback),
        write_to_search=w2s,
        memory_growth_per_step=growth,
        final_memory_bytes=steps[-1].memory_bytes if steps else 0,
        stuck_spans=stuck_spans(steps),
        longest_without_gain=_longest_without_gain(steps),
    )


def render_trace(trace: Trace) -> str:
    """A trace as readable text: a header, then one block per step."""
    h = trace.header
    out = [
        f"# {h.env_id} seed {h.seed} | scaffold {h.scaffold_name} ({h.scaffold_hash[:12]})",
        f"# models: {', '.join(f'{k}={v}' for k, v in h.models.items())} | max_steps {h.max_steps}",
        "",
    ]
    for step in trace.steps:
        valid = "valid" if step.valid_action else f"INVALID, ran {step.executed_action!r}"
        fallback = " FALLBACK" if step.fallback else ""
        out.append(
            f"=== step {step.step} | progression {step.progression:.3f} | reward {step.reward:g} "
            f"| action {step.action!r} ({valid}){fallback} | memory {step.memory_bytes} B"
        )
        out.append("--- observation")
        out.append(step.observation.rstrip())
        for turn in step.turns:
            cut = " [cut at max_tokens]" if turn.finish_reason == "length" else ""
            out.append(f"--- {turn.phase} round {turn.round} ({turn.role} model){cut}")
            out.append(turn.response.rstrip() or "(empty response)")
            for result in turn.results:
                status = "ok" if result.ok else f"ERROR {result.error or ''}".rstrip()
                text = result.text.replace("\n", "\n     ")
                out.append(f"  -> {result.op} [{status}] {text}")
            if turn.error:
                out.append(f"  !! {turn.error}")
        for event in getattr(step, "events", None) or []:
            out.append(f"  !! EVENT {event}")
        out.append("")
    if trace.summary is not None:
        s = trace.summary
        out.append(
            f"=== end: {s.status} after {s.steps} steps | progression {s.stats.progression:.3f} "
            f"| achievements {', '.join(s.stats.achievements) or '-'}"
        )
    else:
        out.append("=== (trace cut off: no summary)")
    return "\n".join(out) + "\n"


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def render_summary(diags: Iterable[EpisodeDiagnostics], *, title: str) -> str:
    """`summary.md`: a per-seed table, per-env means and the stuck spans."""
    diags = sorted(diags, key=lambda d: (d.env_id, d.seed))
    lines = [
        f"# {title}",
        "",
        "| episode | steps | progression | achievements | invalid rate | write/search "
        "| memory growth/step | final memory B | longest w/o gain |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in diags:
        lines.append(
            f"| {d.key}{'' if d.finished else ' (cut off)'} | {d.steps} | {d.progression:.3f} "
            f"| {', '.join(d.achievements) or '-'} | {d.invalid_action_rate:.2f} "
            f"| {_fmt(d.write_to_search)} | {d.memory_growth_per_step:.1f} "
            f"| {d.final_memory_bytes} | {d.longest_without_gain} |"
        )
    families: dict[str, list[float]] = {}
    for d in diags:
        families.setdefault(env_family(d.env_id), []).append(d.progression)
    lines += ["", "## Mean progression per env family", ""]
    for fam, values in sorted(families.items()):
        lines.append(f"- {fam}: {100 * sum(values) / len(values):.1f}% over {len(values)} episodes")
    lines += ["", f"## Stuck spans (observation unchanged for >= {STUCK_MIN_STEPS} steps)", ""]
    any_stuck = False
    for d in diags:
        if d.stuck_spans:
            any_stuck = True
            spans = ", ".join(f"{a}-{b} ({b - a + 1})" for a, b in d.stuck_spans[:20])
            lines.append(f"- {d.key}: {spans}")
    if not any_stuck:
        lines.append("- none")
    lines += [
        "",
        "Traces: `bundle/traces/<episode>.txt` (one `=== step N` block per step; grep for",
        "`INVALID`, `ERROR`, `FALLBACK` or `progression`). Final memories: `bundle/memory/`.",
    ]
    return "\n".join(lines) + "\n"


def build_bundle(
    eval_root: Path, scaffold_dir: Path, bundle_dir: Path, *, title: str
) -> list[EpisodeDiagnostics]:
    """Writes the bundle for the evaluation under `eval_root` (holding `eval/` and `memory/`).

    Returns the per-episode diagnostics. Overwrites `bundle_dir`.
    """
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)
    (bundle_dir / "traces").mkdir(parents=True)
    diags = []
    eval_dir = eval_root / "eval"
    traces = list(iter_traces(eval_dir)) if eval_dir.exists() else []
    for trace in traces:
        d = diagnose(trace)
        diags.append(d)
        (bundle_dir / "traces" / f"{d.key}.txt").write_text(render_trace(trace), encoding="utf-8")
    (bundle_dir / "summary.md").write_text(render_summary(diags, title=title), encoding="utf-8")
    if (eval_root / "memory").exists():
        shutil.copytree(eval_root / "memory", bundle_dir / "memory")
    else:
        (bundle_dir / "memory").mkdir()
    shutil.copytree(
        scaffold_dir, bundle_dir / "scaffold", ignore=shutil.ignore_patterns("__pycache__")
    )
    return diags
