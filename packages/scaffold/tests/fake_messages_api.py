"""A loopback fake of Anthropic's Messages API (`POST /v1/messages`, streamed or not) for
driving the real Claude Code CLI in tests.

`FakeMessagesAPI(script)` serves on 127.0.0.1. For the reviewer's requests (those whose system
prompt contains `marker`), `script(request_body)` returns the next assistant content blocks
(text and tool_use); any other request the CLI makes (titles, summaries) gets a short text.
Every request body is kept in `requests`, with its headers in `headers`.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable
from typing import Any

Script = Callable[[dict[str, Any]], list[dict[str, Any]]]


class FakeMessagesAPI:
    def __init__(self, script: Script, *, marker: str):
        self.script = script
        self.marker = marker
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if not self.path.startswith("/v1/messages") or "count_tokens" in self.path:
                    self._json({"input_tokens": 10})
                    return
                blocks = fake.reply(body)
                message = {
                    "id": f"msg_{len(fake.requests)}",
                    "type": "message",
                    "role": "assistant",
                    "model": body.get("model", "fake"),
                    "content": blocks,
                    "stop_reason": "tool_use"
                    if any(b["type"] == "tool_use" for b in blocks)
                    else "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 100, "output_tokens": 20},
                }
                if body.get("stream"):
                    self._stream(message)
                else:
                    self._json(message)

            def _json(self, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _stream(self, message: dict[str, Any]) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()

                def event(kind: str, data: dict[str, Any]) -> None:
                    self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())

                head = dict(message, content=[], stop_reason=None)
                head["usage"] = {"input_tokens": 100, "output_tokens": 0}
                event("message_start", {"type": "message_start", "message": head})
                for i, block in enumerate(message["content"]):
                    if block["type"] == "text":
                        start = {"type": "text", "text": ""}
                        delta = {"type": "text_delta", "text": block["text"]}
                    else:
                        start = {**block, "input": {}}
                        delta = {
                            "type": "input_json_delta",
                            "partial_json": json.dumps(block["input"]),
                        }
                    event(
                        "content_block_start",
                        {"type": "content_block_start", "index": i, "content_block": start},
                    )
                    event(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": i, "delta": delta},
                    )
                    event("content_block_stop", {"type": "content_block_stop", "index": i})
                event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                        "usage": {"output_tokens": 20},
                    },
                )
                event("message_stop", {"type": "message_stop"})

            def do_GET(self) -> None:
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reply(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if self.marker in json.dumps(body.get("system", "")) and body.get("tools"):
            return self.script(body)
        return [{"type": "text", "text": "ok"}]

    def __enter__(self) -> FakeMessagesAPI:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Every tool_result block the conversation holds so far, in order."""
    out = []
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            out += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return out
