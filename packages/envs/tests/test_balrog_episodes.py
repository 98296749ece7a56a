"""BALROG's episode counting on real games: raw game steps, its no-progress off-by-one,
MiniHack's step limit, and Crafter's reset noop."""

from __future__ import annotations

import pytest
from automem_envs import EnvError, make

nle = pytest.importorskip("nle", reason="needs the nethack extra (uv sync --extra nethack)")
if nle.__version__.startswith("0."):  # balrog-nle: NetHack 3.6.6 deals other dungeons
    pytest.skip("seeds recorded on nle 1.3.0 (the nethack extra)", allow_module_level=True)


def _play(env, action: str, limit: int = 10_000) -> int:
    env.reset()
    for n in range(1, limit + 1):
        result = env.step(action)
        if result.done or result.truncated:
            return n
    raise AssertionError(f"no end within {limit} steps")


def test_esc_from_reset_is_truncated_at_step_151_as_in_balrog():
    # BALROG (nle 0.9.0): NLE's abort check records the clock on the first step, then counts
    # unchanged clocks; a timeout of 150 ends the episode on step 151.
    with make("nethack", seed=3, no_progress_timeout=150) as env:
        assert _play(env, "esc") == 151
        assert env.stats.end_reason == "no_progress" and env.stats.game_steps == 151
    with make("nethack", seed=3) as env:  # the default is BALROG's timeout
        assert _play(env, "esc") == 151


def test_more_presses_count_towards_the_step_limit():
    # Seed 1: "far south" as the second action ends in a --More-- that is continued
    # automatically, so the action takes two game steps.
    with make("nethack", seed=1, max_steps=100) as env:
        env.reset()
        env.step("east")
        env.step("far south")
        assert env.stats.steps == 2 and env.stats.game_steps == 3
    with make("nethack", seed=1, max_steps=3) as env:
        env.reset()
        assert not env.step("east").truncated
        result = env.step("far south")
        assert result.truncated and env.stats.end_reason == "max_steps"
    with make("nethack", seed=1, max_steps=2) as env:
        env.reset()
        env.step("east")
        result = env.step("far south")  # the limit is hit before the --More-- is continued
        assert result.truncated and env.stats.game_steps == 2


def test_minihack_step_limit_reaches_the_game():
    # MazeWalk-9x9's own limit is larger; BALROG's 100 steps must end the episode.
    with make("minihack/MazeWalk-9x9", seed=1) as env:
        assert env.max_steps == 100
        assert _play(env, "wait") == 100
        assert env.stats.end_reason == "max_steps"
    with make("minihack/MazeWalk-9x9", seed=1, max_steps=7) as env:
        assert _play(env, "wait") == 7


def test_the_two_names_of_the_no_progress_timeout_must_agree():
    with pytest.raises(EnvError, match="alias"):
        make("nethack", seed=1, no_progress_steps=3, no_progress_timeout=4)
    with pytest.raises(EnvError, match="observation_format"):
        make("nethack", seed=1, observation_format="fancy")
    with pytest.raises(EnvError, match="action_set"):
        make("nethack", seed=1, action_set="all")
