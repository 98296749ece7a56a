"""Config round trip, resume identity, demo defaults and start-scaffold caps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from automem_agent import builtin_scaffold, load_scaffold
from automem_scaffold import (
    EvolveConfig,
    EvolveError,
    build_parser,
    check_resume,
    config_from_args,
    load_config,
)
from automem_scaffold._caps import cap_phases
from automem_scaffold._config import save_config


def test_config_round_trips_through_toml(tmp_path: Path) -> None:
    config = EvolveConfig(run_dir="runs/x", envs=["crafter", "minihack/MazeWalk-9x9"], max_cost=1.5)
    save_config(config, tmp_path / "config.toml")
    assert load_config(tmp_path / "config.toml") == config


def test_resume_identity() -> None:
    a = EvolveConfig(run_dir="r")
    check_resume(a, EvolveConfig(run_dir="r", iterations=7, meta_llm="anthropic:claude-opus-4-5"))
    with pytest.raises(EvolveError, match="max_steps"):
        check_resume(a, EvolveConfig(run_dir="r", max_steps=99))


def test_cli_defaults_are_the_capped_offline_demo() -> None:
    config = config_from_args(build_parser().parse_args([]))
    assert config.agent_llm == config.meta_llm == "smollm2" and config.demo_scale
    assert (config.start_max_rounds, config.start_max_tokens) == (1, 24)
    assert config.seeds == 2 and config.envs == ["crafter"]
    real = config_from_args(
        build_parser().parse_args(
            [
                "--agent-llm",
                "openai:http://h:8000/v1#qwen",
                "--meta-llm",
                "anthropic:claude-opus-4-5",
            ]
        )
    )
    assert not real.demo_scale and real.start_max_rounds is None
    assert (real.review_turns, real.meta_max_tokens) == (40, 4096)  # room to read long traces
    assert (config.review_turns, config.meta_max_tokens) == (2, 96)
    assert config_from_args(build_parser().parse_args(["--no-caps"])).start_max_rounds is None


def test_cap_phases_lowers_and_adds_keys(tmp_path: Path) -> None:
    root = tmp_path / "s"
    shutil.copytree(builtin_scaffold("v0"), root)
    manifest = root / "scaffold.toml"
    text = manifest.read_text()
    # Drop [plan]'s max_tokens so the default applies and the cap must add the key.
    manifest.write_text(
        "\n".join(
            line
            for line in text.splitlines()
            if not (line.startswith("max_tokens") and "plan" in text.split(line)[0][-300:])
        )
        + "\n"
    )
    changes = cap_phases(manifest, max_rounds=2, max_tokens=24)
    assert any("[log] max_rounds = 2" in c for c in changes)
    scaffold = load_scaffold(root)
    for phase in (scaffold.manifest.log, scaffold.manifest.plan):
        assert phase.max_rounds == 2 and phase.max_tokens == 24
    assert cap_phases(manifest, max_rounds=None, max_tokens=None) == []


def test_start_point_is_a_directory_or_a_builtin(tmp_path: Path) -> None:
    from automem_scaffold import Evolver

    custom = tmp_path / "mine"
    shutil.copytree(builtin_scaffold("v0"), custom)
    assert (
        Evolver(
            EvolveConfig(run_dir=str(tmp_path / "r"), from_scaffold=str(custom))
        )._start_scaffold()
        == custom
    )
    assert Evolver(EvolveConfig(run_dir=str(tmp_path / "r")))._start_scaffold() == builtin_scaffold(
        "v0"
    )
    with pytest.raises(EvolveError, match="neither a directory nor a built-in"):
        Evolver(EvolveConfig(run_dir=str(tmp_path / "r"), from_scaffold="v99"))._start_scaffold()
