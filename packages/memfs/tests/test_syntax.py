"""Both op syntaxes (pipe and JSON): slips models make, error values, round trips, and never
raising."""

from __future__ import annotations

import json

import pytest
from automem_memfs import (
    OP_TYPES,
    Action,
    Append,
    Count,
    Create,
    Delete,
    Done,
    Insert,
    ParseError,
    Read,
    Rename,
    Search,
    StrReplace,
    Tail,
    Write,
    call_from_tool,
    format_call,
    parse_calls,
    strip_calls,
    syntax_help,
    tool_schemas,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

TAG_CASES = [
    ("<|SEARCH|>diamond<|END|>", Search(pattern="diamond")),
    ("<|SEARCH|>notes.md|diamond<|END|>", Search(pattern="diamond", path="notes.md")),
    ("<|SEARCH|>/a|b/<|END|>", Search(pattern="a|b", regex=True)),
    ("<|SEARCH|>map.md|/^\\(3,/<|END|>", Search(pattern="^\\(3,", path="map.md", regex=True)),
    ("<|READ|>notes.md<|END|>", Read(path="notes.md")),
    ("<|READ|>notes.md|10-20<|END|>", Read(path="notes.md", start=10, end=20)),
    ("<|READ|>notes.md| 10 : 20 <|END|>", Read(path="notes.md", start=10, end=20)),
    ("<|READ|>notes.md|7<|END|>", Read(path="notes.md", start=7, end=7)),
    ("<|READ|><|END|>", Read(path="")),
    ("<|LIST|>sub<|END|>", Read(path="sub")),
    ("<|TAIL|>notes.md|5<|END|>", Tail(path="notes.md", n=5)),
    ("<|TAIL|>notes.md<|END|>", Tail(path="notes.md")),
    ("<|COUNT|>notes.md|iron<|END|>", Count(path="notes.md", pattern="iron")),
    ("<|CREATE|>plan.md|a|b<|END|>", Create(path="plan.md", content="a|b")),
    (
        "<|APPEND|>notes.md|\nline 1\nline 2\n<|END|>",
        Append(path="notes.md", content="line 1\nline 2\n"),
    ),
    ("<|WRITE|>notes.md|x<|END|>", Write(path="notes.md", content="x")),
    ("<|STR_REPLACE|>n.md|a|b<|WITH|>c|d<|END|>", StrReplace(path="n.md", old="a|b", new="c|d")),
    ("<|INSERT|>n.md|3|text<|END|>", Insert(path="n.md", line=3, content="text")),
    ("<|DELETE|>old.md<|END|>", Delete(path="old.md")),
    ("<|RENAME|>a.md|b/c.md<|END|>", Rename(path="a.md", new_path="b/c.md")),
    ("<|DONE|>", Done()),
    ("<|ACTION|>move west<|END|>", Action(text="move west")),
]

SLIPS = [
    ("<SEARCH|>diamond<|END|>", Search(pattern="diamond")),
    ("<|SEARCH>diamond<|END|>", Search(pattern="diamond")),
    ("<|search|>diamond<|end|>", Search(pattern="diamond")),
    ("<|SEARCH|>diamond<|END}>", Search(pattern="diamond")),
    ("<|SEARCH|>diamond<|END|}", Search(pattern="diamond")),
    ("<|SEARCH|>diamond{|END|}", Search(pattern="diamond")),
    ("<|SEARCH|>diamond<|END}|>", Search(pattern="diamond")),
    ("<|SEARCH|>diamond<END|>", Search(pattern="diamond")),
    ("<|SEARCH|>diamond<|END>", Search(pattern="diamond")),
    ("<|SEARCH|>diamond</SEARCH>", Search(pattern="diamond")),
    ("<| SEARCH |> notes.md | diamond  <|END|>", Search(pattern="diamond", path="notes.md")),
    ("<|SEARCH|>diamond   \n", Search(pattern="diamond")),
    ("<|APPEND|>a.md|x", Append(path="a.md", content="x")),
    ("<|ACTION|>noop  ", Action(text="noop")),
    ("<|DONE|><|END|>", Done()),
    ("<|GREP|>iron<|END|>", Search(pattern="iron")),
    ("<|VIEW|>a.md<|END|>", Read(path="a.md")),
]


@pytest.mark.parametrize(("text", "call"), TAG_CASES + SLIPS)
def test_pipe_forms(text: str, call: object) -> None:
    assert parse_calls(text) == [call]


def test_calls_in_prose_in_order() -> None:
    text = (
        "Thinking... I saw iron. <|APPEND|>map.md|(3, 4) iron<|END|>\n"
        "Let me check: <|SEARCH|>map.md|iron<|END|> <|im_end|> done now <|DONE|>"
    )
    assert parse_calls(text) == [
        Append(path="map.md", content="(3, 4) iron"),
        Search(pattern="iron", path="map.md"),
        Done(),
    ]
    assert parse_calls("no calls here, just <b>html</b>") == []


def test_missing_end_runs_to_next_tag() -> None:
    assert parse_calls("<|APPEND|>a.md|x\n<|SEARCH|>y<|END|>") == [
        Append(path="a.md", content="x"),
        Search(pattern="y"),
    ]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("<|FROB|>x<|END|>", "Unknown op"),
        ("<|TAIL|>a.md|many<|END|>", "<|TAIL|>notes.md|5<|END|>"),
        ("<|READ|>a.md|ten<|END|>", "10-20"),
        ("<|APPEND|>a.md<|END|>", "text is missing"),
        ("<|STR_REPLACE|>a.md|old new<|END|>", "<|WITH|>"),
        ("<|INSERT|>a.md|x|y<|END|>", "line number"),
        ("<|RENAME|>a.md<|END|>", "new path"),
        ("<|ACTION|>  <|END|>", "empty"),
        ("<|SEARCH|><|END|>", "keyword is empty"),
    ],
)
def test_malformed_pipe_calls_are_error_values(text: str, needle: str) -> None:
    [err] = parse_calls(text)
    assert isinstance(err, ParseError)
    assert needle in err.message
    assert err.raw.startswith("<|")


def test_json_shapes() -> None:
    fenced = '```json\n[{"tool": "search", "args": {"query": "iron"}}, {"tool": "done"}]\n```'
    assert parse_calls(fenced, "json") == [Search(pattern="iron"), Done()]
    anthropic = '{"type": "tool_use", "name": "str_replace", "input": {"path": "a", "old_str": "b", "new_str": "c"}}'
    assert parse_calls(anthropic, "json") == [StrReplace(path="a", old="b", new="c")]
    openai = json.dumps(
        {"function": {"name": "tail", "arguments": json.dumps({"file": "a.md", "n": "3"})}}
    )
    assert parse_calls(openai, "json") == [Tail(path="a.md", n=3)]
    flat = 'I will read. {"op": "read", "path": "a.md", "view_range": [1, 2]} ok'
    assert parse_calls(flat, "json") == [Read(path="a.md", start=1, end=2)]
    assert parse_calls('{"action": "move west"}', "json") == [Action(text="move west")]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('{"tool": "append", "args": {"path": "a.md"}}', "content"),
        ('{"tool": "fly", "args": {}}', "Unknown tool"),
        ('{"tool": "insert", "args": {"path": "a", "line": "x", "content": "c"}}', "int"),
        ('{"tool": "read", "args": [1]}', "object"),
        ('{"tool": "read", "args": {"path": "a"', "Could not read"),
        ('{"args": {}}', '"tool"'),
    ],
)
def test_malformed_json_is_error_values(text: str, needle: str) -> None:
    calls = parse_calls(text, "json")
    assert len(calls) == 1 and isinstance(calls[0], ParseError)
    assert needle in calls[0].message


def test_syntax_help_and_tool_schemas() -> None:
    help_text = syntax_help(["search", "append"], include=("done", "action"))
    lines = help_text.splitlines()
    assert len(lines) == 4
    for line in lines:  # every example in the help parses to a call, not an error
        example = line.split("  - ")[0].split(", ")[0]
        [call] = parse_calls(example)
        assert not isinstance(call, ParseError)
    for line in syntax_help(syntax="json").splitlines():
        [call] = parse_calls(line.split("  - ")[0], "json")
        assert not isinstance(call, ParseError)
    with pytest.raises(ValueError):
        syntax_help(["fly"])
    schemas = {t["name"]: t for t in tool_schemas(include=("done",))}
    assert set(schemas) == {*OP_TYPES, "done"}
    assert "op" not in schemas["append"]["input_schema"]["properties"]
    assert schemas["append"]["input_schema"]["required"] == ["path", "content"]
    assert call_from_tool("append", {"path": "a", "content": "b"}) == Append(path="a", content="b")


def test_tags_is_still_read_as_the_pipe_syntax() -> None:
    """Scaffolds and callers written before the rename say syntax="tags"."""
    text = "<|SEARCH|>iron<|END|> <|DONE|>"
    assert (
        parse_calls(text, "tags") == parse_calls(text, "pipe") == [Search(pattern="iron"), Done()]
    )
    assert format_call(Done(), "tags") == format_call(Done(), "pipe") == "<|DONE|>"
    assert syntax_help(syntax="tags") == syntax_help(syntax="pipe") == syntax_help()
    assert strip_calls(text, ["done"], "tags") == "<|SEARCH|>iron<|END|> "
    with pytest.raises(ValueError, match="unknown syntax"):
        parse_calls(text, "xml")


# -- properties ------------------------------------------------------------------------------

_name = st.text(st.sampled_from("abcxyz_-0189é"), min_size=1, max_size=8)
paths = st.builds(lambda parts: "/".join(parts) + ".md", st.lists(_name, min_size=1, max_size=3))
texts = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40)
words = texts.map(str.strip).filter(bool)
small = st.integers(1, 10_000)
CALLS = st.one_of(
    st.builds(Read, path=paths | st.just(""), start=st.none() | small, end=st.none() | small),
    st.builds(Tail, path=paths, n=small),
    st.builds(Search, pattern=words, path=st.none() | paths, regex=st.booleans()),
    st.builds(Count, path=paths, pattern=st.none() | words),
    st.builds(Create, path=paths, content=texts),
    st.builds(Append, path=paths, content=texts),
    st.builds(Write, path=paths, content=texts),
    st.builds(StrReplace, path=paths, old=texts, new=texts),
    st.builds(Insert, path=paths, line=st.integers(0, 10_000), content=texts),
    st.builds(Delete, path=paths),
    st.builds(Rename, path=paths, new_path=paths),
    st.just(Done()),
    st.builds(Action, text=words),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CALLS)
def test_pipe_round_trip(call: object) -> None:
    try:
        text = format_call(call)  # type: ignore[arg-type]
    except ValueError:
        return  # the value holds something the pipe syntax cannot carry; checked below
    assert parse_calls(text) == [call]
    assert parse_calls(f"reasoning first\n{text}\nthen more prose") == [call]


@settings(max_examples=400, deadline=None)
@given(CALLS | st.builds(Search, pattern=words, max_results=small))
def test_json_round_trip(call: object) -> None:
    assert parse_calls(format_call(call, "json"), "json") == [call]  # type: ignore[arg-type]


def test_pipe_format_refusals_are_rare_and_explained() -> None:
    with pytest.raises(ValueError, match="end or WITH marker"):
        format_call(Append(path="a.md", content="x<|END|>y"))
    with pytest.raises(ValueError, match="max_results"):
        format_call(Search(pattern="x", max_results=3))
    assert format_call(Write(path="a.md", content="\nstarts with a newline")).count("\n") == 2


_tagish = st.sampled_from(
    [
        "<|",
        "|>",
        "<",
        ">",
        "|",
        "}",
        "END",
        "WITH",
        "SEARCH",
        "APPEND",
        "DONE",
        "READ",
        "\n",
        " ",
        "a",
        "1",
        "-",
        "/",
        "{",
        '"tool"',
        "[",
        "]",
        ":",
        ",",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_tagish, max_size=40).map("".join) | st.text(max_size=200))
def test_parsing_never_raises(text: str) -> None:
    for syntax in ("pipe", "json"):
        for call in parse_calls(text, syntax):
            assert isinstance(call, (*OP_TYPES.values(), Done, Action, ParseError))


def test_strip_calls_cuts_exactly_the_calls_the_parser_finds():
    text = (
        "Notes first.\n<|SEARCH|>tree<|END|>\n"
        "<ACTION|>move west<|END|> then\n<|APPEND|>log.md|a | b<|END|><|act|>do"
    )
    stripped = strip_calls(text, ["action"])
    assert stripped == "Notes first.\n<|SEARCH|>tree<|END|>\n then\n<|APPEND|>log.md|a | b<|END|>"
    assert parse_calls(stripped) == [c for c in parse_calls(text) if not isinstance(c, Action)]
    assert strip_calls("no calls here", ["action"]) == "no calls here"
    kept = parse_calls(strip_calls(text, ["search", "append"]))
    assert kept == [Action(text="move west"), Action(text="do")]


def test_strip_calls_in_json_keeps_the_other_calls():
    text = (
        'I will look. {"tool": "search", "args": {"pattern": "tree"}} '
        '{"tool": "action", "args": {"text": "do"}} and '
        '[{"tool": "read", "args": {"path": "a.md"}}, {"tool": "action", "args": {"text": "x"}}]'
    )
    stripped = strip_calls(text, ["action"], syntax="json")
    assert parse_calls(stripped, "json") == [Search(pattern="tree"), Read(path="a.md")]
    assert stripped.startswith('I will look. {"tool": "search"')
