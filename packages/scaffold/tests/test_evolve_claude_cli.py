"""The real Claude Code CLI as Loop 1's reviewer, against a loopback fake of the Messages API.

The CLI honours ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN. The fake answers the reviewer's
requests with tool_use blocks: in iteration 1 it reads the bundle, runs an analysis through
`./sandbox`, tries a shell command outside it (refused), reads and edits the candidate, then
gives its rationale; the revision is kept. In iteration 2 it tries to write into the bundle,
which the CLI refuses and the loop records as an escape. Skips where the CLI is not installed.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from automem_agent import ScriptedModel
from automem_scaffold import EvolveConfig, evolve, read_decisions
from fake_messages_api import FakeMessagesAPI, tool_results
from test_evolve_policies import STRATEGY_LINE, agent_policy

CLI = os.environ.get("AUTOMEM_CLAUDE_BIN") or shutil.which("claude")
RATIONALE = "The agent idles with noop every step; the prompt now tells it to collect wood."


def _use(n: int, name: str, **args: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": f"toolu_{n:02d}", "name": name, "input": args}


def reviewer_script(run: Path):
    def script(body: dict[str, Any]) -> list[dict[str, Any]]:
        it = "002" if "Iteration 2. The incumbent" in json.dumps(body["messages"]) else "001"
        ws = run / "iterations" / it / ".work"
        done = len(tool_results(body))
        if it == "002":
            plan = [
                [_use(1, "Write", file_path=str(ws / "bundle" / "summary.md"), content="all good")],
                [{"type": "text", "text": "Tidied the summary."}],
            ]
        else:
            system = ws / "candidate" / "prompts" / "system.md"
            plan = [
                [_use(1, "Read", file_path=str(ws / "bundle" / "summary.md"))],
                [_use(2, "Bash", command="./sandbox python3 -c \"print('sandboxed', 6 * 7)\"")],
                [_use(3, "Bash", command="cat /etc/hostname")],
                [_use(4, "Read", file_path=str(system))],
                [
                    _use(
                        5,
                        "Edit",
                        file_path=str(system),
                        old_string=system.read_text().splitlines()[0],
                        new_string=STRATEGY_LINE + "\n" + system.read_text().splitlines()[0],
                    )
                ],
                [{"type": "text", "text": RATIONALE}],
            ]
        return plan[min(done, len(plan) - 1)]

    return script


@pytest.mark.slow
@pytest.mark.skipif(
    CLI is None, reason="Claude Code CLI not installed (npm install -g @anthropic-ai/claude-code)"
)
def test_real_claude_code_cli_reviews_against_a_fake_messages_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    with FakeMessagesAPI(reviewer_script(run), marker="reviewing the scaffold") as api:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", api.url)
        monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "tok-fake-api")
        monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
        config = EvolveConfig(
            run_dir=str(run),
            seeds=2,
            held_out=0,
            max_steps=10,
            iterations=2,
            agent_llm="scripted:test_evolve_policies:agent_policy",
            meta_llm="claude-code:claude-sonnet-4-5",
            review_turns=10,
            review_wall_s=240.0,
            repair_attempts=0,
            attempts=1,
            continuations=0,
            smoke_steps=2,
        )
        agent = ScriptedModel(agent_policy, name="scripted-agent")
        asyncio.run(evolve(config, agent_model=agent))

    reviews = [r for r, h in zip(api.requests, api.headers, strict=True) if r.get("tools")]
    assert reviews, "the CLI never sent the reviewer's request"
    assert all(h.get("Authorization") == "Bearer tok-fake-api" for h in api.headers)
    tools = {t["name"] for t in reviews[0]["tools"]}
    assert tools <= {"Read", "Edit", "Write", "Grep", "Glob", "Bash"}, tools
    results = {
        b["tool_use_id"]: b for b in tool_results(max(reviews, key=lambda r: len(r["messages"])))
    }
    text = {k: json.dumps(v.get("content")) for k, v in results.items()}
    assert "Iteration 000 evaluation" in text["toolu_01"]  # the bundle was read
    assert "sandboxed 42" in text["toolu_02"]  # ./sandbox ran the analysis
    assert "sandboxed" not in text["toolu_03"] and results["toolu_03"].get("is_error")

    decisions = read_decisions(run)
    first, second = decisions[1], decisions[2]
    assert first.kept, first.reason
    it1 = run / "iterations" / "001"
    assert STRATEGY_LINE in (it1 / "scaffold" / "prompts" / "system.md").read_text()
    outcome = json.loads((it1 / "candidate.json").read_text())
    assert outcome["rationale"] == RATIONALE
    review = (it1 / "review.md").read_text()
    assert "## Transcript (Claude Code)" in review and "tool `Edit`" in review

    # The refused write into the bundle is an escape; the bundle is untouched.
    assert not second.kept and second.stage == "review"
    assert "summary.md" in second.reason, second.reason
    assert "all good" not in (it1 / "bundle" / "summary.md").read_text()

    costs = json.loads((run / "costs.json").read_text())
    meta = [e for e in costs["entries"] if e["purpose"] == "meta"]
    assert len(meta) == 2 and all(e["input_tokens"] > 0 for e in meta)
    assert all(e["dollars"] and e["dollars"] > 0 for e in meta)  # the CLI's own cost figure
    for path in run.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".jsonl", ".md", ".log"):
            assert b"tok-fake-api" not in path.read_bytes(), path
