"""`uv run apps/evolve`: parse arguments into an `EvolveConfig`, run Loop 1, print the table."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from automem_agent import ProtocolError, add_run_arguments, protocol_from_args

from automem_scaffold._config import EvolveConfig, EvolveError
from automem_scaffold._gate import GATE_RULES

# Field defaults for settings a protocol leaves out (the protocols set most of them).
DEFAULTS = EvolveConfig(run_dir="runs/evolve")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="apps/evolve",
        description="Loop 1: a meta-LLM reviews traces and revises the agent's scaffold; a revision "
        "is kept only if mean progression on the same fixed seeds improves. With no arguments it "
        "runs the `demo` protocol offline (SmolLM2 through llama.cpp with grammar decoding, the "
        "rule-based reviewer, 3 Crafter seeds x 30 steps). Any other agent model runs the "
        "`paper` protocol unless --protocol says otherwise.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_run_arguments(p, distribution="automem-scaffold", run_dir_default="runs/evolve")
    p.add_argument(
        "--meta-llm",
        default=None,
        help="meta-LLM spec, e.g. anthropic:claude-opus-4-5; claude-code[:MODEL] runs the Claude "
        "Code CLI headless; 'rules' is the rule-based baseline reviewer, not a meta-LLM "
        "(default: the protocol's; demo: rules)",
    )
    p.add_argument("--suite", default=None, help="suite whose seeds are used (default: protocol's)")
    p.add_argument("--held-out", type=int, default=None, help="report-pool seeds per env (0: none)")
    p.add_argument("--iterations", type=int, default=None, help="review-gate iterations")
    p.add_argument(
        "--from",
        dest="from_scaffold",
        default=None,
        help="start scaffold: a directory or a built-in name (default: the protocol's)",
    )
    p.add_argument(
        "--gate",
        choices=GATE_RULES,
        default=None,
        help="mean: keep iff mean progression improves (paper); "
        "paired-ci: keep iff the paired bootstrap CI's lower bound is > 0",
    )
    p.add_argument("--ci-level", type=float, default=DEFAULTS.ci_level)
    p.add_argument("--concurrency", type=int, default=None, help="episodes at once")
    p.add_argument("--review-turns", type=int, default=None, help="meta-LLM turns per review")
    p.add_argument("--review-tokens", type=int, default=None, help="billed tokens per review")
    p.add_argument("--review-wall", type=float, default=None, help="seconds per review")
    p.add_argument("--meta-max-tokens", type=int, default=None, help="tokens per meta reply")
    p.add_argument("--repair-attempts", type=int, default=DEFAULTS.repair_attempts)
    p.add_argument("--attempts", type=int, default=None, help="fresh review attempts per iteration")
    p.add_argument(
        "--continuations",
        type=int,
        default=None,
        help="continuations of a failed attempt's session per iteration",
    )
    p.add_argument("--smoke-steps", type=int, default=DEFAULTS.smoke_steps)
    p.add_argument("--validate-timeout", type=float, default=DEFAULTS.validate_wall_s)
    p.add_argument("--validate-memory-mb", type=int, default=DEFAULTS.validate_memory_mb)
    p.add_argument(
        "--max-meta-tokens", type=int, default=None, help="stop once the meta-LLM used this many"
    )
    p.add_argument(
        "--max-cost", type=float, default=None, help="stop once this many dollars are spent"
    )
    p.add_argument("--max-hours", type=float, default=None, help="stop after this many hours")
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run LLM-written code (hooks, validation) without the bubblewrap sandbox, where "
        "bwrap cannot run; logged and reported as unsafe",
    )
    g = p.add_argument_group("gating (default: the protocol's; paper: full evaluation, strict >)")
    g.add_argument(
        "--screen-seeds", type=int, default=None, help="screen seeds per env (0 = no screen)"
    )
    g.add_argument("--screen-steps", type=int, default=None, help="the screen's cut step limit")
    g.add_argument(
        "--screen-margin",
        type=float,
        default=None,
        help="reject at the screen when below the incumbent by more",
    )
    g.add_argument(
        "--accept-seeds",
        type=int,
        default=None,
        help="accept-pool seeds per env (0 = gate on the reviewed seeds)",
    )
    g.add_argument(
        "--no-pareto", action="store_true", help="do not offer the review the Pareto archive"
    )
    g.add_argument(
        "--attribution-replays",
        type=int,
        default=None,
        help="counterfactual replays the reviewer's `attribute` tool may run per review "
        "session (0 = no tool); each costs agent calls, counted in the plan",
    )
    g.add_argument(
        "--attribution-horizon",
        type=int,
        default=None,
        help="live steps each attribution replay plays past the removed write",
    )
    return p


# flag attribute -> EvolveConfig field, for settings a protocol's [evolve] table may hold
_EVOLVE_FLAGS = {
    "meta_llm": "meta_llm",
    "suite": "suite",
    "held_out": "held_out",
    "iterations": "iterations",
    "gate": "gate",
    "concurrency": "concurrency",
    "review_turns": "review_turns",
    "review_tokens": "review_tokens",
    "review_wall": "review_wall_s",
    "meta_max_tokens": "meta_max_tokens",
    "screen_seeds": "screen_seeds",
    "screen_steps": "screen_max_steps",
    "screen_margin": "screen_margin",
    "accept_seeds": "accept_seeds",
    "attempts": "attempts",
    "continuations": "continuations",
    "attribution_replays": "attribution_replays",
    "attribution_horizon": "attribution_horizon",
}


def config_from_args(args: argparse.Namespace) -> EvolveConfig:
    """The run's config: the protocol's settings with the flags' overrides (listed in
    `overrides`, and so on the run's first output line and in config.toml)."""
    run = protocol_from_args(args)
    protocol = run.protocol
    settings = dict(protocol.evolve)
    unknown = set(settings) - set(EvolveConfig.__struct_fields__)
    if unknown:
        raise ProtocolError(f"protocol {protocol.name!r}: unknown [evolve] keys {sorted(unknown)}")
    overrides = list(run.overrides)
    for flag, field in _EVOLVE_FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            if field in settings and settings[field] != value:
                overrides.append(f"{field} {settings[field]} -> {value}")
            settings[field] = value
    if args.from_scaffold is not None and args.from_scaffold != protocol.agent.scaffold:
        overrides.append(f"start scaffold {protocol.agent.scaffold} -> {args.from_scaffold}")
    settings.setdefault("meta_llm", DEFAULTS.meta_llm)
    if settings.get("suite") is None:
        settings["suite"] = protocol.suite
    return EvolveConfig(
        **settings,
        run_dir=args.run_dir,
        protocol=protocol.name,
        envs=run.envs,
        seeds=run.seeds if run.seeds is not None else dict(protocol.seeds),
        max_steps=dict(protocol.max_steps),
        no_progress_steps=dict(protocol.no_progress_steps),
        observation_format=protocol.observation_format,
        action_set=protocol.action_set,
        agent_llm=run.agent_llm,
        from_scaffold=args.from_scaffold or protocol.agent.scaffold,
        start_max_rounds=protocol.agent.max_rounds,
        start_max_tokens=protocol.agent.max_tokens,
        start_temperature=protocol.agent.temperature,
        ci_level=args.ci_level,
        repair_attempts=args.repair_attempts,
        smoke_steps=args.smoke_steps,
        validate_wall_s=args.validate_timeout,
        validate_memory_mb=args.validate_memory_mb,
        max_meta_tokens=args.max_meta_tokens,
        max_cost=args.max_cost,
        max_hours=args.max_hours,
        unsafe_no_sandbox=args.unsafe_no_sandbox,
        pareto=not args.no_pareto,
        overrides=overrides,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `apps/evolve`; returns the process exit status."""
    from automem_scaffold._evolve import evolve
    from automem_scaffold._progress import Progress
    from automem_scaffold._report import format_end

    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except (ProtocolError, EvolveError, TypeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(config.scale_line, flush=True)
    from automem_scaffold._plan import format_plan, plan_run

    try:
        print(format_plan(plan_run(config)), flush=True)  # before anything is spent
    except EvolveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        return 0
    progress = Progress(config, enabled=not args.no_progress)
    try:
        summary = asyncio.run(evolve(config, progress=progress, show_episodes=not args.no_progress))
    except EvolveError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        progress.close()
    print(format_end(summary), flush=True)
    return 0
