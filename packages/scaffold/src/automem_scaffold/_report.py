"""The end of a run: `summary.json`, `report.md` (linking diffs and reviews), `progression.png`
and the iterations table printed to the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from automem_agent import write_json_atomic, write_text_atomic

from automem_scaffold._screen import ScreenSavings

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_DECISION_COLORS = {"start": "tab:blue", "kept": "tab:green", "rejected": "tab:red"}


class IterationRow(msgspec.Struct, frozen=True, kw_only=True):
    iteration: int
    parent: int | None
    kept: bool
    stage: str
    reason: str
    mean_progression: float | None
    per_env: dict[str, float]
    incumbent_after: int
    meta_tokens: int
    agent_tokens: int
    timings: dict[str, float] = {}
    accept_mean: float | None = None  # with three pools: the mean on the accept pool
    search_accept_gap: float | None = None  # gain over the parent: search minus accept
    # memory figures of the iteration's evaluation on the fixed seeds (None: not evaluated)
    write_to_search: float | None = None
    memory_growth_per_step: float | None = None  # characters per step, mean over episodes
    memory_ops: int | None = None  # the model's memory ops over all episodes
    parse_rate: dict[str, float] = {}  # phase ("log", "plan") -> share of turns that parsed


class RunSummary(msgspec.Struct, frozen=True, kw_only=True):
    """`summary.json`: how the run ended and what it found. `heldout_gap` is the final
    incumbent's fixed-seed mean minus its held-out mean (large = overfit to the fixed seeds)."""

    run_dir: str
    demo_scale: bool
    stopped: str  # "completed" or the budget that stopped the run
    iterations_planned: int
    iterations_done: int
    incumbent: int
    start_mean: float | None
    final_mean: float | None
    heldout_mean: float | None
    heldout_gap: float | None
    fixed_episodes: list[str]
    heldout_episodes: list[str]
    meta_tokens: int
    agent_tokens: int
    dollars: float
    rows: list[IterationRow]
    heldout_timings: dict[str, float] = {}
    unsafe_no_sandbox: bool = False  # LLM-written code ran without bubblewrap
    # gating (issue 15): the screens' savings, and the report pool played by the start scaffold
    screen: ScreenSavings | None = None
    report_start_mean: float | None = None
    accept_report_gap: float | None = None  # gain final - start: accept minus report
    scale_line: str = ""  # the run's protocol and scale (EvolveConfig.scale_line)

    def phase_totals(self) -> dict[str, float]:
        """Wall seconds per phase over the whole run, plus seconds inside the LLMs."""
        totals: dict[str, float] = {}
        for timings in [*(r.timings for r in self.rows), self.heldout_timings]:
            for name, value in timings.items():
                totals[name] = totals.get(name, 0.0) + value
        return totals


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _columns(head: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def format_table(summary: RunSummary) -> str:
    """The iterations table: progression per env, kept or rejected, tokens."""
    envs = sorted({e for r in summary.rows for e in r.per_env})
    head = [
        "iter",
        "parent",
        *[f"{e} %" for e in envs],
        "mean %",
        "decision",
        "meta tok",
        "agent tok",
    ]
    rows = []
    for r in summary.rows:
        decision = (
            "start" if r.stage == "start" else ("KEPT" if r.kept else f"rejected ({r.stage})")
        )
        rows.append(
            [
                f"{r.iteration:03d}",
                "-" if r.parent is None else f"{r.parent:03d}",
                *[_pct(r.per_env.get(e)) for e in envs],
                _pct(r.mean_progression),
                decision,
                str(r.meta_tokens),
                str(r.agent_tokens),
            ]
        )
    return _columns(head, rows)


def format_memory_table(summary: RunSummary) -> str:
    """Per evaluated iteration: mean progression, the model's memory ops, write-to-search,
    memory growth per step and the share of LOG and PLAN turns that parsed."""
    head = ["iter", "mean %", "mem ops", "write/search", "growth chars/step"]
    head += ["LOG parsed %", "PLAN parsed %"]
    rows = []
    for r in summary.rows:
        if r.memory_ops is None:
            continue  # rejected before evaluation
        ws = "-" if r.write_to_search is None else f"{r.write_to_search:.2f}"
        growth = "-" if r.memory_growth_per_step is None else f"{r.memory_growth_per_step:.1f}"
        rows.append(
            [
                f"{r.iteration:03d}",
                _pct(r.mean_progression),
                str(r.memory_ops),
                ws,
                growth,
                _pct(r.parse_rate.get("log")),
                _pct(r.parse_rate.get("plan")),
            ]
        )
    return _columns(head, rows) if rows else ""


def progression_note(summary: RunSummary) -> str | None:
    """A plain sentence when the evaluated scaffolds' mean progression never moved."""
    means = [r.mean_progression for r in summary.rows if r.mean_progression is not None]
    if not means or len(set(means)) > 1:
        return None
    if len(means) == 1:
        return f"Only the start scaffold was evaluated: mean progression {_pct(means[0])}%."
    scaffolds = (
        "both evaluated scaffolds" if len(means) == 2 else f"all {len(means)} evaluated scaffolds"
    )
    return (
        f"Mean progression did not move: {scaffolds} scored {_pct(means[0])}% on the fixed "
        "seeds; no revision changed what the agent achieved."
    )


def _headline(summary: RunSummary) -> list[str]:
    lines = [summary.scale_line] if summary.scale_line else []
    if summary.unsafe_no_sandbox:
        lines.append(
            "UNSAFE: --unsafe-no-sandbox was set, so the LLM-written hooks and validation ran "
            "WITHOUT the bubblewrap sandbox (they could read and write this user's files)."
        )
    if summary.demo_scale:
        lines.append(
            "DEMO-SCALE RUN: tiny offline models, few seeds and a small step cap. It shows the "
            "loop working end to end; its numbers say nothing about scaffold quality."
        )
    return lines


def _findings(summary: RunSummary) -> list[str]:
    lines = [
        f"incumbent: iteration {summary.incumbent:03d}; fixed-seed mean {_pct(summary.final_mean)}% "
        f"(start {_pct(summary.start_mean)}%)"
    ]
    if summary.heldout_mean is not None:
        lines.append(
            f"held-out mean {_pct(summary.heldout_mean)}% on {len(summary.heldout_episodes)} "
            f"episodes; gap fixed - held-out = {_pct(summary.heldout_gap)} points"
        )
    lines += _gating_findings(summary)
    lines.append(
        f"tokens: meta {summary.meta_tokens}, agent {summary.agent_tokens}; "
        f"priced cost ${summary.dollars:.4f}"
    )
    return lines


def _gating_findings(summary: RunSummary) -> list[str]:
    lines = []
    gaps = [
        f"{r.iteration:03d}: {_pct(r.search_accept_gap)}"
        for r in summary.rows
        if r.search_accept_gap is not None
    ]
    if gaps:
        lines.append(
            "search-accept gap per iteration (gain on search minus gain on accept, points): "
            + ", ".join(gaps)
        )
    if summary.report_start_mean is not None and summary.heldout_mean is not None:
        lines.append(
            f"report pool: start {_pct(summary.report_start_mean)}% -> final "
            f"{_pct(summary.heldout_mean)}%; accept-report gap (gain on accept minus gain on "
            f"report) {_pct(summary.accept_report_gap)} points"
        )
    s = summary.screen
    if s is not None and s.screened:
        lines.append(
            f"screen: {s.rejected} of {s.screened} candidate(s) rejected early; saved "
            f"~{s.saved_calls} calls / {s.saved_tokens} tokens for {s.cost_calls} calls / "
            f"{s.cost_tokens} tokens of screening: net {s.net_gpu_hours:.3f} GPU-hours "
            f"(at {s.tokens_per_s:g} tokens/s)"
        )
    return lines


def format_end(summary: RunSummary) -> str:
    """The closing text: scale, how it stopped, the table, held-out gap and costs."""
    lines = [*_headline(summary), f"run: {summary.run_dir} ({summary.stopped})", ""]
    lines += [format_table(summary), "", *_findings(summary)]
    memory = format_memory_table(summary)
    if memory:
        lines += ["", memory]
    if (note := progression_note(summary)) is not None:
        lines.append(note)
    lines.append(f"report: {Path(summary.run_dir) / 'report.md'}")
    return "\n".join(lines)


def render_report(summary: RunSummary) -> str:
    lines = ["# Loop 1 run report", "", *_headline(summary), ""]
    lines += [
        f"Run `{summary.run_dir}`: {summary.stopped}.",
        "",
        "```",
        format_table(summary),
        "```",
    ]
    lines += ["", *[f"- {line}" for line in _findings(summary)]]
    memory = format_memory_table(summary)
    if memory:
        lines += ["", "## Memory per iteration", "", "```", memory, "```", ""]
        lines.append(
            "Memory ops and write/search count the model's own ops (search, read, append, ...); "
            "growth is the memory's characters added per step, end size minus start size; "
            "parsed % is the share of LOG and PLAN turns whose reply parsed."
        )
    if (note := progression_note(summary)) is not None:
        lines += ["", f"**{note}**"]
    lines += ["", "![progression and memory growth](progression.png)", "", "## Iterations", ""]
    for r in summary.rows:
        it = f"iterations/{r.iteration:03d}"
        links = [f"[scaffold]({it}/scaffold/)"]
        if r.iteration > 0:
            links += [f"[diff]({it}/scaffold.diff)", f"[review]({it}/review.md)"]
        links.append(f"[decision]({it}/decision.json)")
        verdict = (
            "start" if r.stage == "start" else ("kept" if r.kept else f"rejected at {r.stage}")
        )
        lines.append(f"- **{r.iteration:03d}** ({verdict}): {r.reason} — {' · '.join(links)}")
    totals = summary.phase_totals()
    if totals:
        lines += ["", "## Time per phase (s)", ""]
        lines += [f"- {name}: {value:.1f}" for name, value in totals.items()]
    return "\n".join(lines) + "\n"


def _decision(r: IterationRow) -> str:
    return "start" if r.iteration == 0 else ("kept" if r.kept else "rejected")


def _plot_progression_panel(ax: Axes, summary: RunSummary) -> None:
    by_iter = {r.iteration: r for r in summary.rows}
    xs, ys = [], []
    for r in summary.rows:
        incumbent = by_iter.get(r.incumbent_after)
        if incumbent is not None and incumbent.mean_progression is not None:
            xs.append(r.iteration)
            ys.append(100 * incumbent.mean_progression)
    ax.step(xs, ys, where="post", label="incumbent", color="tab:blue")
    for kept, color, label in ((True, "tab:green", "kept"), (False, "tab:red", "rejected")):
        pts = [
            (r.iteration, 100 * r.mean_progression)
            for r in summary.rows
            if r.iteration > 0 and r.kept == kept and r.mean_progression is not None
        ]
        if pts:
            ax.scatter(*zip(*pts, strict=True), color=color, label=label, zorder=3)
    # Candidates rejected before evaluation have no progression: mark them on the incumbent line.
    level = dict(zip(xs, ys, strict=True))
    unevaluated = [
        (r.iteration, level[r.iteration])
        for r in summary.rows
        if r.iteration > 0 and r.mean_progression is None and r.iteration in level
    ]
    if unevaluated:
        ax.scatter(
            *zip(*unevaluated, strict=True),
            marker="x",
            color="tab:red",
            label="rejected before the gate",
            zorder=3,
        )
    if summary.heldout_mean is not None and xs:
        ax.axhline(100 * summary.heldout_mean, ls="--", color="gray", label="held-out (final)")
    levels = [*ys, *(100 * (r.mean_progression or 0.0) for r in summary.rows)]
    if summary.heldout_mean is not None:
        levels.append(100 * summary.heldout_mean)
    top = max(levels, default=0.0)
    ax.set_ylim(0, max(5.0, 1.15 * top))
    if progression_note(summary) is not None and len(xs) > 1:
        ax.text(
            0.5,
            0.5,
            "progression did not move",
            ha="center",
            va="center",
            color="gray",
            transform=ax.transAxes,
        )
    ax.set_ylabel("mean progression (%)")
    ax.set_title("Loop 1: incumbent progression" + (" (demo scale)" if summary.demo_scale else ""))
    ax.legend(loc="best", fontsize="small")


def _plot_growth_panel(ax: Axes, summary: RunSummary) -> None:
    rows = [r for r in summary.rows if r.memory_growth_per_step is not None]
    for name, color in _DECISION_COLORS.items():
        mine = [r for r in rows if _decision(r) == name]
        if mine:
            ax.bar(
                [r.iteration for r in mine],
                [r.memory_growth_per_step or 0.0 for r in mine],
                color=color,
                label=name,
                width=0.6,
            )
    if not rows:
        ax.text(
            0.5, 0.5, "no evaluated iteration", ha="center", va="center", transform=ax.transAxes
        )
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("memory growth (chars/step)")
    ax.set_title("memory growth per step of each evaluated scaffold")
    if rows:
        ax.legend(loc="best", fontsize="small")


def plot_progression(summary: RunSummary, path: Path) -> None:
    """Two panels over iterations: the incumbent's mean progression with each candidate as a
    point, and each evaluated scaffold's memory growth per step."""
    # A bare Figure draws with the Agg canvas without touching pyplot's global backend.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 6))
    top, bottom = fig.subplots(2, 1, sharex=True)
    _plot_progression_panel(top, summary)
    _plot_growth_panel(bottom, summary)
    bottom.xaxis.get_major_locator().set_params(integer=True)
    bottom.set_xlabel("iteration")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def write_outputs(run_dir: Path, summary: RunSummary) -> None:
    """Writes `summary.json`, `progression.png` and `report.md` into the run directory."""
    write_json_atomic(run_dir / "summary.json", summary)
    plot_progression(summary, run_dir / "progression.png")
    write_text_atomic(run_dir / "report.md", render_report(summary))
