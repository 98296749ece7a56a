"""apps/play's library side: seed ranges, suites from a config, and secret-free model names."""

from __future__ import annotations

import pytest
from automem_agent import PlayConfig, RoleModels, ScriptedModel, parse_seeds
from automem_agent._agent import scrub
from automem_agent._play import build_suite


def test_parse_seeds():
    assert parse_seeds("42-44") == [42, 43, 44]
    assert parse_seeds("1,5,7-8") == [1, 5, 7, 8]
    assert parse_seeds("3") == [3]
    with pytest.raises(ValueError):
        parse_seeds(",")


def test_build_suite_crosses_envs_and_seeds():
    config = PlayConfig(envs=["crafter", "minihack/MazeWalk-9x9"], seeds=[1, 2], max_steps=7)
    suite = build_suite(config)
    assert [(e.env_id, e.seed, e.max_steps) for e in suite.episodes] == [
        ("crafter", 1, 7),
        ("crafter", 2, 7),
        ("minihack/MazeWalk-9x9", 1, 7),
        ("minihack/MazeWalk-9x9", 2, 7),
    ]


def test_model_names_in_headers_carry_no_secrets():
    assert scrub("openai:http://me:hunter2@host:8000/v1?api_key=abc#qwen") == (
        "openai:http://host:8000/v1?api_key=***#qwen"
    )
    assert scrub("anthropic:claude-opus-4-5") == "anthropic:claude-opus-4-5"
    leaky = ScriptedModel(lambda r: "", name="proxy sk-ant-0123456789abcdef")
    assert RoleModels.single(leaky).names() == {"memory": "proxy ***", "action": "proxy ***"}


def test_two_model_mode_is_detected():
    a, b = ScriptedModel(lambda r: ""), ScriptedModel(lambda r: "")
    assert not RoleModels.single(a).two_model
    assert not RoleModels.single(a, adapter="x").two_model
    assert RoleModels(memory=a, action=b).two_model
    assert RoleModels(memory=a, memory_adapter="spec").two_model
