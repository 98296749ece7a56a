"""ScriptedModel, RecordingModel and ReplayModel: deterministic backends for tests and reruns."""

import asyncio
import json

import pytest
from automem_agent._chat import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ChatResponse,
    ModelUnavailable,
    ToolCall,
)
from automem_agent.models import (
    RecordingModel,
    ReplayModel,
    ScriptedModel,
    read_replay,
    request_digest,
)


def req(text: str, purpose: str = "memory", **kw) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], purpose=purpose, **kw)


def run(coro):
    return asyncio.run(coro)


def test_scripted_sync_and_async_functions():
    sync_model = ScriptedModel(lambda r: "echo " + r.messages[-1].content)

    async def async_fn(r: ChatRequest) -> str:
        await asyncio.sleep(0)
        return r.purpose

    async_model = ScriptedModel(async_fn, name="async")
    assert isinstance(sync_model, ChatModel)
    out = run(sync_model.complete(req("hi there")))
    assert out.text == "echo hi there"
    assert out.model == "scripted" and out.finish_reason == "stop"
    assert out.input_tokens > 0 and out.output_tokens > 0
    assert run(async_model.complete(req("x", purpose="action"))).text == "action"
    assert sync_model.calls[0].messages[-1].content == "hi there"
    assert not sync_model.supports_tools


def test_scripted_honours_stop_and_passes_chat_responses_through():
    model = ScriptedModel(lambda r: "DONE\nmore text")
    assert run(model.complete(req("x", stop=["\n"]))).text == "DONE"
    call = ToolCall(id="t1", name="memory", input={"command": "view", "path": "/memories"})
    tool_model = ScriptedModel(
        lambda r: ChatResponse(text="", tool_calls=[call], finish_reason="tool_use"),
        supports_tools=True,
    )
    out = run(tool_model.complete(req("x")))
    assert tool_model.supports_tools and out.tool_calls == [call]


def test_scripted_rejects_wrong_return_type():
    with pytest.raises(TypeError, match="expected str or ChatResponse"):
        run(ScriptedModel(lambda r: 42).complete(req("x")))  # type: ignore[arg-type]


def test_from_texts_runs_out_or_cycles():
    model = ScriptedModel.from_texts(["a", "b"])
    assert [run(model.complete(req("x"))).text for _ in range(2)] == ["a", "b"]
    with pytest.raises(ModelUnavailable, match="2 scripted replies used"):
        run(model.complete(req("x")))
    cyc = ScriptedModel.from_texts(["a", "b"], cycle=True)
    assert [run(cyc.complete(req("x"))).text for _ in range(3)] == ["a", "b", "a"]


def test_record_then_replay_by_purpose(tmp_path):
    path = tmp_path / "rec" / "replies.jsonl"
    counter = iter(range(100))
    inner = ScriptedModel(lambda r: f"{r.purpose}-{next(counter)}", name="inner-model")
    rec = RecordingModel(inner, path)
    requests = [req("a", "memory"), req("b", "action"), req("c", "memory"), req("d", "action")]
    originals = [run(rec.complete(r)) for r in requests]
    assert [o.text for o in originals] == ["memory-0", "action-1", "memory-2", "action-3"]
    # one flushed JSON line per response, readable while the run goes on
    lines = path.read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[1])["purpose"] == "action"
    assert rec.name == "inner-model"

    replay = ReplayModel(path)
    assert replay.name == "inner-model" and replay.remaining() == 4
    # a different interleaving still gets the right answers per purpose
    assert run(replay.complete(req("?", "action"))).text == "action-1"
    assert run(replay.complete(req("?", "memory"))).text == "memory-0"
    assert run(replay.complete(req("?", "memory"))).text == "memory-2"
    assert replay.remaining("memory") == 0 and replay.remaining("action") == 1
    with pytest.raises(ModelUnavailable, match="no recorded response left for purpose 'memory'"):
        run(replay.complete(req("?", "memory")))
    assert run(replay.complete(req("?", "action"))) == originals[3]


def test_replay_in_sequence_and_strict(tmp_path):
    path = tmp_path / "r.jsonl"
    rec = RecordingModel(ScriptedModel(lambda r: r.messages[0].content.upper()), path)
    for text, purpose in [("one", "memory"), ("two", "action")]:
        run(rec.complete(req(text, purpose)))
    seq = ReplayModel(path, match="sequence")
    assert run(seq.complete(req("zzz", "action"))).text == "ONE"
    assert run(seq.complete(req("zzz", "memory"))).text == "TWO"
    with pytest.raises(ModelUnavailable, match="2 entries"):
        run(seq.complete(req("zzz")))

    strict = ReplayModel(path, strict=True)
    assert run(strict.complete(req("one", "memory"))).text == "ONE"
    with pytest.raises(ModelUnavailable, match="diverged"):
        run(strict.complete(req("not two", "action")))


def test_replay_ignores_torn_last_line_but_not_corruption(tmp_path):
    path = tmp_path / "r.jsonl"
    run(RecordingModel(ScriptedModel(lambda r: "ok"), path).complete(req("x")))
    with path.open("a") as f:
        f.write('{"purpose": "mem')  # crash mid-write
    assert [e.response.text for e in read_replay(path)] == ["ok"]
    path.write_text('garbage\n{"purpose":"memory","response":{"text":"x"}}\n')
    with pytest.raises(ValueError, match=":1: not a JSON record"):
        ReplayModel(path)


def test_request_digest_tracks_prompt_and_adapter():
    assert request_digest(req("a")) == request_digest(req("a", purpose="action"))
    assert request_digest(req("a")) != request_digest(req("b"))
    assert request_digest(req("a")) != request_digest(req("a", adapter="memory"))
