"""The end of a Loop 2 run: `loss.png` (every trial's loss curve) and `report.md` (where the
pool came from, the trials ledger, and the best trial's before/after table)."""

from __future__ import annotations

from pathlib import Path

import msgspec
from automem_agent import write_text_atomic

from automem_train._recipe import TrialRecord, best_trial, ledger_table
from automem_train._trainer import read_loss_log


class PoolRecord(msgspec.Struct, frozen=True, kw_only=True):
    """`pool.json`: where the candidate turns came from and what was left out."""

    sources: list[str]
    episodes: int
    candidates: int
    collected_seeds: dict[str, list[int]] = {}  # env_id -> seeds (a pool this run collected)
    skipped_turns: int = 0  # turns from traces on evaluation seeds, never trained on
    skipped_episodes: list[str] = []  # "env_id seed N" of those traces
    loop1: str = ""  # Loop1Source.describe() when the run took Loop 1's incumbent


def plot_losses(run: Path, ledger: list[TrialRecord]) -> Path:
    """Writes `loss.png`: the response-token loss per optimizer step of every trained trial."""
    # A bare Figure draws with the Agg canvas without touching pyplot's global backend.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    plotted = False
    for r in ledger:
        records = read_loss_log(run / "trials" / f"{r.index:03d}" / "train")
        if records:
            plotted = True
            ax.plot(
                [x["step"] for x in records], [x["loss"] for x in records], label=f"trial {r.index}"
            )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("response-token loss")
    ax.grid(alpha=0.3)
    if plotted:
        ax.legend()
    fig.tight_layout()
    fig.savefig(run / "loss.png", dpi=100)
    return run / "loss.png"


def render_report(
    run: Path,
    ledger: list[TrialRecord],
    pool: PoolRecord | None,
    *,
    demo: bool = False,
    unsafe: bool = False,
    scale_line: str = "",
) -> str:
    """The text of `report.md`; `scale_line` (the run's protocol, scale and overrides) tops it."""
    lines = ["# Loop 2 run", ""]
    if scale_line:
        lines += [scale_line, ""]
    if demo:
        lines += ["**Demo scale**: a tiny pool and a few LoRA steps on CPU; not results.", ""]
    if unsafe:
        lines += ["**UNSAFE**: the selector and hooks ran without the bubblewrap sandbox.", ""]
    if pool is not None:
        lines += ["## Pool", ""]
        if pool.loop1:
            lines.append(f"- {pool.loop1}")
        lines.append(
            f"- {pool.candidates} candidate memory turns from {pool.episodes} episodes "
            f"({', '.join(pool.sources)})"
        )
        for env, seeds in sorted(pool.collected_seeds.items()):
            lines.append(f"- collected {env} on seeds {_ranges(seeds)}")
        if pool.skipped_turns:
            lines.append(
                f"- skipped {pool.skipped_turns} turns from {len(pool.skipped_episodes)} "
                f"traces on evaluation seeds: {', '.join(pool.skipped_episodes[:20])}"
            )
        lines.append("")
    lines += ["## Trials", "", "```", ledger_table(ledger), "```", ""]
    best = best_trial(ledger)
    lines += ["## Best trial", ""]
    if best is None:
        lines += ["No trial succeeded.", ""]
    else:
        lines.append(
            f"Trial {best.index} (`{best.recipe.name}`, {best.proposer}); adapter in "
            "`best/adapter/`."
        )
        if best.comparison is not None:
            lines += [
                "",
                "Before (base model in every role) and after (the specialist in the memory "
                "role): progression x100 ± standard error, write-to-search ratio, memory "
                "growth per step (characters).",
                "",
                "```",
                best.comparison.table(),
                "```",
            ]
        else:
            lines += ["", "Not evaluated (`--no-eval`)."]
        lines.append("")
    lines += ["## Loss", "", "![loss curves](loss.png)", ""]
    for r in ledger:
        if (run / "trials" / f"{r.index:03d}" / "train" / "loss.png").is_file():
            lines.append(f"- trial {r.index}: [loss](trials/{r.index:03d}/train/loss.png)")
    lines += [
        "",
        "Records: `config.toml`, `recipe.json`, `pool.json`, `trials.jsonl`, `train.log`.",
    ]
    return "\n".join(lines) + "\n"


def _ranges(seeds: list[int]) -> str:
    """`[1000, 1001, 1002, 1005]` -> "1000-1002,1005" (the seed syntax of every app)."""
    runs: list[list[int]] = []
    for s in sorted(set(seeds)):
        if runs and runs[-1][1] == s - 1:
            runs[-1][1] = s
        else:
            runs.append([s, s])
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


def write_report(
    run: Path,
    ledger: list[TrialRecord],
    pool: PoolRecord | None,
    *,
    demo: bool = False,
    unsafe: bool = False,
    scale_line: str = "",
) -> Path:
    """Writes `loss.png` and `report.md` into the run directory; returns the report's path."""
    plot_losses(run, ledger)
    text = render_report(run, ledger, pool, demo=demo, unsafe=unsafe, scale_line=scale_line)
    write_text_atomic(run / "report.md", text)
    return run / "report.md"
