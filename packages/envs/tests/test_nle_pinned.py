"""The MiniHack/NetHack observations are pinned: speed work on the text view must not change them.

Each case hashes every `StepResult` (text and structured fields) of a 400-step random run on a
fixed seed. The digests were taken with the view before it was optimised for speed; a change
to what the agent sees must be deliberate, and then these digests are regenerated with it
(nle is pinned in uv.lock, so a new NLE release can also move them). Last regenerated when
`Observation` gained the map's `grid` and `grid_origin` for v0's map analysis; the text of all four
runs was checked unchanged against the view before that commit.
"""

from __future__ import annotations

import hashlib
import importlib.util
import random
from typing import Any

import msgspec
import pytest
from automem_envs import make

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nle") is None or importlib.util.find_spec("minihack") is None,
    reason="needs the nethack extra (nle, minihack)",
)

PINNED = [
    (
        "minihack/MazeWalk-15x15",
        {},
        "5220cde212565be3fb45ebf0db398c26ce0a3c4eb7ec79993fa4a3485da1b84d",
    ),
    (
        "minihack/Quest-Easy",
        {"map_radius": 3},
        "2b183641c04c6efe5ace3aeb233aa906bed4c0506b5d385d1e1d9707f44744f3",
    ),
    ("nethack", {}, "20777d4b7e8a9593cfc240f478307c4e3da70613b8b1c27c423d7b188031aa7a"),
    (
        "nethack",
        {"map_radius": 2, "show_inventory": False},
        "f04803181ef9aa18f3e3af7c1fd4b0de7e76f131aa44009cf824f9137a3ee209",
    ),
]


def _digest(env_id: str, options: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    with make(env_id, seed=3, max_steps=10**9, no_progress_steps=0, **options) as env:
        digest.update(msgspec.json.encode(env.reset()))
        rng = random.Random(5)
        # Prompt answers, menu keys and typed text as well as the named actions.
        actions = [*env.actions, "bogus", "y", "3", "a", "esc", "more", "type Elbereth"]
        for _ in range(400):
            result = env.step(rng.choice(actions))
            digest.update(msgspec.json.encode(result))
            if result.done or result.truncated:
                digest.update(msgspec.json.encode(env.reset()))
    return digest.hexdigest()


@pytest.mark.parametrize(("env_id", "options", "expected"), PINNED)
def test_observations_match_the_pinned_digest(
    env_id: str, options: dict[str, Any], expected: str
) -> None:
    assert _digest(env_id, options) == expected
