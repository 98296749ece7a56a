"""Benchmarks for the chat-model layer (figures go in packages/agent/MODELS.md).

1. SmolLM2 load: dequantising the wheel's GGUF with transformers (the baseline) against loading
   the cached safetensors conversion. Target: cached load < 1 s.
2. Tiny test model: building it from scratch against reusing the cache entry.
3. OpenAI-compatible client against a loopback server with 50 ms latency: 64 requests with
   `max_concurrency=1` (the baseline) against `max_concurrency=32`. The ideal ratio is 32x
   (two waves of 50 ms); the loopback server's threads share the machine's cores.
4. Client overhead against the same server with no latency: raw `httpx` posts (the baseline)
   against `OpenAICompatModel.complete` (retry policy, semaphore, parsing).

    uv run python tools/bench_models.py [--skip-gguf]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from automem_agent._chat import ChatMessage, ChatRequest
from automem_agent.models import LocalModel, OpenAICompatModel, build_tiny_model, smollm2_path
from automem_agent.models._smollm2 import smollm2_gguf


def timed(fn, repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def serve(latency: float) -> tuple[ThreadingHTTPServer, str]:
    body = json.dumps(
        {
            "model": "base",
            "choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 1},
        }
    ).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as vLLM's server does
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(latency)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        request_queue_size = 128  # the default backlog of 5 drops bursts of connects

    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/v1"


REQUEST = ChatRequest(messages=[ChatMessage(role="user", content="hi")], max_tokens=4)


async def burst(model: OpenAICompatModel, n: int) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(model.complete(REQUEST) for _ in range(n)))
    return time.perf_counter() - start


async def raw_posts(url: str, n: int) -> float:
    import httpx

    payload = OpenAICompatModel(url, "base").payload(REQUEST)
    async with httpx.AsyncClient(base_url=url) as client:
        start = time.perf_counter()
        for _ in range(n):
            (await client.post("/chat/completions", json=payload)).json()
        return time.perf_counter() - start


async def ours_sequential(url: str, n: int) -> float:
    model = OpenAICompatModel(url, "base")
    await model.complete(REQUEST)  # warm the connection, as the raw loop's first post does
    start = time.perf_counter()
    for _ in range(n):
        await model.complete(REQUEST)
    elapsed = time.perf_counter() - start
    await model.aclose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-gguf", action="store_true", help="skip the ~25-80 s GGUF baseline")
    args = parser.parse_args()
    rows: list[tuple[str, str, float, str, float]] = []

    cached = smollm2_path()  # make sure the cache exists before timing its load
    ours = timed(lambda: LocalModel(cached), repeat=3)
    if not args.skip_gguf:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        gguf = smollm2_gguf()

        def from_gguf():
            AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)

        rows.append(
            ("smollm2 load", "GGUF dequantise", timed(from_gguf), "cached safetensors", ours)
        )
    else:
        rows.append(("smollm2 load", "(skipped)", float("nan"), "cached safetensors", ours))

    with tempfile.TemporaryDirectory() as tmp:
        fresh = timed(lambda: build_tiny_model(Path(tmp) / "t"))
        reuse = timed(lambda: build_tiny_model(Path(tmp) / "t"), repeat=5)
        rows.append(("tiny model", "build from scratch", fresh, "reuse cache entry", reuse))

    httpd, url = serve(latency=0.05)
    one = asyncio.run(burst(OpenAICompatModel(url, "base", max_concurrency=1), 64))
    many = asyncio.run(burst(OpenAICompatModel(url, "base", max_concurrency=32), 64))
    rows.append(("64 reqs @50 ms", "max_concurrency=1", one, "max_concurrency=32", many))
    httpd.shutdown()

    httpd, url = serve(latency=0.0)
    n = 200
    raw = asyncio.run(raw_posts(url, n))
    wrapped = asyncio.run(ours_sequential(url, n))
    rows.append((f"{n} reqs, no latency", "raw httpx", raw, "OpenAICompatModel", wrapped))
    httpd.shutdown()

    print(f"{'case':<22} {'baseline':<20} {'s':>8}   {'ours':<20} {'s':>8}   {'ratio':>7}")
    for case, base_name, base_s, our_name, our_s in rows:
        ratio = base_s / our_s if our_s else float("nan")
        print(
            f"{case:<22} {base_name:<20} {base_s:>8.3f}   {our_name:<20} {our_s:>8.3f}   {ratio:>6.1f}x"
        )
    print("ratio = baseline time / our time (higher is better for us; <1 means overhead)")


if __name__ == "__main__":
    main()
