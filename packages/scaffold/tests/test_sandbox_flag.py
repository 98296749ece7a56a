"""Loop 1 refuses to run LLM-written code without bubblewrap unless told to, and says so."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from automem_scaffold._cli import build_parser, config_from_args
from automem_scaffold._config import EvolveConfig, EvolveError
from automem_scaffold._evolve import evolve
from automem_scaffold._report import RunSummary, format_end


def test_flag_reaches_the_config() -> None:
    assert config_from_args(build_parser().parse_args([])).unsafe_no_sandbox is False
    args = build_parser().parse_args(["--unsafe-no-sandbox"])
    assert config_from_args(args).unsafe_no_sandbox is True


def test_evolve_without_bwrap_refuses_naming_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOMEM_BWRAP", str(tmp_path / "missing-bwrap"))
    with pytest.raises(EvolveError, match="apt-get install bubblewrap") as info:
        asyncio.run(evolve(EvolveConfig(run_dir=str(tmp_path / "run"))))
    assert "--unsafe-no-sandbox" in str(info.value)


def test_the_report_says_the_run_was_unsandboxed() -> None:
    summary = RunSummary(
        run_dir="runs/x",
        demo_scale=False,
        unsafe_no_sandbox=True,
        stopped="completed",
        iterations_planned=0,
        iterations_done=0,
        incumbent=0,
        start_mean=None,
        final_mean=None,
        heldout_mean=None,
        heldout_gap=None,
        fixed_episodes=[],
        heldout_episodes=[],
        meta_tokens=0,
        agent_tokens=0,
        dollars=0.0,
        rows=[],
    )
    assert format_end(summary).startswith("UNSAFE: --unsafe-no-sandbox was set")
