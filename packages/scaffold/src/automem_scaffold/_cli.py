"""`uv run apps/evolve`: parse arguments into an `EvolveConfig`, run Loop 1, print the table."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from automem_scaffold._config import DEMO_MODELS, DEMO_START_CAPS, EvolveConfig, EvolveError
from automem_scaffold._gate import GATE_RULES

DEFAULTS = EvolveConfig(run_dir="runs/evolve")
REAL_REVIEW = EvolveConfig(
    run_dir="", review_turns=40, review_tokens=1_000_000, review_wall_s=1800.0, meta_max_tokens=4096
)


def build_parser() -> argparse.ArgumentParser:
    d = DEFAULTS
    p = argparse.ArgumentParser(
        prog="apps/evolve",
        description="Loop 1: a meta-LLM reviews traces and revises the agent's scaffold; a revision "
        "is kept only if mean progression on the same fixed seeds improves. With no arguments it "
        "runs an offline demo (SmolLM2 as agent and meta-LLM, 2 Crafter seeds, a small step cap); "
        "--meta-llm rules is the rule-based baseline reviewer (not a meta-LLM).",
    )
    p.add_argument("--suite", default=d.suite, help="suite name (default: %(default)s)")
    p.add_argument("--env", action="append", help="env id; repeat for several (default: crafter)")
    p.add_argument("--seeds", type=int, default=d.seeds, help="fixed gate seeds per env")
    p.add_argument(
        "--held-out", type=int, default=d.held_out, help="held-out seeds per env (0: none)"
    )
    p.add_argument("--max-steps", type=int, default=d.max_steps, help="step cap per episode")
    p.add_argument("--iterations", type=int, default=d.iterations)
    p.add_argument("--agent-llm", default=d.agent_llm, help="agent model spec (load_model)")
    p.add_argument(
        "--meta-llm",
        default=d.meta_llm,
        help="meta-LLM spec, e.g. anthropic:claude-opus-4-5; claude-code[:MODEL] runs the Claude "
        "Code CLI headless; 'rules' is the rule-based baseline reviewer (default: %(default)s)",
    )
    p.add_argument("--run-dir", default=d.run_dir, help="run directory; rerun to resume")
    p.add_argument(
        "--from",
        dest="from_scaffold",
        default=d.from_scaffold,
        help="start scaffold: a directory or a built-in name (default: v0)",
    )
    p.add_argument(
        "--gate",
        choices=GATE_RULES,
        default=d.gate,
        help="mean: keep iff mean progression improves (paper); "
        "paired-ci: keep iff the paired bootstrap CI's lower bound is > 0",
    )
    p.add_argument("--ci-level", type=float, default=d.ci_level)
    p.add_argument("--concurrency", type=int, default=d.concurrency, help="episodes at once")
    p.add_argument(
        "--review-turns", type=int, default=None, help="meta-LLM turns per review (demo 2, real 40)"
    )
    p.add_argument(
        "--review-tokens", type=int, default=None, help="input+output tokens per review (real: 1M)"
    )
    p.add_argument("--review-wall", type=float, default=None, help="seconds per review")
    p.add_argument(
        "--meta-max-tokens",
        type=int,
        default=None,
        help="tokens per meta reply (demo 96, real 4096)",
    )
    p.add_argument("--repair-attempts", type=int, default=d.repair_attempts)
    p.add_argument(
        "--attempts",
        type=int,
        default=d.attempts,
        help="fresh review attempts per iteration (default: %(default)s)",
    )
    p.add_argument(
        "--continuations",
        type=int,
        default=d.continuations,
        help="continuations of a failed attempt's session per iteration (default: %(default)s)",
    )
    p.add_argument("--smoke-steps", type=int, default=d.smoke_steps)
    p.add_argument("--validate-timeout", type=float, default=d.validate_wall_s)
    p.add_argument("--validate-memory-mb", type=int, default=d.validate_memory_mb)
    p.add_argument(
        "--start-max-rounds",
        type=int,
        default=None,
        help="cap the start scaffold's rounds per phase (demo agents: 1)",
    )
    p.add_argument(
        "--start-max-tokens",
        type=int,
        default=None,
        help="cap the start scaffold's tokens per reply (demo agents: 24)",
    )
    p.add_argument("--no-caps", action="store_true", help="use the start scaffold as shipped")
    p.add_argument(
        "--max-meta-tokens", type=int, default=None, help="stop once the meta-LLM used this many"
    )
    p.add_argument(
        "--max-cost", type=float, default=None, help="stop once this many dollars are spent"
    )
    p.add_argument("--max-hours", type=float, default=None, help="stop after this many hours")
    p.add_argument("--no-progress", action="store_true", help="no live progress bars")
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run LLM-written code (hooks, validation) without the bubblewrap sandbox, where "
        "bwrap cannot run; logged and reported as unsafe",
    )
    g = p.add_argument_group("gating (default: the paper's full evaluation, strict > on the mean)")
    g.add_argument(
        "--screen-seeds",
        type=int,
        default=d.screen_seeds,
        help="screen seeds per env (0 = no screen)",
    )
    g.add_argument("--screen-steps", type=int, default=None, help="the screen's cut step limit")
    g.add_argument(
        "--screen-margin",
        type=float,
        default=d.screen_margin,
        help="reject at the screen when below the incumbent by more",
    )
    g.add_argument(
        "--accept-seeds",
        type=int,
        default=d.accept_seeds,
        help="accept-pool seeds per env (0 = gate on the reviewed seeds)",
    )
    g.add_argument(
        "--no-pareto", action="store_true", help="do not offer the review the Pareto archive"
    )
    return p


def config_from_args(args: argparse.Namespace) -> EvolveConfig:
    envs = [e for item in (args.env or ["crafter"]) for e in item.split(",") if e]
    rounds, tokens = args.start_max_rounds, args.start_max_tokens
    if args.agent_llm.split(":")[0] in DEMO_MODELS and not args.no_caps:
        rounds = rounds or DEMO_START_CAPS[0]
        tokens = tokens or DEMO_START_CAPS[1]
    # A CPU meta-LLM gets the demo's short reviews; a real one gets room to read traces.
    review = DEFAULTS if args.meta_llm.split(":")[0] in DEMO_MODELS else REAL_REVIEW

    def pick(value: object, name: str):
        return getattr(review, name) if value is None else value

    return EvolveConfig(
        run_dir=args.run_dir,
        suite=args.suite,
        envs=envs,
        seeds=args.seeds,
        held_out=args.held_out,
        max_steps=args.max_steps,
        iterations=args.iterations,
        agent_llm=args.agent_llm,
        meta_llm=args.meta_llm,
        from_scaffold=args.from_scaffold,
        start_max_rounds=rounds,
        start_max_tokens=tokens,
        gate=args.gate,
        ci_level=args.ci_level,
        concurrency=args.concurrency,
        review_turns=pick(args.review_turns, "review_turns"),
        review_tokens=pick(args.review_tokens, "review_tokens"),
        review_wall_s=pick(args.review_wall, "review_wall_s"),
        meta_max_tokens=pick(args.meta_max_tokens, "meta_max_tokens"),
        repair_attempts=args.repair_attempts,
        attempts=args.attempts,
        continuations=args.continuations,
        smoke_steps=args.smoke_steps,
        validate_wall_s=args.validate_timeout,
        validate_memory_mb=args.validate_memory_mb,
        max_meta_tokens=args.max_meta_tokens,
        max_cost=args.max_cost,
        max_hours=args.max_hours,
        unsafe_no_sandbox=args.unsafe_no_sandbox,
        screen_seeds=args.screen_seeds,
        screen_max_steps=args.screen_steps,
        screen_margin=args.screen_margin,
        accept_seeds=args.accept_seeds,
        pareto=not args.no_pareto,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `apps/evolve`; returns the process exit status."""
    from automem_scaffold._evolve import evolve
    from automem_scaffold._progress import Progress
    from automem_scaffold._report import format_end

    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    if config.demo_scale:
        reviewer = (
            "reviewer: rules (a rule-based baseline, not a meta-LLM)"
            if config.rule_reviewer
            else f"meta-LLM {config.meta_llm}"
        )
        print(
            f"Demo-scale run: agent {config.agent_llm}, {reviewer}, "
            f"{config.seeds} seed(s) x {config.max_steps} steps, {config.iterations} iteration(s)"
            + (
                f", start scaffold capped to {config.start_max_rounds} round(s) x "
                f"{config.start_max_tokens} tokens per phase. "
                if config.start_max_rounds or config.start_max_tokens
                else ". "
            )
            + "For the real thing: --meta-llm anthropic:<model> with ANTHROPIC_API_KEY set.",
            flush=True,
        )
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
