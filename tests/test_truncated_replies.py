"""A reply cut at max_tokens, end to end: a vLLM-shaped endpoint (loopback) says
finish_reason "length"; the trace records the reason on every turn and marks the cut one, the
summary counts it, the review bundle flags it, and Loop 2 leaves it out of its data."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytest.importorskip("httpx", reason="needs the 'openai' extra (httpx)")
pytest.importorskip("crafter", reason="needs the crafter extra (uv sync --extra crafter)")

from automem_agent import (
    RoleModels,
    builtin_scaffold,
    iter_traces,
    load_scaffold,
    memory_agent_factory,
    run_suite,
)
from automem_agent.meta import render_step
from automem_agent.models import load_model
from automem_envs import EpisodeSpec, Suite
from automem_train import extract_examples


class _Endpoint:
    """/v1/chat/completions: LOG appends and says DONE; PLAN's first round is cut mid-call
    (finish_reason "length"), its second commits an action."""

    def __init__(self) -> None:
        self.max_tokens: list[int] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                endpoint.max_tokens.append(body.get("max_tokens"))
                last = body["messages"][-1]["content"]
                finish = "stop"
                if last.startswith("LOG"):
                    text = "<|APPEND|>log.md|moved on<|END|>\n<|DONE|>"
                elif last.startswith("PLAN"):
                    text, finish = "<|SEARCH|>log.md|mov", "length"
                else:
                    text = "<|ACTION|>Noop<|END|>"
                reply = {
                    "id": "c",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": finish,
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": 20},
                }
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def endpoint():
    e = _Endpoint()
    yield e
    e.httpd.shutdown()
    e.httpd.server_close()


def test_cut_replies_are_recorded_flagged_and_kept_out_of_training(tmp_path, endpoint):
    model = load_model(f"openai:{endpoint.url}#qwen")
    factory = memory_agent_factory(load_scaffold(builtin_scaffold("v0")), RoleModels.single(model))
    suite = Suite(name="t", episodes=[EpisodeSpec(env_id="crafter", seed=1, max_steps=3)])
    result = asyncio.run(run_suite(suite, factory, tmp_path, progress=False))
    assert result.episodes[0].status == "finished"
    assert set(endpoint.max_tokens) == {4096}  # v0's budget reached the server
    (trace,) = iter_traces(tmp_path / "eval")
    turns = [t for step in trace.steps for t in step.turns]
    assert all(t.finish_reason in ("stop", "length") for t in turns)
    cut = [t for t in turns if t.truncated]
    assert cut and all(t.finish_reason == "length" and t.phase == "plan" for t in cut)
    assert len(cut) == len(trace.steps)  # each PLAN's first round
    assert trace.summary.truncated_turns == {"plan": len(cut)}
    assert any("reply cut at max_tokens (4096)" in e for e in trace.steps[0].events)
    rendered = "".join(render_step(step) for step in trace.steps)  # the review views
    assert rendered.count("[cut at max_tokens]") == len(cut)
    # Loop 2: LOG turns and the cut PLAN consultations are candidates; the cut ones are left
    # out unless asked for.
    kept = extract_examples(tmp_path / "eval")
    everything = extract_examples(tmp_path / "eval", include_truncated=True)
    assert {e.phase for e in kept} == {"log"}
    assert len(everything) - len(kept) == len(cut)
