"""`apps/attribute`: finds an episode's trace in a run directory, estimates the replays' cost,
runs them and writes the per-write table."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from automem_agent import (
    package_version,
    parse_seeds,
    read_trace,
    resolve_scaffold,
    write_json_atomic,
)

from automem_scaffold._attribute import (
    DEFAULT_HORIZON,
    AttributionError,
    attribute_writes,
    estimate_replay_calls,
    format_attribution,
    writes_in,
)


def build_attribute_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="apps/attribute",
        description="What each memory write was worth: replay the episode without it and "
        "compare the progression reached `horizon` steps later.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("run_dir", type=Path, help="a Loop 1 run or an apps/play output directory")
    p.add_argument("--episode", required=True, help="episode key, e.g. crafter__42")
    p.add_argument("--steps", help="steps whose writes to test, e.g. 2,5-8 (default: all)")
    p.add_argument("--horizon", type=int, default=DEFAULT_HORIZON, help="steps after the write")
    p.add_argument("--iteration", type=int, help="in a Loop 1 run: which iteration's episode")
    p.add_argument("--scaffold", help="scaffold dir or built-in name (default: the iteration's)")
    p.add_argument("--agent-llm", help="model spec (default: the one named in the trace)")
    p.add_argument("--max-replays", type=int, help="test at most this many writes")
    p.add_argument("--max-calls", type=int, help="refuse to start above this many model calls")
    p.add_argument(
        "--plan",
        "--dry-run",
        dest="plan",
        action="store_true",
        help="print the estimate only; replay nothing",
    )
    p.add_argument(
        "--version", action="version", version=f"%(prog)s {package_version('automem-scaffold')}"
    )
    p.add_argument("--out", type=Path, help="table path (default RUN/attribution/EPISODE.json)")
    return p


def _locate(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """(trace, scaffold dir of that evaluation or None)."""
    env, _, seed = args.episode.rpartition("__")
    if not env or not seed.isdigit():
        raise AttributionError(f"--episode must look like crafter__42, got {args.episode!r}")
    roots = (
        [args.run_dir / "iterations" / f"{args.iteration:03d}"]
        if args.iteration is not None
        else [args.run_dir]
    )
    found = [
        p
        for root in roots
        for p in root.rglob(f"{seed}.jsonl")
        if "partial" not in p.parts
        and p.parent.parent.name == "eval"
        and read_trace(p).header.env_id.replace("/", "-") == env
    ]
    if not found:
        raise AttributionError(f"no trace of episode {args.episode} under {roots[0]}")
    if len(found) > 1:
        listed = ", ".join(str(p.relative_to(args.run_dir)) for p in found[:6])
        raise AttributionError(
            f"{args.episode} has {len(found)} traces ({listed}); pass --iteration"
        )
    eval_root = found[0].parent.parent.parent
    scaffold = eval_root / "scaffold"
    return found[0], scaffold if scaffold.is_dir() else None


def attribute_main(argv: list[str] | None = None) -> int:
    args = build_attribute_parser().parse_args(argv)
    try:
        trace_path, own_scaffold = _locate(args)
        if args.scaffold:
            scaffold = resolve_scaffold(args.scaffold)
        elif own_scaffold is not None:
            scaffold = own_scaffold
        else:
            raise AttributionError("this run keeps no scaffold beside the trace; pass --scaffold")
        steps = parse_seeds(args.steps) if args.steps else None
        trace = read_trace(trace_path)
        writes = writes_in(trace, steps)[: args.max_replays]
        estimate = estimate_replay_calls(trace, len(writes), args.horizon)
        print(f"{len(writes)} write(s) to replay; about {estimate} model calls", flush=True)
        if args.plan:
            return 0
        spec = (
            args.agent_llm
            or trace.header.models.get("memory")
            or next(iter(trace.header.models.values()), "")
        )
        from automem_agent.models import load_model

        table = asyncio.run(
            attribute_writes(
                trace_path,
                scaffold,
                load_model(spec),
                steps=steps,
                horizon=args.horizon,
                max_replays=args.max_replays,
                max_calls=args.max_calls,
            )
        )
    except (AttributionError, ValueError, OSError) as exc:
        print(f"apps/attribute: {exc}", file=sys.stderr)
        return 2
    out = args.out or args.run_dir / "attribution" / f"{args.episode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, table)
    print(format_attribution(table))
    print(f"table: {out}")
    return 0
