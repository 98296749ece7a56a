"""Loop 2: train a memory specialist from the agent's own memory decisions.

    uv run apps/train                       # offline demo: SmolLM2-135M on CPU, minutes
    uv run apps/train --from-run runs/x --base-llm hf:/models/qwen2.5-32b \\
        --meta-llm anthropic:claude-opus-4-5 --run-dir runs/y   # Loop 1's incumbent, ~100 episodes
    uv run apps/train --traces runs/x --suite automem --env crafter --trials 3 \\
        --base-llm hf:/models/qwen2.5-32b --meta-llm anthropic:claude-opus-4-5 --run-dir runs/y

Seeds are written as in every app: 42-51,60.
"""

import argparse
import sys

from automem_agent import JsonlError, parse_seeds
from automem_train import (
    HygieneError,
    Loop2Config,
    Loop2Error,
    demo_config,
    from_loop1,
    load_recipe,
    loop1_source,
    run_loop2,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="apps/train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--run-dir", default=None, help="run directory (resumes if it exists)")
    p.add_argument(
        "--from-run",
        default=None,
        help="a Loop 1 run directory: its incumbent scaffold plays the pool, on seeds outside "
        "every evaluation set of that run; suite, envs and step caps default to that run's",
    )
    p.add_argument(
        "--traces",
        action="append",
        default=[],
        help="trace file or directory; repeat (traces on evaluation seeds are skipped). "
        "Without it a pool is collected",
    )
    p.add_argument("--suite", default=None, help="automem (default), balrog, or a suite TOML file")
    p.add_argument("--env", action="append", default=[], help="env id or family; repeat")
    p.add_argument("--trials", type=int, default=None)
    p.add_argument("--base-llm", default=None, help="model spec of the base model")
    p.add_argument("--base-path", default=None, help="weights to train on (remote base-llm)")
    p.add_argument("--meta-llm", default=None, help="model spec of the meta-LLM")
    p.add_argument("--scaffold", default=None, help="built-in scaffold name or directory")
    p.add_argument(
        "--scaffold-rounds",
        type=int,
        default=None,
        help="cap LOG/PLAN rounds in the run's copy of the scaffold (CPU demos; the demo: 2)",
    )
    p.add_argument("--recipe", default=None, help="JSON file: the default (first) recipe")
    p.add_argument(
        "--eval-seeds",
        type=parse_seeds,
        default=None,
        help="subset of the suite's seeds, e.g. 42-44",
    )
    p.add_argument("--eval-max-steps", type=int, default=None)
    p.add_argument(
        "--pool-episodes",
        type=int,
        default=None,
        help="episodes to collect for the pool (default 100; the demo 2)",
    )
    p.add_argument(
        "--collect-seeds",
        type=parse_seeds,
        default=None,
        help="seeds for pool collection, e.g. 1000-1099 (default: counted up from 1000, "
        "skipping every evaluation seed)",
    )
    p.add_argument("--collect-max-steps", type=int, default=None)
    p.add_argument("--max-train-steps", type=int, default=None, help="cap on every recipe")
    p.add_argument(
        "--min-examples",
        type=int,
        default=None,
        help="fewest examples a trial trains on (default 300, as in the reference; demo 1)",
    )
    p.add_argument("--max-meta-tokens", type=int, default=None)
    p.add_argument("--max-hours", type=float, default=None)
    p.add_argument("--concurrency", type=int, default=None)
    p.add_argument("--allow-eval-seeds", action="store_true")
    p.add_argument("--no-eval", action="store_true", help="train only; skip the two-model eval")
    p.add_argument("--no-progress-bar", action="store_true")
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run LLM-written code (the selector, hooks) without the bubblewrap sandbox, where "
        "bwrap cannot run; the run says so at its start and end",
    )
    a = p.parse_args(argv)
    try:
        return _run(a)
    except (Loop2Error, HygieneError, JsonlError) as exc:  # bad input: one clear line
        print(f"apps/train: error: {exc}", file=sys.stderr)
        return 2


def _run(a: argparse.Namespace) -> int:
    base = (
        demo_config(a.run_dir or "runs/train-demo")
        if _is_demo(a)
        else Loop2Config(run_dir=a.run_dir or "runs/train")
    )
    if a.from_run:
        base = from_loop1(base, loop1_source(a.from_run))
    overrides = {
        "traces": a.traces or None,
        "suite": a.suite,
        "envs": a.env or None,
        "trials": a.trials,
        "base_llm": a.base_llm,
        "base_path": a.base_path,
        "meta_llm": a.meta_llm,
        "scaffold": a.scaffold,
        "scaffold_rounds": a.scaffold_rounds,
        "default_recipe": load_recipe(a.recipe) if a.recipe else None,
        "eval_seeds": a.eval_seeds,
        "eval_max_steps": a.eval_max_steps,
        "pool_episodes": a.pool_episodes,
        "collect_seeds": a.collect_seeds,
        "collect_max_steps": a.collect_max_steps,
        "max_train_steps": a.max_train_steps,
        "min_examples": a.min_examples,
        "max_meta_tokens": a.max_meta_tokens,
        "max_hours": a.max_hours,
        "concurrency": a.concurrency,
        "allow_eval_seeds": a.allow_eval_seeds or None,
        "evaluate": False if a.no_eval else None,
        "progress": False if a.no_progress_bar else None,
        "unsafe_no_sandbox": a.unsafe_no_sandbox or None,
    }
    config = base.with_overrides({k: v for k, v in overrides.items() if v is not None})
    best = run_loop2(config)
    return 0 if best is not None else 1


def _is_demo(a: argparse.Namespace) -> bool:
    # The offline default: no model named, so SmolLM2 on CPU at demo scale.
    return a.base_llm is None and a.meta_llm is None


if __name__ == "__main__":
    sys.exit(main())
