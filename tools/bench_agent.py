"""Benchmarks for the agent harness (see packages/agent/README.md, "Benchmarks").

1. Harness overhead per step on Crafter with a zero-latency scripted model: everything but the
   LLM (env step, memfs ops, prompt building, parsing, trace writing), p50/p99, against the raw
   env step measured in the same run. Target: <= 3 ms p50. With it, the trace bytes per step as
   written (each prompt once per step) against the same steps with every turn's prompt whole.
2. Concurrency scaling with a fake model of fixed 100 ms latency at 1, 8, 32 and 64 concurrent
   episodes: steady-state steps/s and the ratio to 1 episode. Target: >= 20x at 32 on 2 cores.
3. SmolLM2-135M on CPU: prompt and generation tokens/s for a real LOG and a real PLAN prompt.

    uv run python tools/bench_agent.py [--quick] [--skip-smollm2]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from automem_agent import (
    EpisodeContext,
    RoleModels,
    ScriptedModel,
    builtin_scaffold,
    iter_traces,
    load_scaffold,
    memory_agent_factory,
    run_suite,
)
from automem_envs import EpisodeSpec, Suite

sys.path.insert(0, str(Path(__file__).parents[1] / "packages" / "agent" / "tests"))
from probe_policy import probe_policy  # automem-agent's scripted test policy

CRAFTER_MOVES = ["move west", "move east", "move north", "move south", "do", "noop"]
NLE_MOVES = ["north", "east", "south", "west", "search"]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


class _Timed:
    """Wraps an agent factory and stamps the time each `act` starts, per episode."""

    def __init__(self, factory):
        self.factory = factory
        self.stamps: dict[tuple[str, int], list[float]] = {}

    def __call__(self, ctx: EpisodeContext):
        agent = self.factory(ctx)
        stamps = self.stamps.setdefault((ctx.spec.env_id, ctx.spec.seed), [])
        inner = agent.act

        async def act(observation, previous):
            stamps.append(time.perf_counter())
            return await inner(observation, previous)

        agent.act = act
        return agent


def raw_env_steps(n: int) -> list[float]:
    from automem_envs import make

    env = make("crafter", seed=1, max_steps=n + 10)
    env.reset()
    rng = random.Random(0)
    times = []
    for _ in range(n):
        action = rng.choice(CRAFTER_MOVES)
        t = time.perf_counter()
        result = env.step(action)
        times.append(time.perf_counter() - t)
        if result.done or result.truncated:
            env.reset()  # untimed
    env.close()
    return times


def harness_steps(n: int, out: Path) -> list[float]:
    scaffold = load_scaffold(builtin_scaffold("v0"))
    model = ScriptedModel(probe_policy(CRAFTER_MOVES, syntax=scaffold.manifest.syntax))
    timed = _Timed(memory_agent_factory(scaffold, RoleModels.single(model)))
    times: list[float] = []
    seed = 0
    while len(times) < n:  # an episode can end early (the player dies): play more seeds
        seed += 1
        spec = EpisodeSpec(env_id="crafter", seed=seed, max_steps=n - len(times) + 1)
        suite = Suite(name="bench", episodes=[spec])
        asyncio.run(run_suite(suite, timed, out, concurrency=1, progress=False))
        stamps = timed.stamps[("crafter", seed)]
        times += [b - a for a, b in itertools.pairwise(stamps)]
    return times


def trace_bytes_per_step(out: Path) -> tuple[float, float, int]:
    """(bytes per step as written, bytes per step with whole prompts, steps) over the traces
    under `out`: the written step lines against the same steps re-encoded after reading."""
    import msgspec

    written = whole = steps = 0
    for trace in iter_traces(out):
        lines = Path(trace.path).read_bytes().split(b"\n")[1 : 1 + len(trace.steps)]
        written += sum(len(line) for line in lines)
        whole += sum(len(msgspec.json.encode(step)) for step in trace.steps)
        steps += len(trace.steps)
    return written / steps, whole / steps, steps


def scaling(
    env_id: str, concurrency: int, steps: int, latency: float, out: Path
) -> tuple[float, int]:
    """Steady-state steps/s with `concurrency` episodes: steps made between the moment every
    episode has made its first step and the moment the first one ends (resets excluded)."""
    scaffold = load_scaffold(builtin_scaffold("v0"))
    moves = CRAFTER_MOVES if env_id == "crafter" else NLE_MOVES
    policy = probe_policy(moves, syntax=scaffold.manifest.syntax)

    async def slow(request):
        await asyncio.sleep(latency)
        return policy(request)

    timed = _Timed(memory_agent_factory(scaffold, RoleModels.single(ScriptedModel(slow))))
    episodes = [EpisodeSpec(env_id=env_id, seed=s, max_steps=steps) for s in range(concurrency)]
    asyncio.run(
        run_suite(
            Suite(name="scale", episodes=episodes),
            timed,
            out,
            concurrency=concurrency,
            progress=False,
        )
    )
    start = max(s[0] for s in timed.stamps.values())
    end = min(s[-1] for s in timed.stamps.values())
    made = sum(sum(start <= t <= end for t in s) for s in timed.stamps.values())
    return (made - 1) / (end - start) if end > start else float("nan"), made


def smollm2_rates() -> list[tuple[str, int, float, int, float]]:
    from automem_agent import ChatRequest, load_model

    model = load_model("smollm2")
    scaffold = load_scaffold(builtin_scaffold("v0"))
    captured: list[ChatRequest] = []
    policy = probe_policy(CRAFTER_MOVES, syntax=scaffold.manifest.syntax)

    def capture(request):
        captured.append(request)
        return policy(request)

    with tempfile.TemporaryDirectory() as tmp:
        suite = Suite(name="cap", episodes=[EpisodeSpec(env_id="crafter", seed=1, max_steps=2)])
        factory = memory_agent_factory(scaffold, RoleModels.single(ScriptedModel(capture)))
        asyncio.run(run_suite(suite, factory, tmp, concurrency=1, progress=False))
    log_req = captured[3]  # step 1's first LOG request (step 0's has no history to report)
    plan_req = captured[4]  # step 1's first PLAN request
    rows = []
    for name, req in (("LOG", log_req), ("PLAN", plan_req)):
        asyncio.run(model.complete(_with(req, max_tokens=1)))  # warm up
        pre = asyncio.run(model.complete(_with(req, max_tokens=1)))
        gen = asyncio.run(model.complete(_with(req, max_tokens=64)))
        extra = gen.output_tokens - pre.output_tokens
        gen_s = gen.latency_s - pre.latency_s
        # A reply that ends (EOS) after a few tokens leaves nothing to time: report no rate.
        rate = extra / gen_s if extra >= 4 and gen_s > 0 else float("nan")
        rows.append((name, pre.input_tokens, pre.input_tokens / pre.latency_s, extra, rate))
    return rows


def _with(request, **changes):
    import msgspec

    return msgspec.structs.replace(request, **changes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer steps, concurrency up to 32")
    ap.add_argument("--skip-smollm2", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument(
        "--scale-env",
        default="nethack",
        help="env for the scaling runs (NetHack resets in ms; a Crafter reset takes seconds)",
    )
    args = ap.parse_args()
    n = 150 if args.quick else 400
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        raw = raw_env_steps(n)
        harness = harness_steps(n, tmp / "overhead")
        print("\n== harness overhead per step, Crafter, zero-latency scripted model ==")
        print(f"{'':28} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'steps':>6}")
        for name, xs in (("raw env.step (baseline)", raw), ("full agent step (harness)", harness)):
            print(
                f"{name:28} {1e3 * _pct(xs, 0.5):8.3f} {1e3 * _pct(xs, 0.99):8.3f} "
                f"{1e3 * statistics.fmean(xs):8.3f} {len(xs):6d}"
            )
        ratio = _pct(harness, 0.5) / _pct(raw, 0.5)
        print(
            f"harness/raw p50 ratio: {ratio:.1f}x; target: harness p50 <= 3 ms -> "
            f"{'MET' if _pct(harness, 0.5) <= 3e-3 else 'MISSED'}"
        )
        written, whole, steps = trace_bytes_per_step(tmp / "overhead")
        print(
            f"trace bytes per step over {steps} steps: {whole:,.0f} with every prompt whole "
            f"(baseline), {written:,.0f} as written ({whole / written:.1f}x smaller)"
        )

        if not args.skip_scaling:
            print(f"\n== concurrency scaling, fake model with 100 ms latency, {args.scale_env} ==")
            levels = [1, 8, 32] if args.quick else [1, 8, 32, 64]
            steps = 20 if args.quick else 40
            base = None
            print(f"{'episodes':>9} {'steps/s':>9} {'ratio vs 1':>11} {'steps in window':>16}")
            for c in levels:
                rate, made = scaling(args.scale_env, c, steps, 0.1, tmp / f"scale{c}")
                base = base or rate
                print(f"{c:>9} {rate:9.2f} {rate / base:10.1f}x {made:>16}")
            print("target: 32 episodes >= 20x the single-episode rate")

    if not args.skip_smollm2:
        print("\n== SmolLM2-135M-Instruct on CPU (v0 prompts, Crafter step 1) ==")
        print(f"{'prompt':6} {'in tok':>7} {'prompt tok/s':>13} {'gen tok':>8} {'gen tok/s':>10}")
        for name, tin, rin, tout, rout in smollm2_rates():
            print(f"{name:6} {tin:7d} {rin:13.1f} {tout:8d} {rout:10.1f}")
        print("(gen tok/s is nan when the reply ended with EOS within a few tokens)")


if __name__ == "__main__":
    main()
