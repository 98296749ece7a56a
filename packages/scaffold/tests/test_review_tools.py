"""The meta-LLM's review tools: read-only bundle, writable candidate, escapes refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from automem_agent.meta import ToolError
from automem_scaffold import ReviewWorkspace


@pytest.fixture
def workspace(tmp_path: Path) -> ReviewWorkspace:
    bundle = tmp_path / "bundle"
    (bundle / "traces").mkdir(parents=True)
    lines = [
        f"=== step {i} | action 'noop' ({'INVALID' if i % 5 == 0 else 'valid'})" for i in range(600)
    ]
    (bundle / "traces" / "crafter__42.txt").write_text("\n".join(lines) + "\n")
    (bundle / "summary.md").write_text("# summary\n| episode | progression |\n")
    candidate = tmp_path / "candidate"
    (candidate / "prompts").mkdir(parents=True)
    (candidate / "scaffold.toml").write_text('name = "v0"\n')
    (candidate / "prompts" / "plan.md").write_text("Choose an ACTION.\n")
    return ReviewWorkspace(bundle, candidate)


def test_reads_are_ranged_and_greps_capped(workspace: ReviewWorkspace) -> None:
    assert "bundle/" in workspace.list({"path": ""})
    listing = workspace.list({"path": "bundle/traces"})
    assert "bundle/traces/crafter__42.txt" in listing
    text = workspace.read({"path": "bundle/traces/crafter__42.txt", "start": 10, "end": 5000})
    assert "step 9" in text and "step 208" in text and "step 209" not in text  # 200-line cap
    hits = workspace.grep({"pattern": "INVALID", "path": "bundle/traces"})
    assert "120 matching lines" in hits and "more matching lines not shown" in hits
    assert "step 599" in workspace.tail({"path": "bundle/traces/crafter__42.txt", "n": 3})
    # A path without a root prefix is found where it exists.
    assert "Choose" in workspace.read({"path": "prompts/plan.md"})
    assert "summary" in workspace.read({"path": "summary.md"})


def test_writes_land_only_in_candidate(workspace: ReviewWorkspace, tmp_path: Path) -> None:
    workspace.str_replace({"path": "candidate/prompts/plan.md", "old": "Choose", "new": "Pick"})
    assert (tmp_path / "candidate/prompts/plan.md").read_text() == "Pick an ACTION.\n"
    workspace.write_file({"path": "hooks.py", "content": "X = 1\n"})  # no prefix: candidate
    assert (tmp_path / "candidate/hooks.py").read_text() == "X = 1\n"
    assert workspace.escapes == []
    for bad in ("bundle/summary.md", "../outside.txt", "candidate/../../outside.txt", "/tmp/x"):
        with pytest.raises(ToolError, match="refused"):
            workspace.write_file({"path": bad, "content": "pwned"})
    assert len(workspace.escapes) == 4
    assert not (tmp_path / "outside.txt").exists()
    assert (tmp_path / "bundle/summary.md").read_text().startswith("# summary")


def test_tool_errors_are_messages(workspace: ReviewWorkspace) -> None:
    with pytest.raises(ToolError):
        workspace.read({"path": "bundle/nope.md"})
    with pytest.raises(ToolError):
        workspace.str_replace({"path": "candidate/prompts/plan.md", "old": "absent", "new": "x"})
    names = {t.name for t in workspace.tools(validator=lambda: "ok")}
    assert {"list", "read", "grep", "write_file", "str_replace", "validate"} <= names
