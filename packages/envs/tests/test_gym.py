"""The gymnasium adapter: text observations and text actions over a real game."""

from __future__ import annotations

import importlib.util

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gymnasium") is None or importlib.util.find_spec("minihack") is None,
    reason="needs the gym and nethack extras",
)


def test_text_gym_env_round_trip():
    from automem_envs.gym import TextGymEnv

    env = TextGymEnv("minihack/Room-5x5", seed=3, render_mode="ansi")
    text, info = env.reset()
    assert isinstance(text, str) and env.observation_space.contains(text)
    assert "Goal" in info["instructions"] and "north" in env.actions
    text, reward, terminated, truncated, info = env.step("southeast")
    assert env.observation_space.contains(text) and info["valid_action"]
    assert isinstance(reward, float) and not terminated and not truncated
    assert env.render() == text
    _, _, _, _, info = env.step("fly")
    assert not info["valid_action"] and info["action"] == "north"
    first, _ = env.reset(seed=4)
    again, _ = env.reset(seed=4)
    assert first == again and env.text_env.seed == 4
    env.close()
