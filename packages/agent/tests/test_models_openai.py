"""The OpenAI-compatible backend (what `vllm serve` speaks) against a real loopback HTTP server."""

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("httpx", reason="needs the 'openai' extra (httpx)")

from automem_agent._chat import ChatMessage, ChatRequest, ModelUnavailable
from automem_agent.models import load_model
from automem_agent.models._openai import OpenAICompatModel
from automem_agent.models._retry import RetryPolicy

SECRET = "sk-test-4b1d-very-secret-key"


def ok_body(text="hello", model="base", prompt=11, completion=3, finish="stop"):
    return {
        "id": "cmpl-1",
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
    }


class FakeServer:
    """A vLLM-shaped /v1/chat/completions endpoint answering from a script, recording requests."""

    def __init__(self):
        self.script: list[tuple[int, dict, object, float]] = []  # status, headers, body, delay
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                with server.lock:
                    server.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "json": body}
                    )
                    status, headers, reply, delay = (
                        server.script.pop(0) if server.script else (200, {}, None, 0.0)
                    )
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    time.sleep(delay)
                    if reply is None:
                        reply = ok_body(
                            text=f"echo {body['messages'][-1]['content']}", model=body["model"]
                        )
                    data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
                finally:
                    # counted out before the reply leaves: once the client has it, it may send
                    # its next request before this thread would reach a later decrement
                    with server.lock:
                        server.in_flight -= 1
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and went away

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def then(self, status=200, body=None, headers=None, delay=0.0):
        self.script.append((status, headers or {}, body, delay))
        return self


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def policy(sleeps):
    async def record(delay: float) -> None:
        sleeps.append(delay)

    return RetryPolicy(max_attempts=3, base_delay=0.5, jitter=0.2, sleep=record)


def req(text="hi", **kw):
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content="sys"),
            ChatMessage(role="user", content=text),
        ],
        **kw,
    )


def test_reply_usage_and_request_body(server, policy):
    server.then(body=ok_body(text="DONE", prompt=42, completion=7, finish="length"))
    model = OpenAICompatModel(server.url, "base", retry=policy)
    out = asyncio.run(model.complete(req("go", max_tokens=64, temperature=0.7, stop=["\n\n"])))
    assert (out.text, out.input_tokens, out.output_tokens) == ("DONE", 42, 7)
    assert out.finish_reason == "length" and out.model == "base" and out.latency_s > 0
    sent = server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["json"] == {
        "model": "base",
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "go"}],
        "max_tokens": 64,
        "temperature": 0.7,
        "stop": ["\n\n"],
    }


def test_adapter_selects_served_model_per_request(server, policy):
    model = OpenAICompatModel(server.url, "Qwen/Qwen2.5-32B-Instruct", retry=policy)
    mapped = OpenAICompatModel(
        server.url, "base", adapter_models={"memory": "mem-v2"}, retry=policy
    )

    async def go():
        await model.complete(req(adapter="memory"))
        await model.complete(req())
        await mapped.complete(req(adapter="memory"))

    asyncio.run(go())
    sent = [r["json"]["model"] for r in server.requests]
    assert sent == ["memory", "Qwen/Qwen2.5-32B-Instruct", "mem-v2"]
    assert "stop" not in server.requests[1]["json"]


def test_rate_limit_honours_retry_after_then_succeeds(server, policy, sleeps):
    server.then(429, {"error": "slow down"}, {"retry-after": "2"}).then(
        429, {"error": "slow down"}, {"retry-after-ms": "1500"}
    )
    out = asyncio.run(OpenAICompatModel(server.url, "base", retry=policy).complete(req("x")))
    assert out.text == "echo x" and len(server.requests) == 3
    assert sleeps == [2.0, 1.5]


def test_server_error_backs_off_exponentially_with_jitter(server, sleeps):
    async def record(delay):
        sleeps.append(delay)

    policy = RetryPolicy(max_attempts=4, base_delay=0.5, multiplier=2, jitter=0.2, sleep=record)
    server.then(500, "boom").then(502, "bad gateway").then(503, "busy")
    out = asyncio.run(OpenAICompatModel(server.url, "base", retry=policy).complete(req("x")))
    assert out.text == "echo x"
    for delay, nominal in zip(sleeps, [0.5, 1.0, 2.0], strict=True):
        assert nominal * 0.8 <= delay <= nominal * 1.2


def test_timeout_is_retried(server, policy):
    server.then(delay=1.0)
    model = OpenAICompatModel(server.url, "base", timeout=0.2, retry=policy)
    out = asyncio.run(model.complete(req("late")))
    assert out.text == "echo late" and len(server.requests) == 2


def test_exhaustion_raises_model_unavailable(server, policy, sleeps):
    for _ in range(5):
        server.then(503, "overloaded")
    with pytest.raises(ModelUnavailable, match=r"gave up after 3 attempts.*HTTP 503"):
        asyncio.run(OpenAICompatModel(server.url, "base", retry=policy).complete(req()))
    assert len(server.requests) == 3 and len(sleeps) == 2


def test_client_error_is_not_retried(server, policy):
    server.then(400, {"error": "model 'memory' not found"})
    with pytest.raises(ModelUnavailable, match=r"HTTP 400.*not found"):
        asyncio.run(OpenAICompatModel(server.url, "base", retry=policy).complete(req()))
    assert len(server.requests) == 1


def test_connection_refused_ends_in_model_unavailable(policy):
    model = OpenAICompatModel("http://127.0.0.1:9/v1", "base", retry=policy)
    with pytest.raises(ModelUnavailable, match="connection error"):
        asyncio.run(model.complete(req()))


def test_concurrency_limit_caps_requests_in_flight(server, policy):
    for _ in range(6):
        server.then(delay=0.15)
    model = OpenAICompatModel(server.url, "base", retry=policy, max_concurrency=2)

    async def burst():
        return await asyncio.gather(*(model.complete(req(str(i))) for i in range(6)))

    outs = asyncio.run(burst())
    assert sorted(o.text for o in outs) == [f"echo {i}" for i in range(6)]
    assert server.max_in_flight == 2


def test_api_key_from_env_is_sent_but_never_shown(server, policy, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    server.then(401, f"invalid key {SECRET}")
    model = load_model(f"openai:{server.url}#base", retry=policy)
    with pytest.raises(ModelUnavailable) as info:
        asyncio.run(model.complete(req()))
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in str(info.value) and "[redacted]" in str(info.value)
    assert SECRET not in repr(model) and SECRET not in model.name


def test_openai_spec_parsing(server):
    model = load_model(f"openai:{server.url}#Qwen/Qwen2.5-32B-Instruct")
    assert isinstance(model, OpenAICompatModel)
    assert model.name == "Qwen/Qwen2.5-32B-Instruct" and model.base_url == server.url
    with pytest.raises(ValueError, match=r"openai:<url>\[,<url>...\]#<model>"):
        load_model("openai:http://localhost:8000/v1")


def test_tool_traffic_is_sent_as_text_and_tools_ignored(server, policy):
    from automem_agent._chat import ToolCall, ToolResult, ToolSpec

    model = OpenAICompatModel(server.url, "base", retry=policy)
    assert not model.supports_tools
    request = ChatRequest(
        messages=[
            ChatMessage(
                role="assistant",
                content="",
                tool_calls=[ToolCall(id="1", name="memory", input={"c": "view"})],
            ),
            ChatMessage(
                role="user", content="next", tool_results=[ToolResult(call_id="1", content="empty")]
            ),
        ],
        tools=[ToolSpec(name="memory", description="d", input_schema={"type": "object"})],
    )
    asyncio.run(model.complete(request))
    body = server.requests[0]["json"]
    assert "tools" not in body
    assert body["messages"] == [
        {"role": "assistant", "content": "[tool call memory] {'c': 'view'}"},
        {"role": "user", "content": "next\n[tool result] empty"},
    ]
