"""The MiniHack/NetHack observations are pinned: speed work on the text view must not change them.

Each case hashes every `StepResult` (text and structured fields) of a 400-step random run on a
fixed seed. The digests were taken with the view before it was optimised for speed; a change
to what the agent sees must be deliberate, and then these digests are regenerated with it
(nle is pinned in uv.lock, so a new NLE release can also move them).
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
        "11a4a528fb24470b6421fd8fa6849c6fef82582587b348d5f4843fe33c62b4e5",
    ),
    (
        "minihack/Quest-Easy",
        {"map_radius": 3},
        "639489aa76baac731c60ec09c3f26f84f011009204acba5359d48df4da3c88d8",
    ),
    ("nethack", {}, "33c189e2e46daf54dfc28bf333db963ac34c9b5800981b7eb47f7027f8f4e16a"),
    (
        "nethack",
        {"map_radius": 2, "show_inventory": False},
        "e3aa229200a85a0e1e43c4fbe4329c18f50865b125a81b30644f768e1fc2f180",
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
