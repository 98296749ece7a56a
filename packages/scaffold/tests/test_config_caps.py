"""Config round trip, resume identity, protocol-driven CLI defaults and the start sampling."""

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
from automem_scaffold._caps import set_sampling
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


REAL = ["--agent-llm", "openai:http://h:8000/v1#qwen", "--meta-llm", "anthropic:claude-opus-4-5"]


def configure(*argv: str) -> tuple[EvolveConfig, str]:
    config = config_from_args(build_parser().parse_args(list(argv)))
    return config, config.scale_line


def test_cli_defaults_are_the_demo_protocol() -> None:
    config, first = configure()
    assert (config.agent_llm, config.meta_llm, config.from_scaffold) == (
        "llamacpp:smollm2",
        "rules",
        "demo",
    )
    assert config.protocol == "demo" and config.demo_scale
    assert config.seeds == {"crafter": 3, "minihack": 3, "nethack": 3}
    assert config.max_steps["crafter"] == 30 and config.envs == ["crafter"]
    assert first.startswith("protocol demo [DEMO scale (small caps)]")
    assert "rule-based baseline, not a meta-LLM" in first


def test_a_real_model_runs_the_paper_protocol() -> None:
    real, first = configure(*REAL)
    assert real.protocol == "paper" and not real.demo_scale
    assert real.seeds == {"crafter": 10, "minihack": 10, "nethack": 10}
    assert real.max_steps == {"crafter": 2000, "minihack": 100, "nethack": 100000}
    assert (real.observation_format, real.action_set) == ("balrog", "balrog")
    assert (real.start_temperature, real.start_max_tokens) == (1.0, 4096)
    assert (real.review_turns, real.meta_max_tokens, real.held_out) == (40, 4096, 0)
    assert first.startswith("protocol paper [full scale]") and "OVERRIDDEN" not in first
    shrunk, first = configure(*REAL, "--max-steps", "50", "--seeds", "42-43")
    assert shrunk.max_steps == {"crafter": 50, "minihack": 50, "nethack": 50}
    assert shrunk.seeds == [42, 43]
    assert "OVERRIDDEN: max_steps crafter 2000 -> 50" in first and "seeds [42, 43]" in first


def test_fixed_and_heldout_follow_the_protocol() -> None:
    from automem_scaffold._suite import fixed_and_heldout

    config, _ = configure(*REAL, "--env", "crafter,nethack", "--held-out", "1")
    fixed, held = fixed_and_heldout(config)
    assert [e.seed for e in fixed if e.env_id == "nethack"] == list(range(42, 52))
    assert [(e.env_id, e.seed) for e in held] == [("crafter", 52), ("nethack", 52)]
    nethack = next(e for e in fixed if e.env_id == "nethack")
    assert (nethack.max_steps, nethack.no_progress_steps, nethack.action_set) == (
        100000,
        150,
        "balrog",
    )
    explicit, _ = configure(*REAL, "--seeds", "7,9", "--held-out", "2")
    fixed, held = fixed_and_heldout(explicit)
    assert [e.seed for e in fixed] == [7, 9] and [e.seed for e in held] == [42, 43]


def test_dry_run_prints_the_plan_and_spends_nothing(tmp_path: Path, capsys) -> None:
    from automem_scaffold import main

    run_dir = tmp_path / "run"
    assert main([*REAL, "--run-dir", str(run_dir), "--iterations", "2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert not run_dir.exists()
    assert out.splitlines()[0].startswith("protocol paper [full scale]")
    assert "start" in out and "gate" in out and "GPU-hours" in out
    # iteration 0 plus 2 iterations x (3 attempts + 1 continuation), 10 x 2,000 steps each
    assert "180,000" in out
    assert "at most 8,000,000 billed tokens" in out


def test_set_sampling_sets_and_adds_keys(tmp_path: Path) -> None:
    root = tmp_path / "s"
    shutil.copytree(builtin_scaffold("v0"), root)
    manifest = root / "scaffold.toml"
    text = manifest.read_text()
    # Drop [plan]'s max_tokens so the default applies and the setting must add the key.
    manifest.write_text(
        "\n".join(
            line
            for line in text.splitlines()
            if not (line.startswith("max_tokens") and "plan" in text.split(line)[0][-300:])
        )
        + "\n"
    )
    changes = set_sampling(manifest, max_rounds=2, max_tokens=24, temperature=1.0)
    assert any("[log] max_rounds = 2" in c for c in changes)
    assert "temperature = 1.0 (was the default)" in changes
    scaffold = load_scaffold(root)
    assert scaffold.manifest.temperature == 1.0
    for phase in (scaffold.manifest.log, scaffold.manifest.plan):
        assert phase.max_rounds == 2 and phase.max_tokens == 24
    assert set_sampling(manifest, max_rounds=None, max_tokens=None) == []
    assert set_sampling(manifest, max_tokens=4096) == [
        "[log] max_tokens = 4096 (was 24)",
        "[plan] max_tokens = 4096 (was 24)",
    ]


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
