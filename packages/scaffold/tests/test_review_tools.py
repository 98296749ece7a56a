"""The reviewer's tools over a real bundle (a real Crafter episode): the shared trace tools,
memfs file ops with memfs's own schemas and raw bodies, the dry run of candidate code on
recorded steps, validation that shows the prompts, and writes that land only in candidate/."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from automem_agent import builtin_scaffold
from automem_agent.meta import ToolError, ToolSession, parse_tool_tags, sandbox_problem
from automem_agent.models import ScriptedModel
from automem_envs import EpisodeSpec
from automem_memfs import tool_schemas
from automem_scaffold import ReviewWorkspace, build_bundle
from automem_scaffold._archive import copy_scaffold
from automem_scaffold._evaluate import evaluate
from automem_scaffold._validate import validate_candidate

pytest.importorskip("crafter", reason="Crafter is not installed (uv sync --extra crafter)")

GATE = """

class Agent:
    def __init__(self, episode):
        self.seen = 0

    def observe(self, step):
        self.seen += 1
        return {"notices": [f"steps seen: {self.seen}"]}

    def check_action(self, action, step):
        if action == "make wood pickaxe" and not step.observation.inventory.get("wood"):
            return "you need wood and a table first"
        return None
"""


def agent(request) -> str:
    last = request.messages[-1].content
    if "LOG phase" in last:
        return "<|APPEND|>notes.md|status: looking around<|END|><|DONE|>"
    return "<|ACTION|>make wood pickaxe<|END|>" if "step 2." in last else "<|ACTION|>noop<|END|>"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("review")
    start = root / "start"
    copy_scaffold(builtin_scaffold("v0"), start)
    it0 = root / "it0"
    episodes = [EpisodeSpec(env_id="crafter", seed=s, max_steps=6) for s in (42, 43)]
    asyncio.run(evaluate(start, episodes, it0, model=ScriptedModel(agent)))
    build_bundle(it0, start, it0 / "bundle", title="iteration 000")
    return it0 / "bundle"


@pytest.fixture
def workspace(bundle: Path, tmp_path: Path) -> ReviewWorkspace:
    candidate = tmp_path / "candidate"
    shutil.copytree(bundle / "scaffold", candidate)
    return ReviewWorkspace(bundle, candidate)


def test_bundle_holds_raw_traces_text_and_indexes(bundle: Path) -> None:
    assert sorted(p.name for p in (bundle / "raw").iterdir()) == [
        "crafter__42.jsonl",
        "crafter__43.jsonl",
    ]
    texts = sorted(p.name for p in (bundle / "traces").iterdir())
    assert texts == [
        "crafter__42.index.json", "crafter__42.txt", "crafter__43.index.json", "crafter__43.txt"
    ]  # fmt: skip
    summary = (bundle / "summary.md").read_text()
    assert "| crafter__42 | 6 | step limit |" in summary and "## Where to look" in summary


def test_trace_tools_and_file_tools(workspace: ReviewWorkspace) -> None:
    tools = {t.name: t for t in workspace.tools()}
    index = tools["index"].handler({"episode": "crafter__42"})
    assert "ended: step limit" in index and "notes.md" in index and "duplicates" in index
    view = tools["view"].handler({"episode": "crafter__42", "start": 2, "end": 3})
    assert "=== step 2 |" in view and "make wood pickaxe" in view and "=== step 4" not in view
    prompts = tools["prompts"].handler({"episode": "crafter__43", "step": 1})
    assert "--- [system]" in prompts and "PLAN phase, step 1" in prompts
    hits = tools["grep"].handler({"pattern": "status: looking", "path": "bundle/traces"})
    assert "crafter__42.txt: " in hits and "crafter__43.txt: " in hits and "[step 1]" in hits
    assert "raw/" not in hits  # folder greps skip the JSON Lines
    # memfs ops: paths shown with their root, line ranges, tails and counts
    listing = tools["list"].handler({"path": "bundle/traces"})
    assert "bundle/traces/crafter__42.txt" in listing
    text = tools["read"].handler({"path": "bundle/traces/crafter__42.txt", "start": 1, "end": 500})
    assert len(text.splitlines()) <= 201
    assert "status: looking" in tools["tail"].handler({"path": "bundle/memory/crafter/42/notes.md"})
    # v0 has no LOG at step 0, so 6 steps log 5 times
    assert "5 of 7 lines" in tools["count"].handler(
        {"path": "bundle/memory/crafter/42/notes.md", "pattern": "status"}
    )


def test_file_tool_schemas_are_memfs_schemas(workspace: ReviewWorkspace) -> None:
    memfs = {t["name"]: t["input_schema"] for t in tool_schemas()}
    tools = {t.name: t for t in workspace.tools()}
    for name, kind in [("read", "read"), ("write_file", "write"), ("str_replace", "str_replace"),
                       ("insert", "insert"), ("rename", "rename"), ("append", "append")]:  # fmt: skip
        schema = {k: v for k, v in tools[name].input_schema.items() if k != "x-body"}
        assert schema == memfs[kind], name
    assert tools["write_file"].input_schema["x-body"] == "content"


def test_raw_body_writes_land_only_in_candidate(workspace: ReviewWorkspace, tmp_path: Path) -> None:
    specs = [t.spec for t in workspace.tools()]
    code = (
        'def repair_action(action, actions):\n    return "noop" if "\\\\" in action else action\n'
    )
    (call,) = parse_tool_tags(
        f'<tool name="write_file" path="candidate/hooks.py">\n{code}</tool>', specs
    )
    tools = {t.name: t for t in workspace.tools()}
    tools["write_file"].handler(call.input)
    assert (tmp_path / "candidate" / "hooks.py").read_text() == code  # never JSON-escaped
    (call,) = parse_tool_tags(
        '<tool name="str_replace" path="candidate/prompts/plan.md"><old>ACTION</old>'
        "<new>ACTION (one)</new></tool>",
        specs,
    )
    tools["str_replace"].handler(call.input)
    assert "ACTION (one)" in (tmp_path / "candidate" / "prompts" / "plan.md").read_text()
    assert workspace.escapes == []
    for bad in ("bundle/summary.md", "../outside.txt", "candidate/../../outside.txt", "/tmp/x"):
        with pytest.raises(ToolError, match="refused"):
            tools["write_file"].handler({"path": bad, "content": "pwned"})
    assert len(workspace.escapes) == 4 and not (tmp_path / "outside.txt").exists()
    with pytest.raises(ToolError):
        tools["read"].handler({"path": "bundle/nope.md"})
    with pytest.raises(ToolError):
        tools["str_replace"].handler({"path": "candidate/hooks.py", "old": "absent", "new": "x"})


@pytest.mark.skipif(bool(sandbox_problem()), reason=sandbox_problem() or "bwrap works")
def test_dry_run_and_python_show_what_candidate_code_does(workspace: ReviewWorkspace) -> None:
    hooks = workspace.candidate_dir / "hooks.py"
    hooks.write_text(hooks.read_text() + GATE)
    tools = {t.name: t for t in workspace.tools()}
    out = asyncio.run(tools["dry_run"].handler({"episode": "crafter__42", "start": 1, "end": 3}))
    assert "1 of 3 recorded actions would be sent back" in out
    assert "=== step 2 | recorded action 'make wood pickaxe' -> reject: you need wood" in out
    assert "notice: steps seen: 2" in out and "=== step 4" not in out
    analysis = tools["python"].handler(
        {"code": "print(sum(1 for s in library.steps('crafter__43', 0, 5) if s.action == 'noop'))"}
    )
    assert analysis.strip() == "5"
    # The analysis reads the bundle, and nothing outside it.
    peek = tools["python"].handler(
        {"code": "print(sorted(p.name for p in roots['bundle'].iterdir()))"}
    )
    assert "summary.md" in peek
    outside = tools["python"].handler(
        {"code": f"open({str(workspace.bundle_dir.parent / 'eval')!r})"}
    )
    assert "Error" in outside
    broken = workspace.candidate_dir / "scaffold.toml"
    broken.write_text("not toml [")
    with pytest.raises(ToolError, match="does not load"):
        asyncio.run(tools["dry_run"].handler({"episode": "crafter__42", "start": 0}))


@pytest.mark.skipif(bool(sandbox_problem()), reason=sandbox_problem() or "bwrap works")
def test_validation_shows_the_prompts_and_replies(workspace: ReviewWorkspace) -> None:
    hooks = workspace.candidate_dir / "hooks.py"
    hooks.write_text(hooks.read_text() + GATE)
    report = validate_candidate(workspace.candidate_dir, env_id="crafter", seed=1, steps=3)
    assert report.ok, report.for_model()
    text = report.for_model()
    assert text.startswith("Validation passed") and "--- [system]" in text
    assert "steps seen: 1" in text and "steps seen: 3" in text  # the notices, as the agent saw them
    assert "--- [reply]" in text and "<|DONE|>" in text
    assert report.headline() == text.splitlines()[0]


def test_a_session_sees_the_tools_through_the_tag_syntax(workspace: ReviewWorkspace) -> None:
    replies = iter(
        [
            '<tool name="index" episode="crafter__42"></tool>',
            '<tool name="finish">{"rationale": "looked"}</tool>',
        ]
    )
    session = ToolSession(ScriptedModel(lambda _r: next(replies)), workspace.tools(), system="")
    transcript = asyncio.run(session.run("review"))
    assert transcript.end_reason == "finish"
    assert "ended: step limit" in transcript.turns[0].calls[0].result
