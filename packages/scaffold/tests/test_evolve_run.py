"""A whole Loop 1 run: a replay meta-LLM (native tool use) whose first revision really improves
progression on real Crafter seeds with a scripted agent that reads the scaffold's prompts, and
whose second revision breaks hooks.py."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from pathlib import Path

import msgspec
import pytest
from automem_agent import ScriptedModel
from automem_agent.models import ReplayModel
from automem_scaffold import EvolveConfig, evolve, read_decisions
from test_evolve_policies import STRATEGY_LINE, agent_policy, meta_tool_call

META = "claude-opus-4-5"  # a priced model name, so the ledger has dollars to add up


_call = partial(meta_tool_call, model=META, input_tokens=1000, output_tokens=50)


def write_replay(path: Path) -> None:
    entries = [
        # iteration 1: diagnose, then a real improvement
        _call(1, "read", path="bundle/summary.md"),
        _call(2, "grep", pattern="action 'noop'", path="bundle/traces"),
        _call(3, "insert", path="candidate/prompts/system.md", line=0, content=STRATEGY_LINE),
        _call(4, "validate"),
        _call(5, "finish", rationale="The agent idles (noop every step); add a wood strategy."),
        # iteration 2: breaks hooks.py, and its one repair attempt does not fix it
        _call(6, "write_file", path="candidate/hooks.py", content="def repair_action(action,\n"),
        _call(7, "finish", rationale="Simplified the hooks."),
        _call(8, "finish", rationale="Looks fine to me."),
    ]
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in entries))


@pytest.mark.slow
def test_two_iterations_keep_improvement_and_reject_broken_hooks(tmp_path: Path) -> None:
    replay = tmp_path / "meta.jsonl"
    write_replay(replay)
    meta = ReplayModel(replay)
    run = tmp_path / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=2,
        held_out=2,
        max_steps=10,
        iterations=2,
        agent_llm="scripted:test_evolve_policies:agent_policy",
        meta_llm=f"replay:{replay}",
        review_turns=8,
        repair_attempts=1,
        attempts=1,  # one attempt per iteration: this test follows each replayed reply
        continuations=0,
    )
    agent = ScriptedModel(agent_policy, name="scripted-agent")
    summary = asyncio.run(evolve(config, agent_model=agent, meta_model=meta))

    decisions = read_decisions(run)
    assert decisions[0].mean_progression == 0.0  # v0 prompts: the policy idles
    first = decisions[1]
    assert first.kept and first.stage == "gate"
    assert first.mean_progression is not None and first.mean_progression > 0
    assert first.gate is not None and all(d > 0 for d in first.gate.deltas.values())
    assert set(first.per_episode) == {"crafter__42", "crafter__43"}
    second = decisions[2]
    assert not second.kept and second.stage == "validation"
    assert "syntax error" in second.reason and "hooks.py" in second.reason
    assert meta.remaining() == 0

    it1 = run / "iterations" / "001"
    assert STRATEGY_LINE in (it1 / "scaffold.diff").read_text()
    assert STRATEGY_LINE in (it1 / "scaffold" / "prompts" / "system.md").read_text()
    assert "add a wood strategy" in (it1 / "review.md").read_text()
    assert (it1 / "eval" / "crafter" / "42.jsonl").exists()
    assert (it1 / "memory" / "crafter" / "42").is_dir()
    it2 = run / "iterations" / "002"
    assert "def repair_action(action," in (it2 / "scaffold.diff").read_text()
    assert not (it2 / "eval").exists()  # a rejected candidate is never evaluated

    lineage = json.loads((run / "lineage.json").read_text())
    assert [e["incumbent_after"] for e in lineage] == [0, 1, 1]
    assert summary.incumbent == 1 and summary.stopped == "completed"
    assert summary.heldout_mean is not None and summary.heldout_mean > 0
    assert summary.heldout_gap == pytest.approx(summary.final_mean - summary.heldout_mean)
    assert json.loads((run / "heldout" / "incumbent.txt").read_text()) == 1

    costs = json.loads((run / "costs.json").read_text())
    assert costs["meta_tokens"] == 8 * 1050
    assert costs["dollars"] == pytest.approx(8 * (1000 * 5 + 50 * 25) / 1e6)
    assert costs["agent_tokens"] > 0
    report = (run / "report.md").read_text()
    assert "iterations/001/scaffold.diff" in report and "iterations/002/review.md" in report
    assert (run / "progression.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "evolve.log").read_text().count("KEPT") == 1

    # Running the finished run again redoes nothing and gives the same answer.
    before = (it1 / "evaluation.json").stat().st_mtime_ns
    again = asyncio.run(evolve(config, agent_model=agent, meta_model=ReplayModel(replay)))
    assert again.incumbent == 1 and (it1 / "evaluation.json").stat().st_mtime_ns == before
