"""The reply grammar: what it admits is exactly what the pipe parser reads back as valid calls."""

from __future__ import annotations

import pytest
from automem_memfs import Action, Append, Done, Search, call_grammar, format_call, parse_calls


def rules(grammar: str) -> dict[str, str]:
    return dict(line.split(" ::= ", 1) for line in grammar.strip().splitlines())


def test_log_grammar_names_the_phase_ops_files_and_done() -> None:
    g = rules(
        call_grammar(
            ops=["search", "append"],
            end="done",
            files=["log.md", "reference/rules.md"],
            writable=["log.md"],
            min_calls=1,
            max_calls=2,
            text_chars=50,
        )
    )
    assert g["root"] == '(call sep){1,2} "<|DONE|>"'
    assert g["call"] == "op-search | op-append"
    assert g["path"] == '"log.md" | "reference/rules.md"'
    assert g["wpath"] == '"log.md"'  # the read-only reference file cannot be written
    assert "{1,50}" in g["text"]
    assert "<|APPEND|>" in g["op-append"] and "<|END|>" in g["op-append"]


def test_commit_grammar_is_one_action_from_the_env_list() -> None:
    g = rules(call_grammar(ops=[], end="action", actions=["noop", "move west", 'say "hi"']))
    assert g["root"] == '"<|ACTION|>" act "<|END|>"'
    assert g["act"] == '"noop" | "move west" | "say \\"hi\\""'


def test_ops_needing_a_file_are_left_out_while_memory_is_empty() -> None:
    g = rules(call_grammar(ops=["read", "append", "search"], end="done"))
    assert g["call"] == "op-append | op-search"
    assert "path" not in g and "wpath" not in g


def test_bad_requests_are_refused() -> None:
    with pytest.raises(ValueError, match="no grammar for op"):
        call_grammar(ops=["teleport"], end="done")
    with pytest.raises(ValueError, match="action list"):
        call_grammar(ops=[], end="action")
    with pytest.raises(ValueError, match="min_calls"):
        call_grammar(ops=["search"], end="done", min_calls=3, max_calls=2)


def test_replies_in_the_grammar_parse_as_calls() -> None:
    # Strings the grammar admits, written out by hand, parse into the intended calls.
    reply = (
        format_call(Append(path="log.md", content="saw a tree at 3 4"))
        + "\n"
        + format_call(Search(pattern="tree"))
        + "\n"
        + format_call(Done())
    )
    assert parse_calls(reply) == [
        Append(path="log.md", content="saw a tree at 3 4"),
        Search(pattern="tree"),
        Done(),
    ]
    assert parse_calls(format_call(Action(text="move west"))) == [Action(text="move west")]
