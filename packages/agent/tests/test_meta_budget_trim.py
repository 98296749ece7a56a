"""The session tells the model its budget every turn, trims results it has read, counts billed
tokens (cache reads discounted), and takes raw bodies in the tool-tag syntax."""

from __future__ import annotations

import asyncio

from automem_agent._chat import ChatRequest, ChatResponse, ToolCall
from automem_agent.meta import Budget, Tool, ToolSession, parse_tool_tags, schema
from automem_agent.models import ScriptedModel

BIG = "x" * 5000


def _tools(store: dict[str, str]) -> list[Tool]:
    return [
        Tool(
            name="read",
            description="Read a file.",
            input_schema=schema(["path"], path="string"),
            handler=lambda a: store[a["path"]],
        ),
        Tool(
            name="write",
            description="Write a file.",
            input_schema=schema(
                ["path", "content"], body="content", path="string", content="string"
            ),
            handler=lambda a: store.__setitem__(a["path"], a["content"]) or f"wrote {a['path']}",
        ),
    ]


def test_budget_shown_each_turn_and_read_results_trimmed() -> None:
    store = {f"f{i}.md": f"{i}" + BIG for i in range(5)}
    seen: list[ChatRequest] = []

    def script(request: ChatRequest) -> str:
        seen.append(request)
        n = len(seen)
        if n <= 5:
            return f'<tool name="read">{{"path": "f{n - 1}.md"}}</tool>'
        return '<tool name="finish">{"rationale": "read all five"}</tool>'

    session = ToolSession(
        ScriptedModel(script), _tools(store), system="s", budget=Budget(max_turns=8)
    )
    transcript = asyncio.run(session.run("go"))
    assert transcript.end_reason == "finish"
    for i, request in enumerate(seen):
        assert f"[budget] {8 - i} of 8 replies left" in request.messages[-1].content
        assert "s left." in request.messages[-1].content
    last = seen[-1]
    contents = [m.content for m in last.messages if m.role == "user"]
    # The last two result messages are whole; the three before them are one-line stubs.
    assert sum(BIG in c for c in contents) == 2
    assert sum("[trimmed: you already read this read(path='f" in c for c in contents) == 3
    assert len(last.messages[-1].content) > 5000  # the newest result is whole
    assert transcript.trimmed_chars > 3 * 4900
    assert all(BIG in c.result for t in transcript.turns for c in t.calls if c.name == "read")
    # Older budget lines went with the trimmed messages.
    assert sum("[budget]" in c for c in contents) <= 3


def test_budget_counts_billed_tokens_with_cache_reads_discounted() -> None:
    def reply(i: int) -> ChatResponse:
        call = ToolCall(id=f"c{i}", name="read", input={"path": "a"})
        return ChatResponse(
            text="", tool_calls=[call], input_tokens=100_000, cache_read_tokens=90_000,
            output_tokens=100, finish_reason="tool_use",
        )  # fmt: skip

    replies = iter(range(100))
    model = ScriptedModel(lambda _r: reply(next(replies)), supports_tools=True)
    session = ToolSession(
        model, _tools({"a": "alpha"}), system="s", budget=Budget(max_turns=50, max_tokens=200_000)
    )
    transcript = asyncio.run(session.run("go"))
    # Each turn bills 10,000 fresh + 9,000 cached (0.1x) + 100 out = 19,100, not 100,100.
    assert transcript.end_reason == "max_tokens"
    assert len(transcript.turns) == 11
    assert transcript.billed_tokens == 11 * 19_100
    assert transcript.cache_read_tokens == 11 * 90_000
    assert transcript.input_tokens == 11 * 100_000


def test_tag_raw_bodies_attributes_and_child_elements() -> None:
    code = 'def f(x):\n    return "a\\nb" + {"k": 1}["k"]\n'
    specs = [t.spec for t in _tools({})] + [
        Tool(
            name="str_replace",
            description="",
            input_schema=schema(["path", "old", "new"], path="string", old="string", new="string"),
            handler=lambda a: "",
        ).spec
    ]
    text = (
        f'<tool name="write" path="candidate/hooks.py">\n{code}</tool>\n'
        '<tool name="str_replace" path="p.md"><old>a "quoted"\nline</old><new>b</new></tool>\n'
        '<tool name="write">{"path": "j.md", "content": "json body"}</tool>'
    )
    calls = parse_tool_tags(text, specs)
    assert [c.error for c in calls] == [None, None, None]
    assert calls[0].input == {"path": "candidate/hooks.py", "content": code}
    assert calls[1].input == {"path": "p.md", "old": 'a "quoted"\nline', "new": "b"}
    assert calls[2].input == {"path": "j.md", "content": "json body"}
