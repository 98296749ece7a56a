"""Write attribution by counterfactual replay on real Crafter: the scripted agent's play depends
on exactly one memory write, and the replay must find that write and only that one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from attribution_policies import KEY_STEP, key_policy
from automem_agent import (
    RoleModels,
    ScriptedModel,
    builtin_scaffold,
    load_scaffold,
    memory_agent_factory,
    run_suite,
)
from automem_agent.meta import ToolError
from automem_envs import EpisodeSpec, Suite
from automem_scaffold import (
    AttributionBudget,
    AttributionError,
    attribute_writes,
    attribution_tool,
    format_attribution,
)

HERE = Path(__file__).resolve().parent  # the scripted agent, for the app's process
ROOT = HERE.parents[2]  # the repository, for apps/


def _play(out: Path, steps: int) -> Path:
    scaffold = load_scaffold(builtin_scaffold("v0"))
    model = ScriptedModel(key_policy, name="scripted:attribution_policies:key_policy")
    spec = EpisodeSpec(env_id="crafter", seed=42, max_steps=steps)
    try:
        factory = memory_agent_factory(scaffold, RoleModels.single(model))
        asyncio.run(run_suite(Suite(name="t", episodes=[spec]), factory, out, progress=False))
    finally:
        scaffold.close()
    return out / "eval" / "crafter" / "42.jsonl"


@pytest.mark.slow
def test_replay_finds_the_one_write_that_matters(tmp_path: Path) -> None:
    trace = _play(tmp_path / "run", steps=30)
    model = ScriptedModel(key_policy, name="live")
    table = asyncio.run(
        attribute_writes(trace, builtin_scaffold("v0"), model, steps=[1, KEY_STEP, 3], horizon=24)
    )
    by_step = {r.step: r for r in table.rows}
    assert sorted(by_step) == [1, KEY_STEP, 3]
    assert all(r.replayed_prefix for r in table.rows)
    key = by_step[KEY_STEP]
    assert key.path == "notes.md" and key.op == "append"
    assert key.progression_with > 0 and key.progression_without == 0.0 and key.effect > 0
    assert by_step[1].effect == 0.0 and by_step[3].effect == 0.0
    # The prefix came from the trace: each replay paid only for the steps after the write.
    assert 0 < key.calls <= table.estimated_calls
    assert "DIVERGED" not in format_attribution(table)

    with pytest.raises(AttributionError, match="budget"):
        asyncio.run(attribute_writes(trace, builtin_scaffold("v0"), model, horizon=24, max_calls=5))

    # The reviewer's tool: bounded replays over the reviewed traces only.
    budget = AttributionBudget(replays=1, calls=10_000)
    tool = attribution_tool(tmp_path / "run", builtin_scaffold("v0"), model, budget=budget)
    text = asyncio.run(tool.handler({"episode": "crafter__42", "steps": [KEY_STEP], "horizon": 24}))
    assert "notes.md" in text and "budget left: 0 replay(s)" in text and budget.replays == 0
    with pytest.raises(ToolError, match="budget"):
        asyncio.run(tool.handler({"episode": "crafter__42", "steps": [1]}))
    with pytest.raises(ToolError, match="no reviewed episode"):
        asyncio.run(tool.handler({"episode": "crafter__44", "steps": [1]}))


@pytest.mark.slow
def test_attribute_app_writes_the_table(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _play(run, steps=12)
    out = tmp_path / "table.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "apps" / "attribute"),
            str(run),
            "--episode",
            "crafter__42",
            "--steps",
            f"{KEY_STEP}-3",
            "--horizon",
            "8",
            "--scaffold",
            "v0",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "notes.md" in done.stdout and out.exists()
    bad = subprocess.run(
        [sys.executable, str(ROOT / "apps" / "attribute"), str(run), "--episode", "crafter__99"],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(HERE), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert bad.returncode == 2 and "crafter__99" in bad.stderr


class _AttributingReviewer:
    """A scripted meta-LLM that asks the review's `attribute` tool what the write at
    `KEY_STEP` of crafter__42 was worth, then finishes with the answer as its rationale."""

    name = "scripted-attributing-reviewer"
    supports_tools = True
    supports_grammar = False

    def __init__(self) -> None:
        self.tool_names: list[list[str]] = []

    async def complete(self, request):
        from automem_agent import ChatResponse, ToolCall

        self.tool_names.append([t.name for t in request.tools])
        results = [r for m in request.messages for r in m.tool_results]
        if not results:
            args = {"episode": "crafter__42", "steps": [KEY_STEP], "horizon": 24}
            call = ToolCall(id="a1", name="attribute", input=args)
        else:
            call = ToolCall(id="f1", name="finish", input={"rationale": results[-1].content})
        return ChatResponse(text="", model=self.name, finish_reason="tool_use", tool_calls=[call])


@pytest.mark.slow
def test_the_reviewer_attributes_writes_within_the_planned_budget(tmp_path: Path) -> None:
    """Loop 1 with `attribution_replays`: the plan counts the replays, the LLM reviewer gets
    the `attribute` tool over its reviewed traces, and the table reaches its rationale."""
    from automem_scaffold import EvolveConfig, evolve, format_plan, plan_run

    config = EvolveConfig(
        run_dir=str(tmp_path / "run"),
        seeds=[42],
        held_out=0,
        max_steps=30,
        iterations=1,
        attempts=1,
        continuations=0,
        agent_llm="scripted:attribution_policies:key_policy",
        meta_llm="scripted-attributing-reviewer",
        review_turns=3,
        attribution_replays=1,
        attribution_horizon=24,
        concurrency=1,
    )
    plan = format_plan(plan_run(config))
    assert "attribution" in plan and "1 replay(s) per review" in plan
    reviewer = _AttributingReviewer()
    agent = ScriptedModel(key_policy, name="scripted:attribution_policies:key_policy")
    asyncio.run(evolve(config, agent_model=agent, meta_model=reviewer))
    assert "attribute" in reviewer.tool_names[0]
    review = tmp_path / "run" / "iterations" / "001" / "review" / "transcript.json"
    rationale = msgspec.json.decode(review.read_bytes())["rationale"]
    assert "notes.md" in rationale and "budget left: 0 replay(s)" in rationale

    # Off by default: no tool, no plan row.
    assert "attribution" not in format_plan(
        plan_run(msgspec.structs.replace(config, attribution_replays=0))
    )
