"""MiniHack and NetHack as text games: real episodes, prompts, --More--, progression, crashes."""

from __future__ import annotations

import importlib.util
import re

import pytest
from automem_envs import EnvError, EpisodeOver, LevelFilesMissing, make, nethack_progression

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("nle") is None or importlib.util.find_spec("minihack") is None,
    reason="needs the nethack extra (nle, minihack)",
)
_WHERE = re.compile(r"staircase down (\d+) (north|south)?(east|west)?(?: and (\d+) (east|west))?")


def _stairs_direction(text: str) -> str:
    found = _WHERE.search(text)
    assert found, text
    _, ns, diagonal_ew, _, ew = found.groups()
    if ns and diagonal_ew:
        return ns + diagonal_ew  # a pure diagonal, e.g. "4 southeast"
    return ns or diagonal_ew or ew


def test_minihack_real_episode_reaches_the_stairs():
    with make("minihack/Room-5x5", seed=3) as env:
        obs = env.reset()
        assert obs.text.count("Status: Dlvl 1") == 1 and "Map (" in obs.text
        assert env.default_action == "north" and "staircase down" in env.instructions
        for _ in range(12):
            result = env.step(_stairs_direction(env.observation.text))
            if result.done:
                break
        assert result.done and result.progression == 1.0 and result.reward >= 1.0
        stats = env.stats
        assert stats.end_reason == "done" and stats.achievements == ["success"]
        assert stats.depth == 1 and stats.experience_level == 1
        with pytest.raises(EpisodeOver):
            env.step("north")


def test_minihack_limits_and_invalid_action_feedback():
    with make("minihack/MazeWalk-9x9", seed=42, max_steps=6) as env:
        env.reset()
        assert env.actions == [
            "north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest"
        ]  # fmt: skip
        result = env.step("far south")  # not in this task's action set
        assert not result.valid_action and result.action == "north"
        assert result.observation.text.startswith(
            '"far south" is not a valid action, so "north" was done instead.'
        )
        assert env.step("Move_East").valid_action and env.step("GO SOUTH").valid_action
        assert not env.step("f").valid_action  # a bare key is only an answer to a question
        for _ in range(2):
            result = env.step("west")
        assert result.truncated and env.stats.end_reason == "max_steps"
        assert env.stats.invalid_actions == 2 and env.stats.steps == 6


def test_nethack_prompts_accept_item_letters_and_digits():
    with make("nethack", seed=42) as env:
        obs = env.reset()
        assert obs.inventory and obs.text.count("Inventory:") == 1
        assert env.default_action == "esc" and len(env.actions) > 100
        result = env.step("f")  # no question is pending: invalid, esc runs instead
        assert not result.valid_action and result.action == "esc"
        result = env.step("eat")
        assert result.observation.prompt and "eat" in result.observation.prompt
        assert "Question:" in result.observation.text
        result = env.step("x")  # an item letter that is no action name
        assert result.valid_action and result.action == "x"
        assert "You don't have that object." in result.observation.text
        result = env.step("7")  # digits answer too (BALROG's agents cannot type them)
        assert result.valid_action
        result = env.step("esc")
        assert result.observation.prompt is None
        assert env.step("wait").valid_action


def test_nethack_text_prompts_take_a_typed_line():
    with make("nethack", seed=3) as env:
        env.reset()
        env.step("engrave")
        question = env.step("-").observation  # write with the fingers
        assert question.prompt == "What do you want to write in the dust here?"
        assert "Answer with the text to type" in question.text
        result = env.step("Elbereth")
        assert result.valid_action and result.action == "type Elbereth"
        assert 'You read: "Elbereth".' in env.step("look").observation.message


def test_nethack_more_is_continued_and_collected():
    with make("nethack", seed=3) as env:
        env.reset()
        menu = env.step("inventory").observation
        assert menu.prompt and "Screen:" in menu.text and "(being worn)" in menu.text
        assert env.step("esc").observation.prompt is None
        assert env.step("pray").observation.prompt.startswith("Are you sure you want to pray?")
        result = env.step("y")
        # Messages separated by --More-- in the game arrive as one observation.
        message = result.observation.message
        assert "You begin praying" in message and "Chih Sung-tzu is displeased." in message
        assert "--More--" not in result.observation.text


def test_nethack_progression_table_and_state():
    assert nethack_progression(2, 5) == pytest.approx(0.0291, abs=5e-5)
    assert nethack_progression(1, 1) == 0.0
    with make("nethack", seed=1, max_steps=2) as env:
        env.reset()
        env.step("search")
        from nle import nethack

        env._blstats[nethack.NLE_BL_DEPTH] = 2  # a state at Dlvl 2 with Xp 5
        env._blstats[nethack.NLE_BL_XP] = 5
        assert env._progression() == pytest.approx(0.0291, abs=5e-5)


def test_nethack_no_progress_limit_ends_the_episode():
    with make("nethack", seed=5, no_progress_steps=3) as env:
        env.reset()
        for _ in range(4):  # BALROG's count: the first step only records the clock
            result = env.step("inventory")  # menus do not move the game clock
            if result.truncated:
                break
        assert result.truncated and env.stats.end_reason == "no_progress"
        assert env.stats.steps == 4


def test_a_crash_mid_episode_ends_it_as_errored():
    with make("minihack/Corridor-R3", seed=1) as env:
        env.reset()
        env.step("north")

        def broken(action: int):
            raise RuntimeError("libnethack segfaulted")

        env._env.step = broken
        result = env.step("east")
        assert result.done and not result.truncated
        assert env.stats.end_reason == "errored" and "segfaulted" in env.stats.error
        assert env.stats.steps == 1  # the stats up to the crash are kept
        with pytest.raises(EpisodeOver):
            env.step("east")


def test_game_over_keeps_the_last_view():
    with make("minihack/Room-5x5", seed=3) as env:
        before = env.reset()
        for _ in range(4):
            result = env.step("southeast")
        assert result.done and result.observation.text.endswith("The game is over.")
        assert "Task complete." in result.observation.message
        assert result.observation.inventory == before.inventory


def test_unknown_ids_and_missing_boxoban_levels():
    with pytest.raises(EnvError, match="closest matches: minihack/MazeWalk-9x9"):
        make("minihack/MazeWalk-9x8", seed=1)
    with pytest.raises(EnvError, match="closest matches: nethack"):
        make("nethak", seed=1)
    with pytest.raises(EnvError, match="no_progress_steps must be >= 0"):
        make("nethack", seed=1, no_progress_steps=-1)
    with pytest.raises(EnvError, match="bad option"):
        make("minihack/Room-5x5", seed=1, no_such_option=3)
    import minihack.envs.boxohack as boxohack

    if not importlib.util.find_spec("minihack") or _has_boxoban(boxohack.LEVELS_PATH):
        pytest.skip("Boxoban levels are installed here")
    with pytest.raises(LevelFilesMissing, match=r"boxoban-levels-master/hard.*download_boxoban"):
        make("minihack/Boxoban-Hard", seed=1)


def _has_boxoban(path: str) -> bool:
    import os

    return os.path.isdir(path) and any(files for _, _, files in os.walk(path))


@pytest.mark.parametrize("observation_format", ["compact", "balrog"])
def test_the_map_grid_is_placed_by_its_origin(observation_format):
    # Code reading the map (a scaffold's analysis) finds you at position - origin.
    with make("minihack/Room-5x5", seed=3, observation_format=observation_format) as env:
        for obs in (env.reset(), env.step(env.actions[0]).observation):
            (x, y), (ox, oy) = obs.position, obs.grid_origin
            assert obs.grid[y - oy][x - ox] == "@"
            assert all(row in obs.text for row in obs.grid if row.strip())
