"""The same env id, seed and actions give the same observation texts in separate processes."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

SCRIPT = r"""
import hashlib, random, sys
from automem_envs import make
for env_id in sys.argv[1:]:
    digest = hashlib.sha256()
    with make(env_id, seed=7) as env:
        rng = random.Random(1)
        texts = [env.reset().text]
        for _ in range(60):
            result = env.step(rng.choice(env.actions + ["bogus", "y", "3"]))
            texts.append(result.observation.text)
            if result.done or result.truncated:
                break
        replay = [env.reset().text]  # a reset replays the same game
        assert replay[0] == texts[0], env_id
    digest.update("\n\0".join(texts).encode())
    print(env_id, len(texts), digest.hexdigest())
"""


def _games() -> list[str]:
    games = []
    if importlib.util.find_spec("crafter"):
        games.append("crafter")
    if importlib.util.find_spec("nle") and importlib.util.find_spec("minihack"):
        games += ["minihack/Quest-Easy", "nethack"]
    return games


@pytest.mark.slow
def test_two_processes_see_identical_games():
    games = _games()
    if not games:
        pytest.skip("no game extra installed")
    runs = [
        subprocess.run(
            [sys.executable, "-c", SCRIPT, *games],
            capture_output=True,
            text=True,
            timeout=300,
            env={"PYTHONHASHSEED": str(seed), "PATH": ""},
        )
        for seed in (1, 2)  # different hash seeds: set and dict orders must not leak in
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr[-2000:]
    assert runs[0].stdout == runs[1].stdout
    assert len(runs[0].stdout.splitlines()) == len(games)
