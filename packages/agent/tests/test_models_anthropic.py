"""The Anthropic backend through the real SDK, with `httpx2.MockTransport` as the server."""

import asyncio
import json

import pytest

pytest.importorskip("anthropic", reason="needs the 'anthropic' extra")
httpx2 = pytest.importorskip("httpx2", reason="needs the 'anthropic' extra (httpx2)")

from automem_agent._chat import (  # noqa: E402
    ChatMessage,
    ChatRequest,
    ModelUnavailable,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from automem_agent.models import load_model  # noqa: E402
from automem_agent.models._anthropic import AnthropicModel  # noqa: E402
from automem_agent.models._retry import RetryPolicy  # noqa: E402

SECRET = "sk-ant-test-0000-very-secret"
MEMORY_TOOL = ToolSpec(
    name="memory",
    description="Manage the memory directory.",
    input_schema={"type": "object", "properties": {"command": {"type": "string"}}},
)


def message(content, stop_reason="end_turn", inp=21, out=5):
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": 0},
    }


class Fake:
    """Answers from a script of (status, body, headers) or exceptions; records request bodies."""

    def __init__(self, *script):
        self.script = list(script)
        self.bodies: list[dict] = []
        self.headers: list[dict] = []

    def __call__(self, request):
        self.bodies.append(json.loads(request.content))
        self.headers.append(dict(request.headers))
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        status, body, headers = item
        return httpx2.Response(status, json=body, headers=headers)


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)


@pytest.fixture
def sleeps():
    return []


def make(fake, sleeps, attempts=3):
    async def record(delay):
        sleeps.append(delay)

    return AnthropicModel(
        "claude-test",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(fake)),
        retry=RetryPolicy(max_attempts=attempts, base_delay=0.5, jitter=0.2, sleep=record),
    )


def req(*messages, **kw):
    return ChatRequest(messages=list(messages), **kw)


def test_normal_reply_puts_system_aside_and_reads_usage(sleeps):
    fake = Fake((200, message([{"type": "text", "text": "DONE"}], "stop_sequence"), {}))
    model = make(fake, sleeps)
    out = asyncio.run(
        model.complete(
            req(
                ChatMessage(role="system", content="You manage memory."),
                ChatMessage(role="user", content="step 1"),
                max_tokens=100,
                stop=["</done>"],
                purpose="meta",
            )
        )
    )
    assert (out.text, out.input_tokens, out.output_tokens) == ("DONE", 21, 5)
    assert out.finish_reason == "stop" and out.model == "claude-test" and not out.tool_calls
    body = fake.bodies[0]
    assert body["system"] == "You manage memory."
    assert body["messages"] == [{"role": "user", "content": "step 1"}]
    assert body["max_tokens"] == 100 and body["stop_sequences"] == ["</done>"]
    assert "tools" not in body and "temperature" not in body
    assert body["cache_control"] == {"type": "ephemeral"}
    sent_auth = fake.headers[0].get("x-api-key", "") + fake.headers[0].get("authorization", "")
    assert SECRET in sent_auth  # the key from the environment reaches the API (SDK 2.x: Bearer)


def test_tool_use_round_trip(sleeps):
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "memory", "input": {"command": "view"}}
    fake = Fake(
        (200, message([{"type": "text", "text": "Let me look."}, tool_use], "tool_use"), {}),
        (200, message([{"type": "text", "text": "Nothing stored yet."}]), {}),
    )
    model = make(fake, sleeps)
    assert model.supports_tools
    user = ChatMessage(role="user", content="What do you remember?")
    first = asyncio.run(model.complete(req(user, tools=[MEMORY_TOOL])))
    assert first.finish_reason == "tool_use" and first.text == "Let me look."
    assert first.tool_calls == [ToolCall(id="toolu_1", name="memory", input={"command": "view"})]
    assert fake.bodies[0]["tools"] == [
        {
            "name": "memory",
            "description": "Manage the memory directory.",
            "input_schema": MEMORY_TOOL.input_schema,
        }
    ]
    follow_up = req(
        user,
        ChatMessage(role="assistant", content=first.text, tool_calls=first.tool_calls),
        ChatMessage(
            role="user",
            content="",
            tool_results=[ToolResult(call_id="toolu_1", content="/memories: empty")],
        ),
        tools=[MEMORY_TOOL],
    )
    second = asyncio.run(model.complete(follow_up))
    assert second.text == "Nothing stored yet." and second.finish_reason == "stop"
    sent = fake.bodies[1]["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Let me look."}, tool_use],
    }
    assert sent[2] == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_1",
                "content": "/memories: empty",
                "is_error": False,
            }
        ],
    }


def test_rate_limit_then_success_honours_retry_after(sleeps):
    error = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    fake = Fake(
        (429, error, {"retry-after": "7"}), (200, message([{"type": "text", "text": "ok"}]), {})
    )
    out = asyncio.run(make(fake, sleeps).complete(req(ChatMessage(role="user", content="x"))))
    assert out.text == "ok" and sleeps == [7.0] and len(fake.bodies) == 2


def test_server_error_then_success_backs_off(sleeps):
    error = {"type": "error", "error": {"type": "api_error", "message": "internal"}}
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    fake = Fake(
        (500, error, {}),
        (529, overloaded, {}),
        (200, message([{"type": "text", "text": "ok"}]), {}),
    )
    out = asyncio.run(make(fake, sleeps).complete(req(ChatMessage(role="user", content="x"))))
    assert out.text == "ok" and len(sleeps) == 2
    assert 0.4 <= sleeps[0] <= 0.6 and 0.8 <= sleeps[1] <= 1.2


def test_timeout_then_success(sleeps):
    fake = Fake(
        httpx2.ReadTimeout("read timed out"),
        (200, message([{"type": "text", "text": "ok"}]), {}),
    )
    out = asyncio.run(make(fake, sleeps).complete(req(ChatMessage(role="user", content="x"))))
    assert out.text == "ok" and len(sleeps) == 1


def test_exhaustion_raises_model_unavailable_without_the_key(sleeps):
    error = {"type": "error", "error": {"type": "api_error", "message": f"bad {SECRET}"}}
    fake = Fake(*[(500, error, {})] * 3)
    model = make(fake, sleeps)
    with pytest.raises(ModelUnavailable, match="gave up after 3 attempts") as info:
        asyncio.run(model.complete(req(ChatMessage(role="user", content="x"))))
    assert len(fake.bodies) == 3 and len(sleeps) == 2
    assert SECRET not in str(info.value)


def test_client_errors_are_not_retried_and_hide_the_key(sleeps):
    error = {
        "type": "error",
        "error": {"type": "authentication_error", "message": f"invalid x-api-key {SECRET}"},
    }
    fake = Fake((401, error, {}))
    model = make(fake, sleeps)
    with pytest.raises(ModelUnavailable, match="HTTP 401") as info:
        asyncio.run(model.complete(req(ChatMessage(role="user", content="x"))))
    assert len(fake.bodies) == 1 and not sleeps
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_key_never_in_repr_or_name_and_required(monkeypatch):
    model = load_model("anthropic:claude-opus-4-5")
    assert isinstance(model, AnthropicModel) and model.name == "claude-opus-4-5"
    assert SECRET not in repr(model) and SECRET not in model.name
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ValueError, match="ANTHROPIC_API_KEY"):
        load_model("anthropic:claude-opus-4-5")
