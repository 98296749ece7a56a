"""The rule-based reviewer (`--meta-llm rules`): real Crafter episodes played by a scripted agent
with known faults, the real bundle, the real review session and tools, the real validation.
Each fault must produce its stated revision in the candidate scaffold."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

import pytest
from automem_agent import ChatResponse, builtin_scaffold
from automem_agent.models import ScriptedModel
from automem_envs import EpisodeSpec
from automem_scaffold import ReviewSettings, build_bundle, revise
from automem_scaffold._archive import copy_scaffold
from automem_scaffold._evaluate import evaluate
from automem_scaffold._rules import NAME, RulesReviewer

pytest.importorskip("crafter", reason="Crafter is not installed (uv sync --extra crafter)")


def faulty_agent(request) -> ChatResponse:
    """LOG: appends the same line every step, and its replies hit max_tokens. PLAN: proposes
    an action that is not in Crafter's vocabulary."""
    user = request.messages[-1].content
    if "LOG phase" in user:
        return ChatResponse(
            text="<|APPEND|>log.md|I looked around.<|END|><|DONE|>",
            finish_reason="length",
            output_tokens=request.max_tokens,
        )
    return ChatResponse(text="<|ACTION|>walk left<|END|>", finish_reason="stop")


def test_rules_reviewer_turns_trace_faults_into_stated_revisions(tmp_path: Path) -> None:
    start = tmp_path / "start"
    copy_scaffold(builtin_scaffold("v0"), start)
    it0 = tmp_path / "iterations" / "000"
    episodes = [EpisodeSpec(env_id="crafter", seed=s, max_steps=8) for s in (1, 2)]
    asyncio.run(evaluate(start, episodes, it0, model=ScriptedModel(faulty_agent)))
    build_bundle(it0, start, it0 / "bundle", title="iteration 000")

    out = tmp_path / "iterations" / "001"
    outcome = asyncio.run(
        revise(
            iteration=1,
            incumbent=0,
            incumbent_scaffold=start,
            incumbent_mean=0.0,
            bundle_dir=it0 / "bundle",
            episodes=[e.key for e in episodes],
            out_dir=out,
            meta=RulesReviewer(),
            settings=ReviewSettings(turns=4, smoke_steps=2),
        )
    )
    assert outcome.ok, outcome.reason
    assert outcome.meta_model == NAME and outcome.meta_input_tokens == 0
    manifest = tomllib.loads((out / "scaffold" / "scaffold.toml").read_text())
    capped = [r for r in manifest["memory"]["schema"]["rules"] if r["pattern"] == "log.md"]
    assert capped and (capped[0].get("max_lines") or capped[0].get("keyed_by"))
    assert manifest["action_aliases"] == {"walk left": "move west"}
    assert manifest["log"]["max_tokens"] > 160  # every LOG reply was cut at v0's 160
    assert not (out / "scaffold" / "memory" / "notes.md").exists()  # never read nor written
    review = (out / "review.md").read_text()
    assert "rule-based baseline" in review and "not a meta-LLM" in review
    for stated in ("Appends to log.md", "walk left", "notes.md", "max_tokens"):
        assert stated in review
    # It read the bundle through the tools, like a meta-LLM would.
    calls = (out / "review" / "transcript.json").read_text()
    assert '"grep"' in calls and "bundle/summary.md" in calls


def _stuck_trace(root: Path) -> None:
    """A recorded Crafter episode (real trace records) whose observation does not change from
    step 3 to step 11, and whose LOG reads notes.md every step."""
    from automem_agent.trace import EpisodeSummary, LLMTurn, StepRecord, TraceHeader, TraceWriter
    from automem_envs import EpisodeStats

    header = TraceHeader(
        env_id="crafter",
        seed=42,
        max_steps=12,
        agent="memory",
        scaffold_name="v0",
        scaffold_hash="0" * 64,
        models={"memory": "scripted"},
    )
    with TraceWriter(root / "eval" / "crafter" / "42.jsonl", header) as writer:
        for i in range(12):
            turn = LLMTurn(
                phase="log",
                role="memory",
                round=1,
                messages=[],
                response="<|READ|>notes.md<|END|><|DONE|>",
            )
            writer.write(
                StepRecord(
                    step=i,
                    observation=f"You face grass (step {min(i, 3)}).",
                    turns=[turn],
                    action="do",
                    executed_action="do",
                    valid_action=True,
                    memory_bytes=90,
                )
            )
        stats = EpisodeStats(env_id="crafter", seed=42, steps=12, end_reason="max_steps")
        writer.write(EpisodeSummary(stats=stats, status="finished", steps=12, ending="step_limit"))


def test_stuck_spans_in_the_index_change_the_stuck_warning(tmp_path: Path) -> None:
    from automem_agent.meta import Budget, ToolSession
    from automem_scaffold import ReviewWorkspace

    bundle, candidate = tmp_path / "bundle", tmp_path / "candidate"
    copy_scaffold(builtin_scaffold("demo"), candidate)  # window 4 (v0 warns at the first repeat)
    _stuck_trace(tmp_path / "it0")
    build_bundle(tmp_path / "it0", candidate, bundle, title="iteration 000")
    assert "crafter__42: 3-11 (9)" in (bundle / "summary.md").read_text()
    workspace = ReviewWorkspace(bundle, candidate)
    session = ToolSession(RulesReviewer(), workspace.tools(), system="", budget=Budget(max_turns=4))
    transcript = asyncio.run(session.run("review"))
    assert transcript.end_reason == "finish"
    assert transcript.turns[0].calls[2].name == "index"  # it read the index, not the text
    manifest = tomllib.loads((candidate / "scaffold.toml").read_text())
    assert manifest["stuck"]["window"] == 3  # the demo's 4, one earlier
    assert "Do not repeat them" in manifest["stuck"]["message"]
    assert "crafter__42: 3-11 (9)" in transcript.rationale
    assert (candidate / "memory" / "notes.md").exists()  # it was read: not removed


def test_rules_reviewer_keeps_the_initial_memory_when_every_file_went_unused(tmp_path: Path):
    """An agent that writes only a file of its own (SmolLM2 does this) leaves every initial file
    unused; removing them all would leave the scaffold no initial memory, so none is removed."""

    def own_file_agent(request) -> str:
        if "LOG phase" in request.messages[-1].content:
            return "<|APPEND|>own.md|moved on<|END|><|DONE|>"
        return "<|ACTION|>noop<|END|>"

    start = tmp_path / "start"
    copy_scaffold(builtin_scaffold("demo"), start)
    it0 = tmp_path / "iterations" / "000"
    episodes = [EpisodeSpec(env_id="crafter", seed=s, max_steps=6) for s in (1, 2)]
    asyncio.run(evaluate(start, episodes, it0, model=ScriptedModel(own_file_agent)))
    build_bundle(it0, start, it0 / "bundle", title="iteration 000")
    out = tmp_path / "iterations" / "001"
    outcome = asyncio.run(
        revise(
            iteration=1, incumbent=0, incumbent_scaffold=start, incumbent_mean=0.0,
            bundle_dir=it0 / "bundle", episodes=[e.key for e in episodes], out_dir=out,
            meta=RulesReviewer(), settings=ReviewSettings(turns=4, smoke_steps=2),
        )
    )  # fmt: skip
    assert outcome.ok, outcome.reason  # the line cap on own.md validates
    assert sorted(p.name for p in (out / "scaffold" / "memory").iterdir()) == ["log.md", "notes.md"]
    assert "removing them all would leave no initial memory" in (out / "review.md").read_text()
