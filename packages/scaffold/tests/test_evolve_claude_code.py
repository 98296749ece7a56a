"""`--meta-llm claude-code:MODEL` in a whole Loop 1 run, against a stand-in executable that
behaves like the CLI (claude_standin.py, next to this file): it hangs, crashes, succeeds, breaks
a hook, continues its session to repair it, tries to write into the bundle and reports an
error. Each outcome is recorded and the loop goes on."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from automem_agent import ScriptedModel
from automem_scaffold import EvolveConfig, evolve, read_decisions
from test_evolve_policies import STRATEGY_LINE, agent_policy

STANDIN = Path(__file__).with_name("claude_standin.py")
BEHAVIOURS = ["hang", "crash", "edit", "broken", "resume-fix", "escape", "fail-json"]


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    exe = tmp_path / "bin" / "claude"
    exe.parent.mkdir()
    exe.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(STANDIN)!r}, run_name='__main__')\n"
    )
    exe.chmod(0o755)
    script = tmp_path / "standin.json"
    script.write_text(json.dumps(BEHAVIOURS))
    monkeypatch.setenv("AUTOMEM_CLAUDE_BIN", str(exe))
    monkeypatch.setenv("AUTOMEM_CLAUDE_STANDIN", str(script))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-standin-secret")
    monkeypatch.setenv("UNRELATED_SERVICE_TOKEN", "tok-never-passed")
    return script


@pytest.mark.slow
def test_claude_code_reviewer_outcomes_are_recorded_and_the_loop_goes_on(
    tmp_path: Path, standin: Path
) -> None:
    run = tmp_path / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=2,
        held_out=0,
        max_steps=10,
        iterations=2,
        agent_llm="scripted:test_evolve_policies:agent_policy",
        meta_llm="claude-code:claude-test-model",
        review_turns=7,
        review_wall_s=8.0,
        repair_attempts=0,
        smoke_steps=2,
    )
    agent = ScriptedModel(agent_policy, name="scripted-agent")
    asyncio.run(evolve(config, agent_model=agent))
    calls = [
        json.loads(line) for line in standin.with_suffix(".calls.jsonl").read_text().splitlines()
    ]
    assert [c["behaviour"] for c in calls] == BEHAVIOURS

    decisions = read_decisions(run)
    first, second = decisions[1], decisions[2]
    assert [(a.kind, a.stage, a.kept) for a in first.attempts] == [
        ("fresh", "review", False),  # hung: killed at the wall
        ("fresh", "review", False),  # crashed: no session to continue, so a fresh attempt
        ("fresh", "gate", True),
    ]
    assert "max_wall" in first.attempts[0].reason
    assert "exited 1 without a JSON result" in first.attempts[1].reason
    assert first.attempts[2].rationale == "The agent idles with noop; I told it to collect wood."
    it1 = run / "iterations" / "001"
    assert STRATEGY_LINE in (it1 / "scaffold" / "prompts" / "system.md").read_text()
    review = (it1 / "review.md").read_text()
    assert "headless CLI" in review and "## Transcript (Claude Code)" in review
    assert "tool `Edit`" in review and "tool `Bash`" in review

    # The CLI's workspace: the bundle and its lineage are there, the shell is the sandbox.
    edit = calls[2]
    transcript = (it1 / "review" / "cli-transcript.md").read_text()
    assert transcript.count("result (error)") == 1  # ./sandbox refused the write into bundle/
    assert not (it1 / ".work").exists()

    assert [(a.kind, a.stage, a.continues) for a in second.attempts] == [
        ("fresh", "validation", None),
        ("continuation", "gate", 1),  # its own error came back; it repaired; no gain
        ("fresh", "review", None),  # tried to write into the bundle: refused, an escape
        ("fresh", "review", None),  # the CLI reported an error
    ]
    assert "bundle/summary.md" in second.attempts[2].reason
    assert "error_during_execution" in second.attempts[3].reason
    resume = calls[4]["argv"]
    session = json.loads(
        (
            run / "iterations" / "002" / "attempts" / "01" / "review" / "claude-session.json"
        ).read_text()
    )
    assert resume[resume.index("--resume") + 1] == session["session_id"]
    assert "syntax error" in resume[resume.index("-p") + 1]

    # Every call ran headless with the reference's tool limits, max turns and the model.
    for call in calls:
        argv = call["argv"]
        assert argv[argv.index("--output-format") + 1] == "json"
        assert argv[argv.index("--max-turns") + 1] == "7"
        assert argv[argv.index("--model") + 1] == "claude-test-model"
        allowed = argv[argv.index("--allowedTools") + 1]
        assert "Edit(./candidate/**)" in allowed and "Bash(./sandbox:*)" in allowed
        assert argv[argv.index("--permission-mode") + 1] == "dontAsk"
        assert "ANTHROPIC_API_KEY" in call["env"] and "UNRELATED_SERVICE_TOKEN" not in call["env"]
        assert Path(call["cwd"]).name == ".work"
    assert "--resume" not in edit["argv"]

    # Usage and cost come from the CLI's JSON into the ledger; secrets stay out of the run.
    costs = json.loads((run / "costs.json").read_text())
    meta = [e for e in costs["entries"] if e["purpose"] == "meta"]
    assert sum(e["dollars"] or 0 for e in meta) == pytest.approx(4 * 0.25 + 0.01)
    assert sum(e["input_tokens"] for e in meta) == 4 * 4200 + 10
    for path in run.rglob("*"):
        if path.is_file():
            assert b"sk-standin-secret" not in path.read_bytes(), path
