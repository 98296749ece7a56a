"""Memory estimates before training: what fits a device, what is refused, and the options that
make a recipe fit (gradient checkpointing, smaller micro-batches, QLoRA, FSDP)."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import _train_traces as _traces
import pytest
from automem_agent.models import build_tiny_model
from automem_train import (
    LoraSettings,
    TrainConfig,
    WontFit,
    build_training_set,
    check_fits,
    estimate_memory,
    extract_examples,
    model_shape,
    read_loss_log,
    train_lora,
)
from transformers import AutoTokenizer

GIB = 2**30
# Qwen2.5-32B-Instruct's config.json (the fields memory depends on).
QWEN_32B = {
    "model_type": "qwen2",
    "hidden_size": 5120,
    "num_hidden_layers": 64,
    "intermediate_size": 27648,
    "num_attention_heads": 40,
    "num_key_value_heads": 8,
    "vocab_size": 152064,
    "tie_word_embeddings": False,
}
H100 = 80 * GIB


def test_parameter_count_matches_the_published_size():
    assert model_shape(QWEN_32B).params() == pytest.approx(32.76e9, rel=0.01)


def test_the_old_default_recipe_is_refused_on_an_80gb_card_with_what_to_change():
    old = TrainConfig(batch_size=4, grad_accum=1, max_length=2048, gradient_checkpointing=False)
    estimate = estimate_memory(QWEN_32B, old)
    assert estimate.weights == pytest.approx(65.5e9, rel=0.01)
    with pytest.raises(WontFit) as info:
        check_fits(estimate, [H100])
    text = str(info.value)
    assert "GiB per device" in text and "gradient_checkpointing=true" in text
    assert "activations" in text and "4bit" in text and "FSDP" in text


def test_the_default_recipe_fits_32b_on_one_80gb_card_with_checkpointing_on():
    estimate = estimate_memory(QWEN_32B, TrainConfig())
    assert estimate.gradient_checkpointing  # on by default over 1B parameters
    check_fits(estimate, [H100])
    assert (
        estimate.total
        < H100
        < estimate_memory(QWEN_32B, TrainConfig(batch_size=4, grad_accum=1)).total
    )


def test_qlora_and_fsdp_shrink_the_per_device_weights():
    plain = estimate_memory(QWEN_32B, TrainConfig())
    qlora = estimate_memory(QWEN_32B, TrainConfig(quantization="4bit"))
    fsdp = estimate_memory(QWEN_32B, TrainConfig(), processes=4, sharded=True)
    assert qlora.weights < plain.weights / 3
    assert fsdp.weights == plain.weights // 4 and fsdp.activations == plain.activations
    with pytest.raises(WontFit):
        check_fits(plain, [40 * GIB])
    check_fits(qlora, [40 * GIB])
    check_fits(fsdp, [40 * GIB] * 4)


def test_checkpointing_is_off_by_default_for_small_models_and_can_be_forced():
    small = {
        **QWEN_32B,
        "hidden_size": 64,
        "num_hidden_layers": 2,
        "intermediate_size": 128,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "vocab_size": 512,
    }
    default = estimate_memory(small, TrainConfig())
    forced = estimate_memory(small, TrainConfig(gradient_checkpointing=True))
    assert not default.gradient_checkpointing and forced.gradient_checkpointing
    assert forced.activations < default.activations


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("traces")
    _traces.write_trace(root / "7.jsonl", seed=7)
    base = build_tiny_model()
    return base, build_training_set(extract_examples(root), AutoTokenizer.from_pretrained(base))


def test_train_lora_refuses_before_loading_weights(tmp_path, data, capsys):
    base, training = data
    with pytest.raises(WontFit, match="needs about"):
        train_lora(base, training.encoded, tmp_path / "run", TrainConfig(), device_memory=1024)
    assert "memory estimate per device" in capsys.readouterr().out
    assert not (tmp_path / "run" / "adapter").exists()


def test_gradient_checkpointing_trains_the_same_as_without(tmp_path, data):
    base, training = data
    config = TrainConfig(
        lora=LoraSettings(rank=4, alpha=8, dropout=0.0),
        batch_size=2,
        grad_accum=1,
        max_steps=3,
        epochs=3,
        learning_rate=5e-3,
        checkpoint_every=0,
    )
    plain = train_lora(base, training.encoded, tmp_path / "plain", config, progress=False)
    config = TrainConfig(**{**_fields(config), "gradient_checkpointing": True})
    ckpt = train_lora(base, training.encoded, tmp_path / "ckpt", config, progress=False)
    assert ckpt.gradient_checkpointing and not plain.gradient_checkpointing
    a = [r["loss"] for r in read_loss_log(tmp_path / "plain")]
    b = [r["loss"] for r in read_loss_log(tmp_path / "ckpt")]
    assert b == pytest.approx(a, rel=1e-5)


def _fields(config: TrainConfig) -> dict:
    return {f: getattr(config, f) for f in config.__struct_fields__}


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes is installed"
)
def test_qlora_without_bitsandbytes_says_how_to_install_it(tmp_path, data):
    base, training = data
    with pytest.raises(ImportError, match=r"--extra qlora"):
        train_lora(base, training.encoded, tmp_path / "q", TrainConfig(quantization="4bit"))


@pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None,
    reason="bitsandbytes is not installed (uv sync --extra qlora)",
)
def test_qlora_trains_the_tiny_model_with_a_4bit_base(tmp_path, data):
    base, training = data
    config = TrainConfig(quantization="4bit", batch_size=2, grad_accum=1, max_steps=2)
    result = train_lora(base, training.encoded, tmp_path / "q", config, progress=False)
    assert result.steps == 2 and result.quantization == "4bit"
    assert (Path(result.adapter_dir) / "adapter_model.safetensors").is_file()
