"""Budget flags stop a run cleanly, with a summary, and a rerun with a larger budget goes on."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from automem_agent import ScriptedModel
from automem_scaffold import EvolveConfig, evolve, read_decisions
from test_evolve_policies import agent_policy, meta_reviewer


def _config(run: Path, **kw: object) -> EvolveConfig:
    return EvolveConfig(
        run_dir=str(run),
        seeds=1,
        held_out=0,
        max_steps=8,
        iterations=2,
        agent_llm="scripted:test_evolve_policies:agent_policy",
        meta_llm="scripted:test_evolve_policies:meta_reviewer",
        review_turns=6,
        **kw,  # type: ignore[arg-type]
    )


def _models() -> dict[str, ScriptedModel]:
    return {"agent_model": ScriptedModel(agent_policy), "meta_model": ScriptedModel(meta_reviewer)}


def test_max_meta_tokens_stops_after_the_review_that_spent_them(tmp_path: Path) -> None:
    run = tmp_path / "run"
    summary = asyncio.run(evolve(_config(run, max_meta_tokens=10), **_models()))
    assert summary.stopped.startswith("max_meta_tokens (10) reached")
    # Iteration 1's review ran with what was left of the budget and was cut off by it (so its
    # candidate was empty and rejected); then the run stopped before a second review.
    first = read_decisions(run)[1]
    assert not first.kept and "session ended: max_tokens" in first.reason
    assert not (run / "iterations" / "002").exists()
    saved = json.loads((run / "summary.json").read_text())
    assert saved["stopped"] == summary.stopped and (run / "report.md").exists()
    assert "max_meta_tokens" in (run / "report.md").read_text()

    # The same run with the budget lifted continues from what is on disk.
    done = asyncio.run(evolve(_config(run), **_models()))
    assert done.stopped == "completed" and sorted(read_decisions(run)) == [0, 1, 2]


def test_max_hours_zero_stops_before_any_work(tmp_path: Path) -> None:
    run = tmp_path / "run"
    summary = asyncio.run(evolve(_config(run, max_hours=0.0), **_models()))
    assert summary.stopped.startswith("max_hours")
    assert summary.rows == [] and (run / "summary.json").exists()
    assert (run / "progression.png").exists()
