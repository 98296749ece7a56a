"""Suites against BALROG's defaults, AutoMem's seeds, and TOML round trips."""

from __future__ import annotations

import collections

import pytest
from automem_envs import (
    AUTOMEM_SEEDS,
    EnvError,
    load_suite,
    suite,
    suite_from_dict,
    suite_to_toml,
)

BALROG_MINIHACK = {
    "minihack/Boxoban-Hard",
    "minihack/Boxoban-Medium",
    "minihack/MazeWalk-9x9",
    "minihack/MazeWalk-15x15",
    "minihack/Corridor-R3",
    "minihack/CorridorBattle-Dark",
    "minihack/Quest-Easy",
    "minihack/Quest-Medium",
}


def test_balrog_suite_matches_balrogs_default_evaluation():
    full = suite("balrog", skip_unavailable=False)
    counts = collections.Counter(e.env_id for e in full.episodes)
    assert counts["crafter"] == 10 and counts["nethack"] == 5
    assert {k for k in counts if k.startswith("minihack/")} == BALROG_MINIHACK
    assert all(counts[k] == 5 for k in BALROG_MINIHACK)
    assert len(full.episodes) == 10 + 5 + 8 * 5
    for e in full.episodes:
        family = e.env_id.split("/")[0]
        assert e.max_steps == {"crafter": 2000, "minihack": 100, "nethack": 100_000}[family]
        assert e.no_progress_steps == (150 if family == "nethack" else None)
    assert len({e.key for e in full.episodes}) == len(full.episodes)


def test_automem_suite_uses_the_papers_seeds():
    s = suite("automem", skip_unavailable=False)
    assert tuple(range(42, 52)) == AUTOMEM_SEEDS
    by_env = collections.defaultdict(list)
    for e in s.episodes:
        by_env[e.env_id].append(e.seed)
    assert all(seeds == list(range(42, 52)) for seeds in by_env.values())
    assert set(by_env) == {"crafter", "nethack"} | BALROG_MINIHACK


def test_filters_and_skipped_tasks_are_reported():
    pytest.importorskip("minihack", reason="needs the nethack extra (uv sync --extra nethack)")
    s = suite("balrog", envs=["minihack"])
    assert {e.env_id.split("/")[0] for e in s.episodes} == {"minihack"}
    for env_id, reason in s.skipped.items():  # Boxoban without its level files
        assert env_id.startswith("minihack/Boxoban") and "download_boxoban_levels" in reason
    assert len(s.episodes) + 5 * len(s.skipped) == 40
    assert [e.env_id for e in suite("automem", envs=["crafter"]).episodes] == ["crafter"] * 10
    with pytest.raises(EnvError, match="not in this suite"):
        suite("balrog", envs=["chess"])
    with pytest.raises(EnvError, match="unknown suite"):
        suite("atari")


def test_toml_round_trip_and_errors(tmp_path):
    pytest.importorskip("minihack", reason="needs the nethack extra (uv sync --extra nethack)")
    original = suite("automem", envs=["nethack", "minihack/MazeWalk-9x9"])
    path = tmp_path / "mine.toml"
    path.write_text(suite_to_toml(original))
    assert load_suite(path) == original
    path.write_text(
        'name = "quick"\n[[tasks]]\nenv_id = "crafter"\nepisodes = 2\nfirst_seed = 7\n'
        "max_steps = 50\n"
    )
    quick = load_suite(path)
    assert [(e.seed, e.max_steps) for e in quick.episodes] == [(7, 50), (8, 50)]
    for bad, message in [
        ({"tasks": [{"env_id": "crafter", "seeds": [1]}]}, "name"),
        ({"name": "x", "tasks": []}, "tasks"),
        ({"name": "x", "tasks": [{"env_id": "chess", "seeds": [1]}]}, "env_id"),
        ({"name": "x", "tasks": [{"env_id": "crafter", "seeds": ["a"]}]}, "seeds"),
        ({"name": "x", "tasks": [{"env_id": "crafter", "seeds": [1], "max_steps": -1}]}, "max"),
        ({"name": "x", "tasks": [{"env_id": "crafter", "seeds": [1], "colour": 1}]}, "unknown"),
    ]:
        with pytest.raises(EnvError, match=message):
            suite_from_dict(bad)
    path.write_text("name = ")
    with pytest.raises(EnvError, match="not valid TOML"):
        load_suite(path)
