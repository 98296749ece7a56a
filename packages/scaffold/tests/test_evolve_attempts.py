"""Attempts with memory (issue 10, part 3) in a whole Loop 1 run on real Crafter seeds.

Iteration 1: a fresh attempt breaks hooks.py (rejected at validation); the continuation of its
session sees that error, repairs the hook but changes nothing that matters (rejected at the
gate, with per-seed deltas); a fresh attempt is shown both in its lineage and writes the real
improvement (kept). Iteration 2's reviews read the lineage file in the bundle, change nothing,
and after three rejections in a row the task asks for a structural change.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from automem_agent import ChatRequest, ScriptedModel
from automem_scaffold import (
    AttemptRecord,
    EvolveConfig,
    archive_attempt,
    evolve,
    plan_next,
    read_attempts,
    read_decisions,
)
from test_evolve_policies import STRATEGY_LINE, agent_policy

BROKEN_HOOK = "def analyze(observation, history:\n"
GOOD_HOOK = "def analyze(observation, history):\n    return ''\n"
RATIONALE_A = "Rationale A: an analyze hook that counts steps."
RATIONALE_B = "Rationale B: repaired the hook and asked for care."
RATIONALE_C = "Rationale C: the agent idles; tell it to collect wood."


def _tag(name: str, **args: object) -> str:
    return f'<tool name="{name}">{json.dumps(args)}</tool>'


class Reviewer:
    """A tool-tag-syntax meta-LLM that plays its part from what each request shows it, and keeps
    every request for the assertions."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    def __call__(self, request: ChatRequest) -> str:
        self.requests.append(request)
        users = [i for i, m in enumerate(request.messages) if m.role == "user"]
        task = request.messages[users[0]].content
        opening = max(
            i for i in users if "a continuation" in request.messages[i].content or i == users[0]
        )
        replies = sum(1 for m in request.messages[opening:] if m.role == "assistant")
        if "a continuation" in request.messages[opening].content:
            plan = [
                _tag("write_file", path="candidate/hooks.py", content=GOOD_HOOK),
                _tag("insert", path="candidate/prompts/system.md", line=0, content="Be careful."),
                _tag("finish", rationale=RATIONALE_B),
            ]
        elif "Iteration 2" in task:
            plan = [_tag("read", path="bundle/lineage.md"), _tag("finish", rationale="No change.")]
        elif "No earlier revision" in task:
            plan = [
                _tag("write_file", path="candidate/hooks.py", content=BROKEN_HOOK),
                _tag("finish", rationale=RATIONALE_A),
            ]
        else:
            plan = [
                _tag("insert", path="candidate/prompts/system.md", line=0, content=STRATEGY_LINE),
                _tag("finish", rationale=RATIONALE_C),
            ]
        return plan[min(replies, len(plan) - 1)]

    def tasks(self) -> list[str]:
        """The first request of each session (fresh attempts) and of each continuation."""
        out = []
        for r in self.requests:
            if not any(m.role == "assistant" for m in r.messages):
                out.append(r.messages[1].content)
            elif "a continuation" in r.messages[-1].content:
                out.append(r.messages[-1].content)
        return out


@pytest.mark.slow
def test_continuation_and_lineage_carry_errors_rationales_and_deltas(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=2,
        held_out=0,
        max_steps=10,
        iterations=2,
        agent_llm="scripted:test_evolve_policies:agent_policy",
        meta_llm="scripted:reviewer",
        review_turns=6,
        repair_attempts=0,
        attempts=3,
        continuations=1,
        structural_after=3,
        smoke_steps=2,
    )
    reviewer = Reviewer()
    meta = ScriptedModel(reviewer, name="scripted-reviewer")
    agent = ScriptedModel(agent_policy, name="scripted-agent")
    asyncio.run(evolve(config, agent_model=agent, meta_model=meta))

    decisions = read_decisions(run)
    first = decisions[1]
    assert first.kept, first.reason
    assert [(a.number, a.kind, a.stage, a.kept) for a in first.attempts] == [
        (1, "fresh", "validation", False),
        (2, "continuation", "gate", False),
        (3, "fresh", "gate", True),
    ]
    assert first.attempts[1].continues == 1
    assert [a.dir for a in first.attempts] == ["attempts/01", "attempts/02", "."]
    assert first.attempts[1].deltas == {"crafter__42": 0.0, "crafter__43": 0.0}
    assert "syntax error" in (first.attempts[0].validation_error or "")

    # Each attempt's files stay with it; the kept one is at the top, where the gate reads it.
    it1 = run / "iterations" / "001"
    assert (it1 / "attempts" / "01" / "scaffold" / "hooks.py").read_text() == BROKEN_HOOK
    assert (it1 / "attempts" / "02" / "evaluation.json").exists()
    assert not (it1 / "attempts" / "01" / "eval").exists()  # never evaluated
    assert STRATEGY_LINE in (it1 / "scaffold" / "prompts" / "system.md").read_text()
    # The continuation started from its own candidate, so its diff drops the broken hook.
    assert BROKEN_HOOK not in (it1 / "attempts" / "02" / "scaffold.diff").read_text()

    tasks = reviewer.tasks()
    # attempt 2 (the continuation): its own validation error, in the session that holds its
    # earlier rationale
    continuation = next(r for r in reviewer.requests if "a continuation" in r.messages[-1].content)
    assert "syntax error" in continuation.messages[-1].content
    assert any(RATIONALE_A in m.content for m in continuation.messages if m.role == "assistant")
    # attempt 3 (fresh): the lineage names both earlier attempts, the error, the rationales and
    # the per-seed gate deltas, and the paper's principles are stated
    third = tasks[2]
    assert "iteration 1 attempt 1 (fresh" in third and "syntax error" in third
    assert RATIONALE_A in third and RATIONALE_B in third
    assert "crafter__42 +0.000" in third
    assert "Memory decisions stay with the agent's LLM" in third
    assert "logged at the next step" in third
    assert "structural change" not in third

    # Iteration 2 reads the lineage file in the bundle; its fourth attempt follows three
    # rejections in a row and is asked for a structural change.
    second = decisions[2]
    assert not second.kept and len(second.attempts) == 4
    assert "all 4 attempts rejected" in second.reason
    lineage = (it1 / "bundle" / "lineage.md").read_text()
    assert RATIONALE_C in lineage and "KEPT" in lineage
    diff = (it1 / "bundle" / "lineage" / "001-3.diff").read_text()
    assert STRATEGY_LINE in diff
    read = [r for r in reviewer.requests if "Iteration 2" in r.messages[1].content]
    assert any(RATIONALE_A in m.content for r in read for m in r.messages if m.role == "user")
    fresh2 = [t for t in tasks if t.startswith("Iteration 2")]
    assert "structural change" not in fresh2[0]
    assert "structural change" in fresh2[-1]

    # The ledger counts the meta-LLM's calls of every attempt.
    costs = json.loads((run / "costs.json").read_text())
    sessions = [e for e in costs["entries"] if e["purpose"] == "meta"]
    assert len(sessions) == 3 + 4


def _record(n: int, **kw: object) -> AttemptRecord:
    return AttemptRecord(
        number=n, kind="fresh", dir=".", kept=False, stage="gate", reason="x", **kw
    )


def test_plan_is_three_fresh_and_one_continuation() -> None:
    plans = []
    done: list[AttemptRecord] = []
    while (plan := plan_next(done, fresh=3, continuations=1)) is not None:
        plans.append((plan.number, plan.kind, plan.continues))
        done.append(
            AttemptRecord(
                number=plan.number, kind=plan.kind, dir=".", kept=False, stage="gate",
                reason="x", resumable=True,
            )
        )  # fmt: skip
    assert plans == [
        (1, "fresh", None),
        (2, "continuation", 1),
        (3, "fresh", None),
        (4, "fresh", None),
    ]
    # a session that cannot go on (a CLI run that crashed) gets a fresh attempt instead
    assert plan_next([_record(1)], fresh=3, continuations=1).kind == "fresh"


def test_archive_cut_by_a_kill_is_finished_on_resume(tmp_path: Path) -> None:
    it = tmp_path / "iterations" / "001"
    (it / "scaffold").mkdir(parents=True)
    (it / "candidate.json").write_text("{}")
    (it / "review.md").write_text("attempt 1")
    archive_attempt(it, _record(1))
    assert (it / "attempts" / "01" / "review.md").read_text() == "attempt 1"
    assert not (it / "review.md").exists()
    # A kill after the record was written but before the files moved:
    (it / "attempts" / "02").mkdir()
    (it / "attempts" / "02" / "attempt.json").write_bytes(
        json.dumps({"number": 2, "kind": "fresh", "dir": "attempts/02", "kept": False,
                    "stage": "validation", "reason": "y"}).encode()
    )  # fmt: skip
    (it / "review.md").write_text("attempt 2")
    done = read_attempts(it)
    assert [a.number for a in done] == [1, 2]
    assert (it / "attempts" / "02" / "review.md").read_text() == "attempt 2"
    assert (it / "attempts" / "02" / "archived").exists() and not (it / "review.md").exists()
