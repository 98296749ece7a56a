"""Benchmark of Loop 1's review toolset on a bundle of 10 scripted Crafter episodes (seeds
42..51, BALROG's 2,000-step limit, real game, the scripted agent of
packages/scaffold/tests/review_scale_policies).

Prints: the bundle's build time and bytes; p50/p99 latency of each review tool; and the billed
tokens of a scripted survey (index -> 20 targeted reads -> one Python analysis -> an edit, as
`ScaleReviewer` does it through a real `ToolSession`) against the baseline of reading every
trace whole once, with the ratio. Tokens are characters / 4; the survey's unchanged request
prefix counts as cache reads at 0.1x, as Anthropic bills them.

    uv run python tools/bench_review.py [--steps 2000] [--episodes 10] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# the scripted agent and reviewer of the scale test (automem-scaffold's tests)
sys.path.insert(0, str(ROOT / "packages" / "scaffold" / "tests"))

from automem_agent import ScriptedModel, builtin_scaffold  # noqa: E402
from automem_agent.meta import Budget, ToolSession  # noqa: E402
from automem_envs import EpisodeSpec  # noqa: E402
from automem_scaffold import (  # noqa: E402
    REVIEW_SYSTEM,
    ReviewWorkspace,
    build_bundle,
    copy_scaffold,
    evaluate,
    validate_candidate,
)
from review_scale_policies import ScaleReviewer, agent_policy  # noqa: E402


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2]
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return p50, p99


def _time(fn, calls: list[dict]) -> tuple[float, float, int]:
    times, chars = [], 0
    for args in calls:
        start = time.perf_counter()
        out = fn(args)
        if asyncio.iscoroutine(out):
            out = asyncio.run(out)
        times.append(time.perf_counter() - start)
        chars = max(chars, len(out))
    p50, p99 = _quantiles(times)
    return p50, p99, chars


def _survey(workspace: ReviewWorkspace, keep: int | None) -> tuple[float, int, int, str]:
    reviewer = ScaleReviewer(reads=20)

    def validator() -> str:
        return validate_candidate(workspace.candidate_dir, env_id="crafter", seed=42).for_model()

    session = ToolSession(
        reviewer,
        workspace.tools(validator=validator),
        system=REVIEW_SYSTEM,
        budget=Budget(max_turns=20, max_tokens=10**9, max_wall_s=3600),
        max_tokens_per_turn=4096,
        keep_results=keep,
    )
    transcript = asyncio.run(session.run("Iteration 1. Diagnose, revise candidate/, then finish."))
    calls = sum(len(t.calls) for t in transcript.turns)
    return transcript.billed_tokens, transcript.input_tokens, calls, transcript.end_reason


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--episodes", type=int, default=10)
    p.add_argument("--keep", default=None, help="a directory to keep the run in")
    args = p.parse_args(argv)
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-review-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"# bench_review: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    start_dir = work / "start"
    if not start_dir.exists():
        copy_scaffold(builtin_scaffold("v0"), start_dir)
    it0 = work / "it0"
    episodes = [
        EpisodeSpec(env_id="crafter", seed=s, max_steps=args.steps)
        for s in range(42, 42 + args.episodes)
    ]
    t0 = time.perf_counter()
    asyncio.run(evaluate(start_dir, episodes, it0, model=ScriptedModel(agent_policy)))
    play_s = time.perf_counter() - t0

    bundle = work / "bundle"
    t0 = time.perf_counter()
    indexes = build_bundle(it0, start_dir, bundle, title="bench")
    build_s = time.perf_counter() - t0
    steps = sum(i.steps for i in indexes)
    endings = sorted({i.ended for i in indexes})
    text_bytes = sum((bundle / "traces" / f"{i.name}.txt").stat().st_size for i in indexes)
    raw_bytes = _bytes(bundle / "raw")
    print(
        f"\nepisodes: {len(indexes)} x <= {args.steps} steps = {steps} steps played "
        f"({', '.join(endings)}), in {play_s:.0f} s"
    )
    print(f"\n{'bundle':<28} {'value':>14}")
    print(f"{'build time s':<28} {build_s:>14.2f}")
    print(f"{'total bytes':<28} {_bytes(bundle):>14,}")
    print(f"{'raw traces bytes':<28} {raw_bytes:>14,}")
    print(f"{'rendered text bytes':<28} {text_bytes:>14,}")
    print(f"{'rendered bytes per step':<28} {text_bytes / max(1, steps):>14.0f}")

    candidate = work / "candidate"
    shutil.rmtree(candidate, ignore_errors=True)
    shutil.copytree(bundle / "scaffold", candidate)
    t0 = time.perf_counter()
    workspace = ReviewWorkspace(bundle, candidate)
    open_s = time.perf_counter() - t0
    tools = {t.name: t.handler for t in workspace.tools()}
    names = [i.name for i in indexes]
    n = {i.name: i.steps for i in indexes}

    def spread(k: int, width: int) -> list[dict]:
        out = []
        for j in range(k):
            name = names[j % len(names)]
            at = (j * 397) % max(1, n[name] - width)
            out.append({"episode": name, "start": at, "end": at + width - 1})
        return out

    env, seed = names[0].split("__")
    memory = f"bundle/memory/{env}/{seed}/notes.md"
    cases = [
        ("index (all episodes)", "index", [{}] * 20),
        ("index (one episode)", "index", [{"episode": e} for e in names * 2]),
        ("view 5 steps", "view", spread(40, 5)),
        ("view 50 steps (cut)", "view", spread(20, 50)),
        ("prompts of one step", "prompts", [{"episode": a["episode"], "step": a["start"]} for a in spread(40, 1)]),
        ("grep literal, all traces", "grep", [{"pattern": "make wood pickaxe", "path": "bundle/traces"}] * 10),
        ("grep regex + context", "grep", [{"pattern": r"REJECTED|INVALID|died", "regex": True, "context": 2, "path": "bundle/traces"}] * 10),
        ("read 200 lines", "read", [{"path": f"bundle/traces/{e}.txt", "start": 100, "end": 299} for e in names]),
        ("tail memory file", "tail", [{"path": memory, "n": 20}] * 20),
        ("python analysis", "python", [{"code": "print(sum(library.index(n).steps for n in library.names))"}] * 5),
        ("dry_run 10 steps (mid-episode)", "dry_run", [{"episode": a["episode"], "start": a["start"], "end": a["end"]} for a in spread(5, 10)]),
    ]  # fmt: skip
    hooks = candidate / "hooks.py"
    from review_scale_policies import GATE

    hooks.write_text(hooks.read_text() + GATE)  # a dry run of a real agent program
    print(f"\nworkspace open (memfs stores + indexes): {open_s:.2f} s")
    print(f"\n{'tool':<32} {'calls':>5} {'p50 ms':>9} {'p99 ms':>9} {'max chars':>10}")
    for label, tool, calls in cases:
        p50, p99, chars = _time(tools[tool], calls)
        print(f"{label:<32} {len(calls):>5} {p50 * 1000:>9.1f} {p99 * 1000:>9.1f} {chars:>10,}")

    shutil.rmtree(candidate)
    shutil.copytree(bundle / "scaffold", candidate)
    billed, fresh_in, calls, end = _survey(ReviewWorkspace(bundle, candidate), keep=2)
    shutil.rmtree(candidate)
    shutil.copytree(bundle / "scaffold", candidate)
    billed_all, _, _, _ = _survey(ReviewWorkspace(bundle, candidate), keep=None)
    baseline = text_bytes / 4  # every rendered trace read whole, once
    print(f"\n{'tokens':<52} {'billed':>12} {'ratio':>8}")
    print(f"{'baseline: read every trace whole (once)':<52} {baseline:>12,.0f} {1:>8.1f}")
    print(
        f"{f'survey, results trimmed after read ({calls} calls, {end})':<52} {billed:>12,.0f} "
        f"{baseline / max(1.0, billed):>8.1f}"
    )
    print(
        f"{'survey, results kept in context':<52} {billed_all:>12,.0f} "
        f"{baseline / max(1.0, billed_all):>8.1f}"
    )
    print(f"(survey input tokens before cache discount: {fresh_in:,}; ratio = baseline / survey)")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
