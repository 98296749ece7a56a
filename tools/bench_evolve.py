"""Benchmark of Loop 1 on its offline default (`uv run apps/evolve` with no arguments).

Runs the default configuration in a fresh run directory and prints, per phase (evaluate,
review, validate, gate), the wall time, the time inside the LLMs (agent and meta-LLM latencies
recorded in the traces and the review sessions of the same run) and the share spent outside
the LLMs. The baseline for the ratios is the LLM time measured in the same run.

    uv run python tools/bench_evolve.py [--run-dir DIR] [extra apps/evolve arguments...]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path

from automem_scaffold import build_parser, config_from_args, evolve, format_table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run-dir", default=None, help="default: a fresh temporary directory")
    p.add_argument("--keep", action="store_true", help="keep the run directory")
    args, rest = p.parse_known_args(argv)
    run_dir = Path(args.run_dir or tempfile.mkdtemp(prefix="bench-evolve-"))
    if run_dir.exists() and any(run_dir.iterdir()):
        print(f"{run_dir} is not empty; give a fresh --run-dir", file=sys.stderr)
        return 2
    config = config_from_args(build_parser().parse_args([*rest, "--run-dir", str(run_dir)]))
    start = time.perf_counter()
    summary = asyncio.run(evolve(config))
    total = time.perf_counter() - start

    totals = summary.phase_totals()
    agent_llm, meta_llm = totals.get("agent_llm", 0.0), totals.get("meta_llm", 0.0)
    # Where each phase's LLM time sits: evaluations run the agent, reviews run the meta-LLM.
    eval_wall = totals.get("evaluate", 0.0) + totals.get("gate", 0.0)
    rows = [
        ("evaluate", totals.get("evaluate", 0.0)),
        ("review", totals.get("review", 0.0)),
        ("validate", totals.get("validate", 0.0)),
        ("gate", totals.get("gate", 0.0)),
    ]
    phases = sum(w for _, w in rows)
    print(
        f"\nLoop 1 offline default ({'demo scale' if summary.demo_scale else 'full'}): "
        f"{config.agent_llm} agent, {config.meta_llm} meta-LLM, {len(summary.fixed_episodes)} "
        f"fixed + {len(summary.heldout_episodes)} held-out episodes x {config.max_steps} steps, "
        f"{config.iterations} iterations\n"
    )
    print(format_table(summary))
    print(f"\n{'phase':<10} {'wall s':>8} {'share':>7} {'LLM s':>8} {'outside LLM':>12}")
    for name, wall in rows:
        if name == "review":
            llm = meta_llm
        elif name in ("evaluate", "gate"):
            llm = agent_llm * (wall / eval_wall) if eval_wall else 0.0
        else:
            llm = 0.0  # validation runs a scripted model only
        outside = 1 - llm / wall if wall else 0.0
        print(
            f"{name:<10} {wall:>8.1f} {wall / phases if phases else 0:>7.1%} {llm:>8.1f} {outside:>12.1%}"
        )
    llm_total = agent_llm + meta_llm
    print(
        f"{'phases':<10} {phases:>8.1f} {1:>7.0%} {llm_total:>8.1f} {1 - llm_total / phases if phases else 0:>12.1%}"
    )
    print(f"\nwhole process (model loading, bundles, reports included): {total:.1f} s")
    print(
        f"time outside the LLMs: {total - llm_total:.1f} s = {(total - llm_total) / total:.1%} of the run"
    )
    if llm_total:
        print(
            f"ratio outside-LLM / LLM time (baseline = LLM time in this run): {(total - llm_total) / llm_total:.2f}x"
        )
    print(f"agent LLM {agent_llm:.1f} s, meta-LLM {meta_llm:.1f} s")
    if args.run_dir is None and not args.keep:
        shutil.rmtree(run_dir, ignore_errors=True)
    else:
        print(f"run directory: {run_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
