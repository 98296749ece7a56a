"""A whole Loop 1 run with a scripted reviewer at real scale: 2 iterations over the 10 fixed
Crafter seeds with BALROG's 2,000-step limit, played by a scripted agent on the real game.

The reviewer surveys the bundle through the shared review toolset (the index, 20 targeted
reads, one sandboxed Python analysis), finds the bloated duplicate-appending notes.md and the
failing craft habit, and writes a code-level revision: a keyed schema and an action gate in the
agent program, checked with a dry run and validation. The gate keeps it. Every read stays
within the tools' bounds and the session within the default token budget. Iteration 2 reviews
the revision's own evaluation and finds nothing left to fix.

`AUTOMEM_SCALE_STEPS` lowers the step limit for a quick local run (the default is 2,000).
"""

from __future__ import annotations

import asyncio
import json
import os
import tomllib
from pathlib import Path

import pytest
from automem_agent import ScriptedModel
from automem_agent.meta import VIEW_CHARS, sandbox_problem
from automem_scaffold import EvolveConfig, bundle_library, evolve, read_decisions
from review_scale_policies import ScaleReviewer, agent_policy

pytest.importorskip("crafter", reason="Crafter is not installed (uv sync --extra crafter)")
STEPS = int(os.environ.get("AUTOMEM_SCALE_STEPS", "2000"))


@pytest.mark.slow
@pytest.mark.skipif(bool(sandbox_problem()), reason=sandbox_problem() or "bwrap works")
def test_scripted_reviewer_at_scale_keeps_a_code_level_revision(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=10,
        held_out=0,
        max_steps=STEPS,
        iterations=2,
        agent_llm="scripted:review_scale_policies:agent_policy",
        meta_llm="scripted:review_scale_policies:ScaleReviewer",
        review_turns=12,  # a survey takes 8 replies; the token budget stays the default
        meta_max_tokens=4096,  # a code-level revision is longer than the demo's 96 tokens
        repair_attempts=0,
        concurrency=2,
    )
    reviewer = ScaleReviewer()
    agent = ScriptedModel(agent_policy, name="scripted-scale-agent")
    asyncio.run(evolve(config, agent_model=agent, meta_model=reviewer))

    decisions = read_decisions(run)
    first, second = decisions[1], decisions[2]
    assert first.kept, first.reason
    assert first.mean_progression > decisions[0].mean_progression

    # The survey found the bloat and the habit through the tools.
    it1 = run / "iterations" / "001"
    transcript = json.loads((it1 / "review" / "transcript.json").read_text())
    calls = [c for t in transcript["turns"] for c in t["calls"]]
    names = [c["name"] for c in calls]
    assert names[0] == "index" and names.count("python") == 1
    reads = [n for n in names if n in ("view", "prompts", "grep", "read", "tail")]
    assert len(reads) >= 20
    assert {"dry_run", "validate", "append", "write_file"} <= set(names)
    assert transcript["end_reason"] == "finish"
    assert "notes.md bloats" in transcript["rationale"]
    # Every read stayed within the tools' bounds, the session within the default budget.
    for c in calls:
        bound = 4 * VIEW_CHARS if c["name"] == "index" else VIEW_CHARS
        assert len(c["result"]) <= bound + 300, (c["name"], len(c["result"]))
    assert transcript["billed_tokens"] <= EvolveConfig(run_dir="x").review_tokens
    assert transcript["trimmed_chars"] > 0  # read results left later requests
    # What it saw before the gate: the candidate's code at work on recorded steps.
    assert "would be sent back" in reviewer.findings["dry_run"]
    assert "reject: you need wood first" in reviewer.findings["dry_run"]
    assert reviewer.findings["validate"].startswith("Validation passed")
    assert "--- [system]" in reviewer.findings["validate"]  # the prompts the agent received

    # The kept revision is code: a keyed schema and an action gate.
    scaffold = it1 / "scaffold"
    manifest = tomllib.loads((scaffold / "scaffold.toml").read_text())
    rule = next(r for r in manifest["memory"]["schema"]["rules"] if r["pattern"] == "notes.md")
    assert rule["keyed_by"]
    assert "class Agent" in (scaffold / "hooks.py").read_text()
    # ... and it did what it says on the revision's own episodes (iteration 2's bundle).
    library = bundle_library(it1 / "bundle")
    before = bundle_library(run / "iterations" / "000" / "bundle")
    for name in library.names:
        notes = next(f for f in library.index(name).memory_files if f.path == "notes.md")
        assert notes.duplicate_lines == 0 and notes.lines <= 6
        assert library.index(name).rejections
        old = next(f for f in before.index(name).memory_files if f.path == "notes.md")
        assert old.duplicate_lines > 10
    # Iteration 2 surveyed the revision's evaluation and found nothing left to change.
    assert not second.kept and "empty revision" in second.reason
