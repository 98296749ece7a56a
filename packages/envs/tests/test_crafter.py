"""Crafter as a text game: real episodes, the scripted wood-and-table progression, the view."""

from __future__ import annotations

import importlib.util
import re

import pytest
from automem_envs import EnvError, EpisodeOver, make

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("crafter") is None, reason="needs the crafter extra"
)


def _toward(env, target: str, limit: int = 60):
    """Walk next to the nearest `target` (read from the observation text) and face it."""
    obs = env.observation
    for _ in range(limit):
        found = re.search(rf"(?:^|; |: ){target} ([^;.]+)", obs.text.split("You see: ", 1)[-1])
        assert found, f"no {target} in view: {obs.text}"
        where = dict(
            (d, int(n)) for n, d in re.findall(r"(\d+) (north|south|east|west)", found.group(1))
        )
        if f"You face {target}" in obs.text:
            return obs
        direction = max(where, key=where.get)
        obs = env.step(f"move {direction}").observation
    raise AssertionError(f"could not reach {target}")


def test_scripted_wood_and_table_gives_expected_progression():
    with make("crafter", seed=3, view=(9, 7)) as env:
        env.reset()
        for _ in range(2):  # here a tree gives one wood, then turns to grass
            _toward(env, "tree")
            result = env.step("do")
        assert result.observation.inventory.get("wood", 0) >= 2
        assert "collect_wood" in env.stats.achievements
        # Face a free tile, then place the table there.
        for direction in ("north", "south", "east", "west"):
            result = env.step(f"move {direction}")
            if re.search(r"You face (grass|sand|path)", result.observation.text):
                break
        result = env.step("place table")
        assert "place_table" in env.stats.achievements
        assert "Achievement unlocked: place table" in result.observation.text
        assert result.progression >= 2 / 22
        assert result.progression == len(env.stats.achievements) / 22


def test_real_episode_text_view_and_limits():
    with make("crafter", seed=0, max_steps=25) as env:
        obs = env.reset()
        assert obs.text.startswith("You wake up in a new world.")
        assert "Status: health 9/9, food 9/9, drink 9/9, energy 9/9." in obs.text
        assert "You face " in obs.text and "Inventory: empty." in obs.text
        assert len(obs.text) < 1200
        assert obs.position is not None and len(obs.grid) == 7 and len(obs.grid[0]) == 9
        assert obs.grid[3][4] == "@"  # the player is in the middle of the window
        assert len(env.actions) == 17 and env.default_action == "noop"
        assert "place table" in env.instructions
        for i in range(25):
            result = env.step(["move west", "do", "noop", "Move_North"][i % 4])
            assert result.valid_action
        assert result.truncated and not result.done
        assert env.stats.end_reason == "max_steps" and env.stats.steps == 25
        with pytest.raises(EpisodeOver):
            env.step("noop")


def test_map_option_and_invalid_action_feedback():
    with make("crafter", seed=1, show_map=True, view=(5, 5)) as env:
        obs = env.reset()
        assert "Map legend" in obs.text and len(obs.grid) == 5
        result = env.step("dance wildly")
        assert not result.valid_action and result.action == "noop"
        assert result.observation.text.startswith(
            '"dance wildly" is not a valid action, so "noop" was done instead.'
        )
        assert env.stats.invalid_actions == 1
        for alias in ("LEFT", "move_left", "  Go West ", "craft wooden pickaxe", "interact"):
            assert env.step(alias).valid_action, alias
        assert env.stats.invalid_actions == 1


def test_reset_replays_the_same_world():
    with make("crafter", seed=11) as env:
        first = [env.reset().text] + [env.step("move east").observation.text for _ in range(5)]
        again = [env.reset().text] + [env.step("move east").observation.text for _ in range(5)]
    assert first == again


def test_bad_input_errors():
    with pytest.raises(EnvError, match="seed must be an int"):
        make("crafter", seed="7")
    with pytest.raises(EnvError, match="seed must be an int"):
        make("crafter", seed=True)
    with pytest.raises(EnvError, match="max_steps must be >= 1"):
        make("crafter", seed=1, max_steps=-5)
    with pytest.raises(EnvError, match="unknown Crafter option"):
        make("crafter", seed=1, colour=True)
    env = make("crafter", seed=1)
    with pytest.raises(EnvError, match="reset"):
        env.step("noop")
    env.reset()
    with pytest.raises(EnvError, match="action must be a str"):
        env.step(3)  # type: ignore[arg-type]
