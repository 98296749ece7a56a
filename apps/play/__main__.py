"""Play or evaluate episodes: `uv run apps/play --env crafter --seeds 42-44 --llm smollm2`."""

import argparse
import sys

from automem_agent import PlayConfig, format_summary, parse_seeds, play


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="apps/play", description=__doc__)
    p.add_argument("--env", action="append", required=True, help="env id; repeat for several")
    p.add_argument("--seeds", default="42", help="e.g. 42-44 or 1,5,7-9")
    p.add_argument("--max-steps", type=int, default=30)
    p.add_argument("--no-progress-steps", type=int, default=None)
    p.add_argument("--agent", choices=["memory", "history"], default="memory")
    p.add_argument("--llm", default="smollm2", help="model spec for both roles")
    p.add_argument("--memory-llm", default=None)
    p.add_argument("--action-llm", default=None)
    p.add_argument("--memory-adapter", default=None, help="NAME (served) or NAME=DIR (local PEFT)")
    p.add_argument("--action-adapter", default=None, help="NAME (served) or NAME=DIR (local PEFT)")
    p.add_argument("--scaffold", default="v0", help="built-in scaffold name or directory")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--out", default=None, help="run directory (resumes if it exists)")
    p.add_argument("--no-progress-bar", action="store_true")
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run the scaffold's hooks without the bubblewrap sandbox (where bwrap cannot run)",
    )
    a = p.parse_args(argv)
    config = PlayConfig(
        envs=a.env,
        seeds=parse_seeds(a.seeds),
        max_steps=a.max_steps,
        no_progress_steps=a.no_progress_steps,
        agent=a.agent,
        llm=a.llm,
        memory_llm=a.memory_llm,
        action_llm=a.action_llm,
        memory_adapter=a.memory_adapter,
        action_adapter=a.action_adapter,
        scaffold=a.scaffold,
        concurrency=a.concurrency,
        out=a.out,
        progress=not a.no_progress_bar,
        unsafe_no_sandbox=a.unsafe_no_sandbox,
    )
    result, out = play(config)
    print(format_summary(result))
    print(f"run directory: {out}")
    return 1 if result.errored == len(result.episodes) and result.episodes else 0


if __name__ == "__main__":
    sys.exit(main())
