"""Steps per second of each game: the raw game step against step plus our text observation.

Usage: uv run python tools/bench_envs.py [--steps N] [--games crafter,minihack,nethack]

Both columns run random valid actions in the same process:
- "raw": the game's own env (crafter.Env rendering its image as BALROG does, and as a second
  baseline without the image; MiniHack/NetHackChallenge gymnasium envs with default keys).
- "text": `automem_envs.make(...)` stepping with action text and building the observation.
For MiniHack and NetHack the time spent inside the wrapped game's own `step` is also measured
during the text run, so "overhead" is exactly what the text layer adds to the game step it
drives (--More-- continuations included as game steps). Resets are excluded from all timings.
"""

from __future__ import annotations

import argparse
import random
import time
import warnings
from collections.abc import Callable
from typing import Any

from automem_envs import make


def _timed_loop(n: int, step: Callable[[], bool], reset: Callable[[], Any]) -> float:
    """Seconds spent in `step` over n steps; `step` returns True when a reset is needed."""
    total = 0.0
    for _ in range(n):
        t0 = time.perf_counter()
        over = step()
        total += time.perf_counter() - t0
        if over:
            reset()
    return total


def bench_text(env_id: str, n: int, seed: int = 1) -> dict[str, float]:
    env = make(env_id, seed=seed, max_steps=10**9, no_progress_steps=0)
    env.reset()
    rng = random.Random(0)
    actions = env.actions
    inner = {"time": 0.0, "calls": 0}
    game = getattr(env, "_env", None)
    if game is not None and env_id != "crafter":
        original = game.step

        def counted(action: int) -> Any:
            t0 = time.perf_counter()
            out = original(action)
            inner["time"] += time.perf_counter() - t0
            inner["calls"] += 1
            return out

        game.step = counted

    def step() -> bool:
        result = env.step(rng.choice(actions))
        return result.done or result.truncated

    seconds = _timed_loop(n, step, env.reset)
    env.close()
    return {"seconds": seconds, "inner": inner["time"], "inner_calls": inner["calls"]}


def bench_crafter_raw(n: int, render: bool) -> float:
    import crafter

    env = crafter.Env(seed=1)
    env.reset()
    rng = random.Random(0)
    if not render:
        env._obs = lambda: None  # the cheapest Crafter step: no image at all

    def step() -> bool:
        _, _, done, _ = env.step(rng.randrange(17))
        if render:
            env.render((256, 256))  # BALROG renders a 256x256 image every step
        return bool(done)

    return _timed_loop(n, step, env.reset)


def bench_nle_raw(gym_id: str, n: int) -> float:
    import gymnasium

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import minihack  # noqa: F401
        import nle  # noqa: F401

        env = gymnasium.make(gym_id).unwrapped
    env.reset()
    rng = random.Random(0)
    count = env.action_space.n

    def step() -> bool:
        _, _, terminated, truncated, _ = env.step(rng.randrange(count))
        return bool(terminated or truncated)

    seconds = _timed_loop(n, step, env.reset)
    env.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--games", default="crafter,minihack,nethack")
    args = parser.parse_args()
    n = args.steps
    games = args.games.split(",")
    rows: list[tuple[str, str, float, float, str]] = []
    if "crafter" in games:
        few = max(n // 10, 100)  # rendering is slow; fewer steps give the same rate
        raw_image = few / bench_crafter_raw(few, render=True)
        raw_plain = n / bench_crafter_raw(n, render=False)
        ours = n / bench_text("crafter", n)["seconds"]
        rows.append(
            (
                "crafter",
                "crafter.Env + 256px image",
                raw_image,
                ours,
                f"{ours / raw_image:.1f}x faster",
            )
        )
        rows.append(
            (
                "crafter",
                "crafter.Env, no image",
                raw_plain,
                ours,
                f"{raw_plain / ours:.2f} time ratio",
            )
        )
    nle_games = []
    if "minihack" in games:
        nle_games.append(("minihack/MazeWalk-15x15", "MiniHack-MazeWalk-15x15-v0"))
        nle_games.append(("minihack/Quest-Easy", "MiniHack-Quest-Easy-v0"))
    if "nethack" in games:
        nle_games.append(("nethack", "NetHackChallenge-v0"))
    for env_id, gym_id in nle_games:
        raw = n / bench_nle_raw(gym_id, n)
        text = bench_text(env_id, n)
        ours = n / text["seconds"]
        added = (text["seconds"] - text["inner"]) / text["inner"]
        inner_rate = text["inner_calls"] / text["inner"]
        rows.append((env_id, f"{gym_id} default keys", raw, ours, f"{raw / ours:.2f} time ratio"))
        rows.append(
            (env_id, "game step inside the text run", inner_rate, ours, f"text adds {added:+.0%}")
        )
    print(f"{'env':26} {'baseline':34} {'raw steps/s':>12} {'text steps/s':>13}  ratio")
    for env_id, baseline, raw, ours, ratio in rows:
        print(f"{env_id:26} {baseline:34} {raw:12.0f} {ours:13.0f}  {ratio}")


if __name__ == "__main__":
    main()
