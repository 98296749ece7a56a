"""The gymnasium adapter: text observations and text actions over real games, built directly or
by `gymnasium.make` from the registered ids."""

from __future__ import annotations

import importlib.util

import pytest


def _missing(*modules: str) -> bool:
    return any(importlib.util.find_spec(m) is None for m in modules)


needs_crafter = pytest.mark.skipif(
    _missing("gymnasium", "crafter"), reason="needs the gym and crafter extras"
)
needs_minihack = pytest.mark.skipif(
    _missing("gymnasium", "minihack"), reason="needs the gym and nethack extras"
)


@needs_minihack
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


@needs_crafter
def test_gymnasium_make_builds_registered_games_with_make_kwargs():
    import gymnasium
    from automem_envs.gym import GYM_IDS, as_gymnasium

    assert {"automem/crafter", "automem/nethack", "automem/minihack-MazeWalk-9x9"} <= set(GYM_IDS)
    assert set(GYM_IDS) <= set(gymnasium.registry)
    env = gymnasium.make("automem/crafter", seed=3, max_steps=2, render_mode="ansi")
    assert env.spec is not None and env.spec.id == "automem/crafter"
    text, info = env.reset()
    assert env.unwrapped.text_env.seed == 3 and "Status:" in text and info["instructions"]
    assert env.render() == text
    *_, terminated, truncated, _ = env.step("noop")
    assert not terminated and not truncated
    *_, terminated, truncated, _ = env.step("noop")
    assert truncated and not terminated  # max_steps=2 went to make()
    env.close()
    # The same game as the adapter built directly; the module:id form imports the module first.
    with as_gymnasium("crafter", seed=3) as direct:
        assert direct.reset()[0] == text
    again = gymnasium.make("automem_envs.gym:automem/crafter", seed=3)
    assert again.reset()[0] == text
    again.close()


@needs_minihack
def test_gymnasium_make_builds_balrog_minihack_tasks():
    import gymnasium
    from automem_envs.gym import gym_id

    assert gym_id("minihack/MazeWalk-9x9") == "automem/minihack-MazeWalk-9x9"
    env = gymnasium.make(gym_id("minihack/MazeWalk-9x9"), seed=1)
    text, _ = env.reset()
    assert env.observation_space.contains(text) and "north" in env.unwrapped.actions
    env.close()
