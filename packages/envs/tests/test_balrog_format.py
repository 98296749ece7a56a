"""BALROG's observation text and action sets, against text recorded from BALROG itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from automem_envs import make

DATA = Path(__file__).parent / "data"


def _cases(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())["cases"]


@pytest.mark.parametrize(
    "case", _cases("balrog_crafter_text.json"), ids=lambda c: f"seed{c['seed']}"
)
def test_crafter_text_matches_balrogs_on_fixed_seeds(case):
    pytest.importorskip("crafter", reason="needs the crafter extra (uv sync --extra crafter)")
    with make(
        "crafter", seed=case["seed"], observation_format="balrog", action_set="balrog"
    ) as env:
        texts = [env.reset().text]
        for action in case["actions"]:
            result = env.step(action)
            assert result.valid_action
            texts.append(result.observation.text)
    for i, (ours, balrogs) in enumerate(zip(texts, case["texts"], strict=True)):
        assert ours == balrogs, f"step {i}"


def test_crafter_reset_takes_one_noop_under_balrogs_format():
    pytest.importorskip("crafter", reason="needs the crafter extra (uv sync --extra crafter)")

    def state(env):
        world = env._env._world
        return env._env._step, sorted((type(o).__name__, tuple(o.pos)) for o in world.objects)

    with (
        make("crafter", seed=5) as plain,
        make("crafter", seed=5, observation_format="balrog") as b,
    ):
        plain.reset()
        b.reset()
        assert state(b)[0] == 1 and state(plain)[0] == 0
        plain.step("noop")
        assert state(b) == state(plain)
        assert b.stats.steps == 0 and b.stats.game_steps == 0  # not one of the episode's steps


def test_crafter_balrog_action_set_is_exact():
    pytest.importorskip("crafter", reason="needs the crafter extra (uv sync --extra crafter)")
    with make("crafter", seed=1, action_set="balrog") as env:
        env.reset()
        assert env.actions[:3] == ["Noop", "Move West", "Move East"] and len(env.actions) == 17
        assert env.default_action == "Noop"
        assert env.step("Move West").valid_action
        wrong = env.step("move west")  # BALROG matches names exactly
        assert not wrong.valid_action and wrong.action == "Noop"
    with make("crafter", seed=1) as env:  # our own set stays tolerant
        env.reset()
        assert env.step("Move West").valid_action and env.step("left").valid_action
