"""BALROG's progression metric: the fraction of the game an episode got through, 0..1."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

CRAFTER_ACHIEVEMENTS = 22


@cache
def nethack_table() -> dict[str, float]:
    """BALROG's NetHack table (`Dlvl:N` / `Xp:N` -> chance a human goes on to win), MIT."""
    text = resources.files("automem_envs").joinpath("data/nethack_progression.json").read_text()
    return {key: float(value) for key, value in json.loads(text).items()}


@cache
def nethack_progression(depth: int, experience_level: int) -> float:
    """`max(table[Dlvl:depth], table[Xp:level])`; BALROG takes the maximum over the episode."""
    table = nethack_table()
    return max(table.get(f"Dlvl:{depth}", 0.0), table.get(f"Xp:{experience_level}", 0.0))


def crafter_progression(achievements: int) -> float:
    """Distinct Crafter achievements unlocked, over all 22."""
    return achievements / CRAFTER_ACHIEVEMENTS


def minihack_progression(max_reward: float) -> float:
    """1.0 once a step's reward reached 1 (the task was solved), else 0.0."""
    return 1.0 if max_reward >= 1.0 else 0.0
