"""Everything a meta-LLM may produce that the loop must survive: nonsense, a refusal, an empty
revision, a syntax error in hooks.py, a hook that hangs, a hook that eats memory, and writes
outside its copy. Each is contained, recorded as a rejected candidate with its reason, and the
loop goes on to the next iteration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from automem_agent import ScriptedModel, builtin_scaffold
from automem_scaffold import EvolveConfig, evolve, read_decisions, validate_candidate
from test_evolve_policies import (
    ESCAPE_FILE,
    MISBEHAVIOUR,
    agent_policy,
    misbehaving_reviewer,
)


@pytest.mark.slow
def test_every_misbehaviour_is_contained_and_the_loop_goes_on(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    run = work / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=1,
        held_out=0,
        max_steps=3,
        iterations=len(MISBEHAVIOUR),
        agent_llm="scripted:test_evolve_policies:agent_policy",
        meta_llm="scripted:test_evolve_policies:misbehaving_reviewer",
        review_turns=4,
        repair_attempts=0,
        validate_wall_s=25,
        validate_memory_mb=1024,
    )
    summary = asyncio.run(
        evolve(
            config,
            agent_model=ScriptedModel(agent_policy),
            meta_model=ScriptedModel(misbehaving_reviewer, name="misbehaving"),
        )
    )
    d = read_decisions(run)
    assert sorted(d) == list(range(len(MISBEHAVIOUR) + 1))
    assert not any(d[k].kept for k in range(1, len(MISBEHAVIOUR) + 1))
    assert summary.stopped == "completed" and summary.incumbent == 0

    for k in (1, 2, 3):  # nonsense, refusal, empty revision
        assert d[k].stage == "review" and "empty revision" in d[k].reason
    assert "max_turns" in d[1].reason and "max_turns" in d[2].reason
    assert "finish" in d[3].reason
    assert d[4].stage == "validation" and "syntax error" in d[4].reason
    assert d[5].stage == "validation" and "did not finish within 25 s" in d[5].reason
    assert d[6].stage == "validation" and "MemoryError" in d[6].reason
    assert d[7].stage == "review" and "outside its scaffold copy" in d[7].reason
    assert "bundle/summary.md" in d[7].reason
    # The escape was refused: nothing was written outside the copy, the bundle is intact.
    assert not any(p.name == ESCAPE_FILE for p in tmp_path.rglob(ESCAPE_FILE))
    summary_md = run / "iterations" / "000" / "bundle" / "summary.md"
    assert summary_md.read_text().startswith("# Iteration 000")
    # Iteration 7's review log shows the refusals went back to the model as errors.
    review = (run / "iterations" / "007" / "review.md").read_text()
    assert "write_file" in review and "ERROR" in review


def test_validation_stages(tmp_path: Path) -> None:
    import shutil

    good = tmp_path / "good"
    shutil.copytree(builtin_scaffold("v0"), good)
    report = validate_candidate(good, env_id="crafter", seed=1, steps=2)
    assert report.ok and report.steps == 2

    bad_manifest = tmp_path / "bad_manifest"
    shutil.copytree(good, bad_manifest)
    toml = bad_manifest / "scaffold.toml"
    toml.write_text(
        toml.read_text().replace('ops = ["search", "read", "tail", "count"]', 'ops = ["append"]')
    )
    report = validate_candidate(bad_manifest, env_id="crafter", seed=1, steps=2)
    assert not report.ok and report.stage == "manifest" and "append" in report.message

    raising = tmp_path / "raising"
    shutil.copytree(good, raising)
    (raising / "hooks.py").write_text("def repair_action(action, actions):\n    return 1 / 0\n")
    report = validate_candidate(raising, env_id="crafter", seed=1, steps=2)
    assert not report.ok and report.stage == "smoke" and "ZeroDivisionError" in report.message
