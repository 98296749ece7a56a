"""The memory_20250818 adapter, driven with the command objects the anthropic SDK defines.

memfs never imports anthropic; these tests use the SDK when it is installed (it is in the
workspace venv, not in memfs's isolated test env) and a dict-only test runs everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from automem_memfs import AnthropicMemoryAdapter, MemoryStore

try:
    from anthropic.types.beta import (
        BetaMemoryTool20250818CreateCommand,
        BetaMemoryTool20250818DeleteCommand,
        BetaMemoryTool20250818InsertCommand,
        BetaMemoryTool20250818RenameCommand,
        BetaMemoryTool20250818StrReplaceCommand,
        BetaMemoryTool20250818ViewCommand,
    )
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_SDK = False
else:
    HAVE_SDK = True

needs_sdk = pytest.mark.skipif(
    not HAVE_SDK, reason="anthropic SDK not installed (memfs's isolated env runs without it)"
)


@pytest.fixture
def adapter(tmp_path: Path) -> AnthropicMemoryAdapter:
    return AnthropicMemoryAdapter(MemoryStore(tmp_path / "mem"))


@needs_sdk
def test_sdk_commands_round_trip(adapter: AnthropicMemoryAdapter) -> None:
    run = adapter.execute
    out = run(
        BetaMemoryTool20250818CreateCommand(
            command="create", path="/memories/notes.md", file_text="alpha\nbeta\n"
        )
    )
    assert out.startswith("Created /memories/notes.md")
    out = run(BetaMemoryTool20250818ViewCommand(command="view", path="/memories"))
    assert "/memories/notes.md  2 lines" in out
    out = run(
        BetaMemoryTool20250818ViewCommand(
            command="view", path="/memories/notes.md", view_range=[2, -1]
        )
    )
    assert out.splitlines()[1:] == ["     2\tbeta", "     3\t"]  # numbered as the SDK does
    out = run(
        BetaMemoryTool20250818StrReplaceCommand(
            command="str_replace", path="/memories/notes.md", old_str="beta", new_str="gamma"
        )
    )
    assert "Replaced" in out
    out = run(
        BetaMemoryTool20250818InsertCommand(
            command="insert", path="/memories/notes.md", insert_line=0, insert_text="top\n"
        )
    )
    assert "Inserted" in out
    assert adapter.store.read_text("notes.md") == "top\nalpha\ngamma\n"
    out = run(
        BetaMemoryTool20250818RenameCommand(
            command="rename", old_path="/memories/notes.md", new_path="/memories/archive/notes.md"
        )
    )
    assert out == "Renamed /memories/notes.md to /memories/archive/notes.md."
    out = run(BetaMemoryTool20250818DeleteCommand(command="delete", path="/memories/archive"))
    assert out.startswith("Deleted /memories/archive/")
    assert adapter.store.paths() == []


@needs_sdk
def test_sdk_errors_are_strings(adapter: AnthropicMemoryAdapter) -> None:
    run = adapter.execute
    run(
        BetaMemoryTool20250818CreateCommand(
            command="create", path="/memories/a.md", file_text="x x\n"
        )
    )
    for cmd, needle in [
        (
            BetaMemoryTool20250818CreateCommand(
                command="create", path="/memories/a.md", file_text="y"
            ),
            "already exists",
        ),
        (BetaMemoryTool20250818ViewCommand(command="view", path="/etc/passwd"), "/memories/"),
        (
            BetaMemoryTool20250818ViewCommand(command="view", path="/memories/../../etc/passwd"),
            "'..' is not allowed",
        ),
        (
            BetaMemoryTool20250818ViewCommand(command="view", path="/memories/nope.md"),
            "does not exist",
        ),
        (
            BetaMemoryTool20250818StrReplaceCommand(
                command="str_replace", path="/memories/a.md", old_str="x", new_str="z"
            ),
            "2 times",
        ),
        (
            BetaMemoryTool20250818InsertCommand(
                command="insert", path="/memories/a.md", insert_line=7, insert_text="q"
            ),
            "has 1 line;",
        ),
        (BetaMemoryTool20250818DeleteCommand(command="delete", path="/memories"), "refusing"),
        (
            BetaMemoryTool20250818RenameCommand(
                command="rename", old_path="/memories/a.md", new_path="/tmp/a.md"
            ),
            "/memories/",
        ),
    ]:
        out = run(cmd)
        assert out.startswith("Error:") and needle in out, (cmd, out)
    assert adapter.store.read_text("a.md") == "x x\n"


def test_plain_dict_commands(adapter: AnthropicMemoryAdapter) -> None:
    assert adapter({"command": "create", "path": "/memories/x.md", "file_text": "hi\n"}).startswith(
        "Created"
    )
    assert "1\thi" in adapter({"command": "view", "path": "/memories/x.md"})
    assert adapter({"command": "fly"}).startswith("Error: unknown command")
    assert adapter({"command": "view"}).startswith("Error: malformed view")
    assert adapter.store._prefix == ""  # the display prefix does not leak into direct use


def test_a_long_view_is_cut_with_the_view_range_to_read_on(tmp_path: Path) -> None:
    from automem_memfs import Limits

    adapter = AnthropicMemoryAdapter(
        MemoryStore(tmp_path / "mem", limits=Limits(max_read_chars=120))
    )
    text = "".join(f"line {i:02d} of the notes\n" for i in range(1, 21))
    adapter({"command": "create", "path": "/memories/n.md", "file_text": text})
    shown = adapter({"command": "view", "path": "/memories/n.md", "view_range": [3, -2]})
    rows = shown.splitlines()
    assert rows[1] == "     3\tline 03 of the notes"  # numbered by place in the file, width 6
    last = int(rows[-2].split("\t")[0])
    assert rows[-1] == (
        f"[cut at 120 characters: showed lines 3-{last} of 21. "
        f"View with view_range [{last + 1}, -1] to see the rest.]"
    )
