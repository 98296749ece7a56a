"""ToolSession over native tool use and over the tool-tag syntax, with budgets and errors."""

from __future__ import annotations

import asyncio

from automem_agent._chat import ChatRequest, ChatResponse, ToolCall
from automem_agent.meta import Budget, Tool, ToolError, ToolSession, parse_tool_tags
from automem_agent.models import ScriptedModel


def _tools(store: dict[str, str]) -> list[Tool]:
    def read(args: dict) -> str:
        path = args.get("path")
        if path not in store:
            raise ToolError(f"no such file: {path}")
        return store[path]

    def write(args: dict) -> str:
        store[args["path"]] = args["content"]
        return f"wrote {args['path']}"

    return [
        Tool(
            name="read",
            description="Read a file.",
            input_schema={
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
            handler=read,
        ),
        Tool(
            name="write",
            description="Write a file.",
            input_schema={
                "type": "object",
                "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
                "required": ["path", "content"],
            },
            handler=write,
        ),
    ]


def test_tag_mode_runs_tools_reports_errors_and_finishes() -> None:
    store = {"a.md": "alpha"}
    replies = [
        'Let me look.\n<tool name="read">{"path": "missing.md"}</tool>',
        "<tool name=read>{'path': 'a.md',}</tool>",  # single quotes, trailing comma, bare name
        "I think I am done.",  # no call: the session nudges
        '<tool name="write">{"path": "b.md", "content": "beta"}</tool>\n'
        '<tool name="finish">Added b.md because a.md lacked beta.</tool>',
    ]
    model = ScriptedModel.from_texts(replies)
    session = ToolSession(model, _tools(store), system="You edit files.")
    transcript = asyncio.run(session.run("Improve the files."))
    assert transcript.end_reason == "finish"
    assert transcript.mode == "tags"
    assert transcript.rationale == "Added b.md because a.md lacked beta."
    assert store["b.md"] == "beta"
    assert transcript.turns[0].calls[0].is_error
    assert "no such file" in transcript.turns[0].calls[0].result
    assert transcript.turns[1].calls[0].result == "alpha"
    assert transcript.turns[2].note and "No tool call" in transcript.turns[2].note
    # The model saw the tool-tag syntax, its error and the nudge.
    assert '<tool name="TOOL_NAME">' in model.calls[0].messages[0].content
    assert "no such file" in model.calls[1].messages[-1].content
    assert "No tool call" in model.calls[3].messages[-1].content
    assert transcript.tokens > 0


def test_turn_budget_ends_session_and_on_turn_sees_each_turn() -> None:
    seen = []
    model = ScriptedModel(lambda r: "thinking...")
    session = ToolSession(model, [], system="s", budget=Budget(max_turns=3), on_turn=seen.append)
    transcript = asyncio.run(session.run("go"))
    assert transcript.end_reason == "max_turns"
    assert transcript.rationale is None
    assert len(transcript.turns) == 3 == len(seen)


def test_token_and_wall_budgets() -> None:
    model = ScriptedModel(lambda r: "x" * 400)
    transcript = asyncio.run(
        ToolSession(model, [], system="s", budget=Budget(max_tokens=150)).run("go")
    )
    assert transcript.end_reason == "max_tokens"
    assert len(transcript.turns) == 1

    async def slow(_request: ChatRequest) -> str:
        await asyncio.sleep(5)
        return "late"

    transcript = asyncio.run(
        ToolSession(ScriptedModel(slow), [], system="s", budget=Budget(max_wall_s=0.3)).run("go")
    )
    assert transcript.end_reason == "max_wall"


def test_model_unavailable_ends_with_model_error() -> None:
    model = ScriptedModel.from_texts(['<tool name="read">{"path": "a.md"}</tool>'])
    transcript = asyncio.run(ToolSession(model, _tools({"a.md": "x"}), system="s").run("go"))
    assert transcript.end_reason == "model_error"
    assert "scripted replies used" in (transcript.error or "")
    assert len(transcript.turns) == 1


def test_native_mode_uses_tool_fields_and_resume_delivers_pending_results() -> None:
    store = {"a.md": "alpha"}
    step = 0

    def script(request: ChatRequest) -> ChatResponse:
        nonlocal step
        step += 1
        assert {t.name for t in request.tools} == {"read", "write", "finish"}
        if step == 1:
            calls = [ToolCall(id="c1", name="read", input={"path": "a.md"})]
        elif step == 2:
            assert request.messages[-1].tool_results[0].content == "alpha"
            calls = [ToolCall(id="c2", name="finish", input={"rationale": "looked"})]
        else:
            # After resume: the finish call's result and the new text arrive together.
            last = request.messages[-1]
            assert last.tool_results and last.tool_results[0].call_id == "c2"
            assert "repair" in last.content
            calls = [ToolCall(id="c3", name="finish", input={"rationale": "repaired"})]
        return ChatResponse(text="", tool_calls=calls, input_tokens=10, output_tokens=5)

    model = ScriptedModel(script, supports_tools=True)
    session = ToolSession(model, _tools(store), system="native system")
    first = asyncio.run(session.run("go"))
    assert first.mode == "native" and first.end_reason == "finish" and first.rationale == "looked"
    assert "<tool name=" not in model.calls[0].messages[0].content
    second = asyncio.run(session.resume("please repair this"))
    assert second.rationale == "repaired"
    assert second.input_tokens == 30 and len(second.turns) == 3


def test_finish_check_refuses_then_accepts_and_is_bounded() -> None:
    verdicts = iter(["hooks.py: SyntaxError", None])
    model = ScriptedModel(lambda r: '<tool name="finish">{"rationale": "done"}</tool>')
    session = ToolSession(model, [], system="s", finish_check=lambda _r: next(verdicts))
    transcript = asyncio.run(session.run("go"))
    assert transcript.end_reason == "finish"
    assert len(transcript.turns) == 2
    assert "SyntaxError" in model.calls[1].messages[-1].content

    session = ToolSession(
        model, [], system="s", finish_check=lambda _r: "still broken", max_finish_rejections=1
    )
    transcript = asyncio.run(session.run("go"))
    assert transcript.end_reason == "finish_rejected"
    assert transcript.rationale is None


def test_handler_bug_is_reported_not_raised() -> None:
    def broken(_args: dict) -> str:
        raise KeyError("oops")

    tool = Tool(name="boom", description="d", input_schema={"type": "object"}, handler=broken)
    model = ScriptedModel.from_texts(
        ['<tool name="boom">{}</tool>', '<tool name="finish">{"rationale": "r"}</tool>']
    )
    transcript = asyncio.run(ToolSession(model, [tool], system="s").run("go"))
    assert transcript.end_reason == "finish"
    assert "KeyError" in transcript.turns[0].calls[0].result


def test_tag_parser_tolerates_variants() -> None:
    specs = [t.spec for t in _tools({})]
    text = (
        '<tool_call>{"name": "read", "arguments": {"path": "x"}}</tool_call>\n'
        '<tool name="write">```json\n{"path": "y", "content": "z"}\n```</tool>\n'
        '<tool name="nope">{}</tool>\n'
        '<tool name="read">not json at all'
    )
    calls = parse_tool_tags(text, specs)
    assert [c.name for c in calls] == ["read", "write", "nope", "read"]
    assert calls[0].input == {"path": "x"}
    assert calls[1].input == {"path": "y", "content": "z"}
    assert calls[2].error and "unknown tool" in calls[2].error
    # `read` has one required string argument, so a bare body fills it.
    assert calls[3].input == {"path": "not json at all"}
