"""The gating flags of apps/evolve: off by default (the paper's rule), recorded when set."""

from __future__ import annotations

from pathlib import Path

import pytest
from automem_scaffold import EvolveError, build_parser, config_from_args, load_config
from automem_scaffold._config import save_config


def test_paper_rule_is_the_default_and_flags_reach_the_config(tmp_path: Path) -> None:
    default = config_from_args(build_parser().parse_args([]))
    assert default.screen_seeds == 0 and default.accept_seeds == 0 and default.gate == "mean"
    args = ["--screen-seeds", "3", "--screen-steps", "200", "--screen-margin", "0.05"]
    args += ["--accept-seeds", "5", "--gate", "paired-ci", "--no-pareto"]
    config = config_from_args(build_parser().parse_args(args))
    assert (config.screen_seeds, config.screen_max_steps, config.screen_margin) == (3, 200, 0.05)
    assert config.accept_seeds == 5 and config.gate == "paired-ci" and not config.pareto
    save_config(config, tmp_path / "config.toml")
    assert load_config(tmp_path / "config.toml") == config


def test_a_negative_count_is_refused_not_read_as_off(tmp_path: Path) -> None:
    for flag in ("--attribution-replays", "--screen-seeds", "--accept-seeds", "--iterations"):
        args = build_parser().parse_args([flag, "-1", "--run-dir", str(tmp_path / "run")])
        with pytest.raises(EvolveError, match="must be 0 or more, got -1"):
            config_from_args(args)
