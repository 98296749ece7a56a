"""Gating benchmark: LLM calls per kept revision with and without the screen, the screen's
false-reject rate, and the search-accept gap, on real Crafter seeds.

A scripted agent plays by the first `STRATEGY:` line of its system prompt, and a scripted
meta-LLM proposes a fixed sequence of candidates with known quality (idle, wander, wood, table,
pickaxe, and regressions). The same sequence runs twice through the real Loop 1 (three seed
pools, the chosen gate): once without a screen (the paper's full evaluation) and once with it.
Every candidate the screen rejected is then evaluated in full anyway, to count false rejects.

    uv run tools/bench_gate.py [--steps 80] [--seeds 3] [--accept 3] [--screen-steps 25]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from automem_agent import ChatRequest, ScriptedModel
from automem_memfs import Action, Done, format_call
from automem_scaffold import EvolveConfig, decide, evaluate, evolve, read_decisions

# The proposals in order: wood < table < pickaxe improve; idle/wander and repeats do not.
CANDIDATES = ["wander", "wood", "idle", "table", "wander", "pickaxe", "wood", "idle"]
_SEE = re.compile(r"(\w+) (\d+) (north|south|east|west)(?: and (\d+) (north|south|east|west))?")


def _toward(obs: str, thing: str) -> str | None:
    seen = re.search(r"You see:([^\n]*)", obs)
    for part in seen.group(1).split(",") if seen else []:
        m = _SEE.search(part.strip())
        if m and m.group(1) == thing:
            if m.group(4) and int(m.group(4)) > int(m.group(2)):
                return f"move {m.group(5)}"
            return f"move {m.group(3)}"
    return None


def _wood(obs: str) -> int:
    m = re.search(r"wood[: ](\d+)", obs)
    return int(m.group(1)) if m else 0


def play(strategy: str, obs: str, step: int) -> str:
    """The action a strategy takes; each later strategy unlocks more achievements."""
    if strategy == "idle":
        return "noop"
    if strategy == "wander":
        return ["move north", "move east", "move south", "move west"][(step // 3) % 4]
    wood = _wood(obs)
    seen = re.search(r"You see:([^\n]*)", obs)
    table = bool(seen and "table" in seen.group(1))  # the prompt names `place table` elsewhere
    facing_tree = bool(re.search(r"You face tree", obs))
    if strategy in ("table", "pickaxe") and wood >= 2 and not table:
        # a table needs 2 wood and a free cell in front; turning away from the tree frees it
        return (
            ["move south", "move west", "move north", "move east"][step % 4]
            if facing_tree
            else "place table"
        )
    if strategy == "pickaxe" and wood >= 1 and table:
        return "make wood pickaxe"
    if facing_tree:
        return "do"
    return _toward(obs, "tree") or "move north"


def agent_policy(request: ChatRequest) -> str:
    system = request.messages[0].content if request.messages else ""
    m = re.search(r"STRATEGY: (\w+)", system)
    user = "\n".join(x.content for x in request.messages if x.role == "user")
    step = re.findall(r"step (\d+)", user)
    obs = next((x.content for x in reversed(request.messages) if "You see" in x.content), "")
    action = play(m.group(1) if m else "idle", obs, int(step[-1]) if step else 0)
    return format_call(Done()) + "\n" + format_call(Action(text=action))


def _tag(name: str, **args: object) -> str:
    return f'<tool name="{name}">{json.dumps(args)}</tool>'


def meta_policy(request: ChatRequest) -> str:
    task = next((m.content for m in request.messages if m.role == "user"), "")
    iteration = int(re.search(r"Iteration (\d+)", task).group(1))  # type: ignore[union-attr]
    replies = sum(1 for m in request.messages if m.role == "assistant")
    line = f"STRATEGY: {CANDIDATES[(iteration - 1) % len(CANDIDATES)]}"
    plan = [
        _tag("insert", path="candidate/prompts/system.md", line=0, content=line),
        _tag("finish", rationale=f"try {line}"),
    ]
    return plan[min(replies, len(plan) - 1)]


def _calls(root: Path) -> int:
    total = 0
    for path in root.rglob("evaluation.json"):
        if "heldout" in path.parts or "report_start" in path.parts:
            continue  # the report pool is the same in both runs
        total += json.loads(path.read_text())["calls"]
    return total


async def _run(args: argparse.Namespace, run_dir: Path, screen: bool) -> dict[str, object]:
    config = EvolveConfig(
        run_dir=str(run_dir),
        seeds=args.seeds,
        accept_seeds=args.accept,
        held_out=1,
        max_steps=args.steps,
        iterations=len(CANDIDATES),
        agent_llm="scripted:bench_gate:agent_policy",
        meta_llm="scripted:bench_gate:meta_policy",
        gate=args.gate,
        review_turns=3,
        repair_attempts=0,
        concurrency=2,
        screen_seeds=args.screen_seeds if screen else 0,
        screen_max_steps=args.screen_steps if screen else None,
        screen_margin=args.margin,
        pareto=False,
    )
    start = time.perf_counter()
    summary = await evolve(
        config,
        agent_model=ScriptedModel(agent_policy, name="scripted-agent"),
        meta_model=ScriptedModel(meta_policy, name="scripted-meta"),
    )
    wall = time.perf_counter() - start
    decisions = read_decisions(run_dir)
    kept = sum(1 for k, d in decisions.items() if k > 0 and d.kept)
    gaps = [r.search_accept_gap for r in summary.rows if r.search_accept_gap is not None]
    false_rejects = 0
    screened_out = [d for d in decisions.values() if d.stage == "screen"]
    for d in screened_out:  # the audit: would the full gate have kept it?
        it = run_dir / "iterations" / f"{d.iteration:03d}"
        parent = decisions[d.parent or 0]
        full = await evaluate(
            it / "scaffold",
            _accept_specs(run_dir, parent.accept),
            it / "audit",
            model=ScriptedModel(agent_policy, name="scripted-agent"),
        )
        verdict = decide(parent.accept, full.per_episode, rule=args.gate, seed=d.iteration)
        false_rejects += verdict.kept
    calls = _calls(run_dir) - sum(
        json.loads(p.read_text())["calls"] for p in run_dir.rglob("audit/evaluation.json")
    )
    return {
        "calls": calls,
        "kept": kept,
        "screened_out": len(screened_out),
        "false_rejects": false_rejects,
        "gap": sum(gaps) / len(gaps) if gaps else 0.0,
        "wall": wall,
        "final": summary.final_mean or 0.0,
        "gpu_h": summary.screen.net_gpu_hours if summary.screen else 0.0,
    }


def _accept_specs(run_dir: Path, keys: dict[str, float]) -> list:
    """The accept-pool episodes behind `keys` (`env__seed`), at the run's step limit."""
    from automem_envs import EpisodeSpec
    from automem_scaffold import load_config

    max_steps = load_config(run_dir / "config.toml").max_steps
    out = []
    for key in sorted(keys):
        env, _, seed = key.rpartition("__")
        out.append(EpisodeSpec(env_id=env, seed=int(seed), max_steps=max_steps))
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=80)
    p.add_argument("--seeds", type=int, default=3, help="search seeds")
    p.add_argument("--accept", type=int, default=3, help="accept seeds")
    p.add_argument("--screen-seeds", type=int, default=1)
    p.add_argument("--screen-steps", type=int, default=25)
    p.add_argument("--margin", type=float, default=0.0)
    p.add_argument("--gate", default="mean", choices=["mean", "paired-ci"])
    args = p.parse_args()
    sys.modules.setdefault("bench_gate", sys.modules[__name__])
    with tempfile.TemporaryDirectory(prefix="bench-gate-") as tmp:
        full = asyncio.run(_run(args, Path(tmp) / "full", screen=False))
        screened = asyncio.run(_run(args, Path(tmp) / "screened", screen=True))
    rows = [("no screen (paper)", full), ("screen", screened)]
    print(
        f"{len(CANDIDATES)} candidates ({', '.join(CANDIDATES)}), Crafter, {args.steps} steps, "
        f"{args.seeds} search + {args.accept} accept seeds, gate {args.gate}; screen "
        f"{args.screen_seeds} seed(s) x {args.screen_steps} steps, margin {args.margin:g}"
    )
    head = f"{'setting':<18} {'calls':>7} {'kept':>5} {'calls/kept':>11} {'screened out':>13} "
    head += f"{'false rej':>10} {'s-a gap':>8} {'final %':>8} {'wall s':>7}"
    print(head)
    for name, r in rows:
        per = r["calls"] / r["kept"] if r["kept"] else float("inf")
        print(
            f"{name:<18} {r['calls']:>7} {r['kept']:>5} {per:>11.1f} {r['screened_out']:>13} "
            f"{r['false_rejects']:>10} {100 * r['gap']:>8.2f} {100 * r['final']:>8.1f} "
            f"{r['wall']:>7.1f}"
        )
    f_per = full["calls"] / max(1, full["kept"])
    s_per = screened["calls"] / max(1, screened["kept"])
    rate = screened["false_rejects"] / screened["screened_out"] if screened["screened_out"] else 0
    print(
        f"ratio calls/kept (screen / no screen): {s_per / f_per:.2f}; false-reject rate "
        f"{rate:.0%} of screen rejections; net GPU-hours saved (at 2500 tok/s): "
        f"{screened['gpu_h']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
