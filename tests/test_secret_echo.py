"""A hostile OpenAI-compatible server echoes the API key back; the key never reaches disk.

The loopback server answers like vLLM, but puts the request's `Authorization` header, plain,
base64-encoded and URL-encoded, into its error bodies and its completions, and the completions
ask for that text to be written to memory. A real Crafter episode then runs through the real
HTTP client, the memory agent, memfs and the trace writer; afterwards no file under the run
directory (traces, results, memory) and no log record holds the key in any of those forms.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

pytest.importorskip("httpx", reason="needs automem-agent's 'openai' extra (httpx)")
pytest.importorskip("crafter", reason="needs automem-envs' crafter extra")

from automem_agent import (
    RoleModels,
    builtin_scaffold,
    load_scaffold,
    memory_agent_factory,
    run_suite,
)
from automem_agent.models import OpenAICompatModel, RetryPolicy
from automem_envs import EpisodeSpec, Suite

KEY = "sk-loop-9f8e7d6c5b4a/x+y=z-0123456789"


def leaked_forms(key: str) -> list[str]:
    header = f"Bearer {key}"
    return [
        key,
        base64.b64encode(key.encode()).decode(),
        base64.b64encode(header.encode()).decode()[12:],  # the key's part of the header's
        base64.urlsafe_b64encode(key.encode()).decode(),
        quote(key, safe=""),
        quote(header, safe=""),
    ]


class EchoServer:
    """Echoes the Authorization header: first in a 500 error body (retried), then in every
    completion; after `fail_after` completions it answers 400 with the key in the body."""

    def __init__(self, fail_after: int) -> None:
        self.completions = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                auth = self.headers.get("authorization", "")
                echo = " ".join(
                    [auth, base64.b64encode(auth.encode()).decode(), quote(auth, safe="")]
                )
                if server.completions == 0 and not getattr(server, "erred", False):
                    server.erred = True
                    return self.reply(500, {"error": f"upstream broke for {echo}"})
                if server.completions >= fail_after:
                    return self.reply(400, {"error": f"quota exceeded for {echo}"})
                server.completions += 1
                said = [m["content"] for m in body["messages"] if m["role"] == "assistant"]
                if not any("DONE" in s for s in said):
                    text = f"<|APPEND|>notes.md|server said: {echo}<|END|> <|DONE|>"
                else:
                    text = f"I was told {echo}. <|ACTION|>noop<|END|>"
                self.reply(200, {
                    "model": body["model"],
                    "choices": [{"message": {"content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 5},
                })  # fmt: skip

            def reply(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_an_echoed_key_lands_nowhere(tmp_path: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv("LOOPBACK_KEY", KEY)  # a name that does not say "key": only configured
    server = EchoServer(fail_after=7)  # 3 steps (LOG, PLAN) then a hard failure
    try:
        model = OpenAICompatModel(
            server.url,
            "qwen",
            api_key_env="LOOPBACK_KEY",
            retry=RetryPolicy(max_attempts=3, base_delay=0.01, jitter=0.0),
        )
        scaffold = load_scaffold(builtin_scaffold("v0"))
        factory = memory_agent_factory(scaffold, RoleModels.single(model))
        suite = Suite(name="echo", episodes=[EpisodeSpec(env_id="crafter", seed=43, max_steps=10)])
        out = tmp_path / "run"
        result = asyncio.run(run_suite(suite, factory, out, concurrency=1, progress=False))
        with caplog.at_level(logging.INFO):
            logging.getLogger("automem.test").error("the server said %s", KEY)
            try:
                raise RuntimeError(f"failed with {base64.b64encode(KEY.encode()).decode()}")
            except RuntimeError:
                logging.getLogger("automem.test").exception("boom")
    finally:
        server.close()
    (episode,) = result.episodes
    assert episode.status == "errored" and "400" in (episode.summary.error or "")
    written = {p: p.read_bytes().decode() for p in out.rglob("*") if p.is_file()}
    notes = written[out / "memory" / "crafter" / "43" / "notes.md"]
    assert "server said: Bearer [redacted]" in notes  # the write happened, redacted
    trace = written[out / "eval" / "crafter" / "43.jsonl"]
    assert "[redacted]" in trace and "quota exceeded" in trace
    logs = caplog.text + "".join(r.getMessage() for r in caplog.records)
    for form in leaked_forms(KEY):
        for path, text in written.items():
            assert form not in text, (form, path)
        assert form not in logs, form
    assert "[redacted]" in logs
