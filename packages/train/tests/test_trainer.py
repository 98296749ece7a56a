"""A real LoRA run on the tiny model: loss falls, checkpoints resume, the adapter reloads in
PEFT format and changes generation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import _train_traces as _traces
import pytest
import torch
from automem_agent import ChatMessage, ChatRequest
from automem_agent.models import LocalModel, build_tiny_model
from automem_train import (
    LoraSettings,
    TrainConfig,
    build_training_set,
    epoch_batches,
    extract_examples,
    plot_loss,
    read_loss_log,
    train_lora,
)
from safetensors.torch import load_file
from transformers import AutoTokenizer

CONFIG = TrainConfig(
    lora=LoraSettings(rank=8, alpha=16, dropout=0.1),
    learning_rate=1e-2,
    epochs=12,
    batch_size=2,
    grad_accum=1,
    checkpoint_every=2,
    max_length=512,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("traces")
    _traces.write_trace(root / "7.jsonl", seed=7)
    base = build_tiny_model()
    tok = AutoTokenizer.from_pretrained(base)
    return base, build_training_set(extract_examples(root), tok).encoded


class Stop(Exception):
    pass


def test_loss_falls_and_adapter_reloads_and_changes_generation(tmp_path, data):
    base, encoded = data
    result = train_lora(base, encoded, tmp_path / "run", CONFIG, progress=False)
    assert result.steps == 24 and result.resumed_from == 0
    losses = [r["loss"] for r in read_loss_log(tmp_path / "run")]
    assert len(losses) == 24
    assert sum(losses[-4:]) / 4 < sum(losses[:4]) / 4 - 0.1
    assert result.loss_tokens < result.tokens  # only responses carry loss

    adapter = Path(result.adapter_dir)
    assert (adapter / "adapter_model.safetensors").is_file()
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    assert cfg["peft_type"] == "LORA" and cfg["r"] == 8
    assert set(cfg["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert cfg["base_model_name_or_path"] == str(base)
    assert not cfg.get("modules_to_save")  # vLLM serves plain LoRA weights only
    assert plot_loss(tmp_path / "run").stat().st_size > 0

    model = LocalModel(base, adapters={"memory": adapter})
    messages = [ChatMessage(role="user", content="obs 0: trees")]

    def reply(adapter_name):
        request = ChatRequest(messages=messages, max_tokens=12, adapter=adapter_name)
        return asyncio.run(model.complete(request)).text

    assert reply("memory") != reply(None)


def test_resume_after_interruption_matches_an_uninterrupted_run(tmp_path, data):
    base, encoded = data
    config = TrainConfig(
        lora=LoraSettings(rank=4, alpha=8, dropout=0.1),
        learning_rate=5e-3,
        epochs=3,
        batch_size=1,
        grad_accum=2,
        checkpoint_every=2,
        max_steps=5,
    )
    whole = train_lora(base, encoded, tmp_path / "whole", config, progress=False)

    def stop_at_3(step, _loss):
        if step == 3:
            raise Stop

    with pytest.raises(Stop):
        train_lora(base, encoded, tmp_path / "cut", config, progress=False, on_step=stop_at_3)
    assert [p.name for p in (tmp_path / "cut" / "checkpoints").iterdir()] == ["step-0000002"]
    resumed = train_lora(base, encoded, tmp_path / "cut", config, progress=False)
    assert resumed.resumed_from == 2 and resumed.steps == 5 == whole.steps
    cut_log = read_loss_log(tmp_path / "cut")
    whole_log = read_loss_log(tmp_path / "whole")
    assert [r["step"] for r in cut_log] == [1, 2, 3, 4, 5]
    # Bit-exact: the same losses and the same adapter weights, not merely close ones.
    assert [r["loss"] for r in cut_log] == [r["loss"] for r in whole_log]
    cut_weights = load_file(str(Path(resumed.adapter_dir) / "adapter_model.safetensors"))
    whole_weights = load_file(str(Path(whole.adapter_dir) / "adapter_model.safetensors"))
    assert cut_weights.keys() == whole_weights.keys()
    assert all(torch.equal(cut_weights[k], whole_weights[k]) for k in cut_weights)

    with pytest.raises(ValueError, match="different config"):
        other = TrainConfig(learning_rate=1e-3, checkpoint_every=1, max_steps=9)
        (tmp_path / "cut" / "checkpoints").mkdir(exist_ok=True)
        train_lora(base, encoded, tmp_path / "cut", other, progress=False)


def test_epoch_order_is_reproducible_and_grouped():
    lengths = [5, 50, 7, 48, 6, 49, 8, 47]
    a = epoch_batches(lengths, 2, seed=1, epoch=0, group_by_length=True)
    assert a == epoch_batches(lengths, 2, seed=1, epoch=0, group_by_length=True)
    assert a != epoch_batches(lengths, 2, seed=1, epoch=1, group_by_length=True)
    assert sorted(i for b in a for i in b) == list(range(8))
    # grouping pairs similar lengths: every batch is all-short or all-long
    assert all(len({lengths[i] > 20 for i in b}) == 1 for b in a)


def test_step_loss_is_the_token_mean_over_the_whole_accumulation_window(tmp_path, data):
    """Long and short responses weigh by their tokens: the first step's loss (LoRA starts as a
    no-op) equals the base model's summed response-token loss over the step's micro-batches
    divided by their token count, not the mean of per-micro-batch means."""
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM

    base, encoded = data
    config = TrainConfig(
        lora=LoraSettings(rank=4, alpha=8, dropout=0.0),
        batch_size=1,
        grad_accum=3,
        max_steps=1,
        group_by_length=False,
        checkpoint_every=0,
    )
    train_lora(base, encoded, tmp_path / "run", config, progress=False)
    logged = read_loss_log(tmp_path / "run")[0]

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    lengths = [len(e.input_ids) for e in encoded]
    window = epoch_batches(lengths, 1, seed=0, epoch=0, group_by_length=False)[:3]
    total, count, means = 0.0, 0, []
    with torch.no_grad():
        for (i,) in window:
            ids = torch.tensor([encoded[i].input_ids])
            labels = torch.tensor([encoded[i].mask[1:]]).bool()
            logits = model(input_ids=ids).logits[0, :-1]
            losses = F.cross_entropy(logits, ids[0, 1:], reduction="none")[labels[0]]
            total += float(losses.sum())
            count += int(labels.sum())
            means.append(float(losses.mean()))
    assert logged["loss_tokens"] == count
    assert logged["loss"] == pytest.approx(total / count, rel=1e-5)
    assert abs(logged["loss"] - sum(means) / len(means)) > 1e-4  # the naive mean differs
