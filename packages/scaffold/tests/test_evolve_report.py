"""Loop 1's report shows the memory side of each iteration: a real run on Crafter with the `demo`
start scaffold, a scripted agent that appends the same keyed fact and searches every step, and
the rule-based reviewer, whose keyed-schema revision must show up as lower memory growth."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from automem_agent import ChatRequest, ScriptedModel, iter_traces
from automem_memfs import Action, Append, Done, Search, format_call
from automem_scaffold import EvolveConfig, evolve

pytest.importorskip("crafter", reason="Crafter is not installed (uv sync --extra crafter)")

FACT = "seen: grass and trees around me"


def memory_agent(request: ChatRequest) -> str:
    """LOG: one append of the same `key: value` line (the demo's LOG only appends); PLAN: one
    search, then noop."""
    messages = request.messages
    if "LOG phase" in messages[-1].content:
        return format_call(Append(path="log.md", content=FACT)) + "\n" + format_call(Done())
    plan = max(i for i, m in enumerate(messages) if "PLAN phase" in m.content)
    if not any(m.role == "assistant" for m in messages[plan:]):  # the phase's first round
        return format_call(Search(pattern="seen", path="log.md"))
    return format_call(Action(text="noop"))


def test_report_shows_memory_figures_per_iteration_and_says_progression_did_not_move(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=2,
        held_out=1,
        max_steps=6,
        iterations=1,
        agent_llm="scripted:test_evolve_report:memory_agent",
        meta_llm="rules",
        from_scaffold="demo",
        review_turns=6,
        smoke_steps=2,
        attempts=1,  # the figures below are of the one revision, at the top of iterations/001
        continuations=0,
    )
    summary = asyncio.run(evolve(config, agent_model=ScriptedModel(memory_agent, name="agent")))
    start, revised = summary.rows
    assert revised.stage != "validation", revised.reason  # the revision was evaluated

    # The figures are the traces' own, aggregated per iteration.
    for row in (start, revised):
        it = run / "iterations" / f"{row.iteration:03d}"
        summaries = [t.summary for t in iter_traces(it / "eval") if t.summary is not None]
        assert len(summaries) == 2
        growth = sum(s.memory_growth_per_step for s in summaries) / 2
        assert row.memory_growth_per_step == pytest.approx(growth)
        assert row.memory_ops == sum(sum(s.op_counts.values()) for s in summaries)
        assert row.parse_rate == {"log": 1.0, "plan": 1.0}
    assert start.write_to_search == pytest.approx(1.0)  # one append per search
    assert start.memory_growth_per_step > 0
    # The keyed schema replaces the repeated `seen:` line instead of adding it again.
    assert revised.memory_growth_per_step < start.memory_growth_per_step
    review = (run / "iterations" / "001" / "review.md").read_text()
    assert "keyed schema" in review

    report = (run / "report.md").read_text()
    assert "## Memory per iteration" in report
    table = report.split("## Memory per iteration", 1)[1].split("```")[1]
    head, *lines = table.strip().splitlines()
    for column in ("mean %", "write/search", "growth chars/step", "LOG parsed %", "PLAN parsed %"):
        assert column in head
    assert [line.split()[0] for line in lines] == ["000", "001"]
    assert f"{start.memory_growth_per_step:.1f}" in lines[0]
    assert f"{revised.memory_growth_per_step:.1f}" in lines[1]
    assert "1.00" in lines[0] and "100.0" in lines[0]
    # The scripted agent only idles: the report says plainly that progression never moved.
    assert start.mean_progression == revised.mean_progression == 0.0
    assert "Mean progression did not move" in report
    assert (run / "progression.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    saved = json.loads((run / "summary.json").read_text())
    assert saved["rows"][0]["memory_growth_per_step"] == pytest.approx(start.memory_growth_per_step)
    evaluation = json.loads((run / "iterations" / "000" / "evaluation.json").read_text())
    assert evaluation["turns"] == evaluation["parsed_turns"] and evaluation["op_counts"]["search"]
