"""Validation errors go back to the meta-LLM, which repairs its candidate within the bound."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from automem_agent import ChatRequest, ScriptedModel, builtin_scaffold
from automem_scaffold import ReviewSettings, revise

GOOD_HOOK = "def analyze(observation, history):\n    return f'{len(history)} steps so far'\n"


def _tag(name: str, **args: object) -> str:
    return f'<tool name="{name}">{json.dumps(args)}</tool>'


def repairing_reviewer(request: ChatRequest) -> str:
    last = request.messages[-1].content
    if "Validation of candidate/ failed" in last:
        assert "syntax error" in last  # the validator's message reached the model
        return _tag("write_file", path="candidate/hooks.py", content=GOOD_HOOK) + _tag(
            "finish", rationale="Fixed the syntax error."
        )
    if any(m.role == "assistant" for m in request.messages):
        return _tag("finish", rationale="Added an analyze hook.")
    return _tag("write_file", path="candidate/hooks.py", content="def analyze(observation:\n")


def test_validation_errors_are_repaired_in_the_same_session(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "summary.md").write_text("# Iteration 000 evaluation\n")
    out = tmp_path / "iterations" / "001"
    meta = ScriptedModel(repairing_reviewer, name="repairing")
    outcome = asyncio.run(
        revise(
            iteration=1,
            incumbent=0,
            incumbent_scaffold=builtin_scaffold("v0"),
            incumbent_mean=0.0,
            bundle_dir=bundle,
            episodes=["crafter__42"],
            out_dir=out,
            meta=meta,
            settings=ReviewSettings(turns=4, repair_attempts=2, smoke_steps=2),
        )
    )
    assert outcome.ok and outcome.repairs == 1, outcome.reason
    assert outcome.rationale == "Fixed the syntax error."
    assert (out / "scaffold" / "hooks.py").read_text() == GOOD_HOOK
    assert outcome.validation is not None and outcome.validation.ok
    assert "repairs: 1" in (out / "review.md").read_text()
    transcript = json.loads((out / "review" / "transcript.json").read_text())
    assert len(transcript["turns"]) == 3
