"""The `balrog-nle` extra: BALROG's own NetHack build (balrog-nle 0.9.0, NetHack 3.6.6, gym 0.23)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import random

import pytest
from automem_envs import GameNotInstalled, make


def _balrog_nle() -> bool:
    try:
        importlib.metadata.version("balrog-nle")
    except importlib.metadata.PackageNotFoundError:
        return False
    import nle

    return nle.__version__.startswith("0.")  # balrog-nle's files, not a later nle's over them


pytestmark = pytest.mark.skipif(
    not _balrog_nle(),
    reason="needs the balrog-nle extra (uv sync --package automem-envs --extra balrog-nle)",
)


def _play(fmt: str, action_set: str, seed: int) -> tuple[list[str], str]:
    texts = []
    with make("nethack", seed=seed, observation_format=fmt, action_set=action_set) as env:
        texts.append(env.reset().text)
        rng = random.Random(seed)
        names = [n for n in env.actions if n.isalpha() or " " in n]  # no BALROG `00`..`99`
        for _ in range(300):
            action = rng.choice(names) if rng.random() < 0.8 else rng.choice(["y", "n", "esc"])
            result = env.step(action)
            texts.append(result.observation.text)
            if result.done or result.truncated:
                break
        return texts, env.stats.end_reason


@pytest.mark.parametrize(("fmt", "action_set"), [("compact", "automem"), ("balrog", "balrog")])
def test_nethack_plays_and_replays_on_balrogs_build(fmt, action_set):
    # gym 0.23's four-value step, no fix_moon_phase, NetHackChallenge's seeds: a few hundred
    # random keys, prompts included, and the same seed plays the same game again. (The moon
    # phase follows the date here, as in BALROG, so nothing is pinned across days.)
    first, end = _play(fmt, action_set, seed=3)
    assert end != "errored" and len(first) > 1
    assert _play(fmt, action_set, seed=3) == (first, end)


def test_minihack_needs_balrogs_minihack_fork():
    if importlib.util.find_spec("minihack") is not None:
        pytest.skip("a minihack is installed (BALROG's fork works with balrog-nle)")
    with pytest.raises(GameNotInstalled):
        make("minihack/MazeWalk-9x9", seed=0)
