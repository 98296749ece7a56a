"""Will a LoRA recipe fit the visible devices? An estimate from the model's config alone.

The estimate is printed before any weight is loaded, and a recipe whose per-device total exceeds
the device's memory is refused with a message naming what to change. It is arithmetic over the
worst case (every micro-batch `batch_size x max_length` tokens), so it errs on the safe side:

- weights: parameters x bytes per parameter (bf16 2, fp32 4, NF4 about 0.53 for the quantised
  linear layers; embeddings and the output head stay in the compute dtype);
- LoRA and optimizer state: the adapter in fp32 (PEFT keeps it there) with its gradient and
  AdamW's two moments, 16 bytes per adapter parameter;
- activations: what backward keeps per token and layer (norms, projections, the MLP, LoRA's
  dropout copies), all layers without gradient checkpointing, or the layer inputs plus one
  layer's worth with it;
- logits: the output head's activations in fp32 with their gradient, per token x vocabulary.

Under FSDP the weights and optimizer state are divided over the processes; activations are not.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import msgspec

from automem_train._config import TrainConfig

GIB = 2**30
# Allocator fragmentation and the CUDA context: a margin on top of the arithmetic.
OVERHEAD_SHARE = 0.08
OVERHEAD_BYTES = 1 * GIB


class WontFit(ValueError):
    """The recipe needs more memory than the visible devices have (the message says what to do)."""


class ModelShape(msgspec.Struct, frozen=True, kw_only=True):
    """The few numbers of a decoder-only transformer that memory depends on."""

    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab: int
    tied_embeddings: bool = False
    attention_bias: bool = False

    @property
    def kv_dim(self) -> int:
        return self.hidden // self.heads * self.kv_heads

    def linear_params(self) -> int:
        """Parameters of the projection matrices (the part QLoRA quantises)."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        return self.layers * (2 * h * h + 2 * h * kv + 3 * h * i)

    def params(self) -> int:
        h = self.hidden
        embed = self.vocab * h * (1 if self.tied_embeddings else 2)
        bias = self.layers * (h + 2 * self.kv_dim) if self.attention_bias else 0
        norms = self.layers * 2 * h + h
        return self.linear_params() + embed + bias + norms

    def module_dims(self, name: str) -> tuple[int, int]:
        """(in, out) features of one projection."""
        h, i, kv = self.hidden, self.intermediate, self.kv_dim
        return {
            "q_proj": (h, h),
            "k_proj": (h, kv),
            "v_proj": (h, kv),
            "o_proj": (h, h),
            "gate_proj": (h, i),
            "up_proj": (h, i),
            "down_proj": (i, h),
        }[name]


def model_shape(config: Any) -> ModelShape:
    """The shape of a Hugging Face model config (an object or a dict, e.g. config.json)."""
    get: Callable[..., Any] = (
        config.get if isinstance(config, Mapping) else lambda k, d=None: getattr(config, k, d)
    )
    heads = int(get("num_attention_heads"))
    return ModelShape(
        hidden=int(get("hidden_size")),
        layers=int(get("num_hidden_layers")),
        intermediate=int(get("intermediate_size")),
        heads=heads,
        kv_heads=int(get("num_key_value_heads") or heads),
        vocab=int(get("vocab_size")),
        tied_embeddings=bool(get("tie_word_embeddings", False)),
        attention_bias=bool(get("attention_bias", False))
        or str(get("model_type", "")).startswith("qwen2"),
    )


class MemoryEstimate(msgspec.Struct, frozen=True, kw_only=True):
    """Bytes per device, by what holds them."""

    params: int
    lora_params: int
    weights: int
    lora_state: int
    activations: int
    logits: int
    overhead: int
    processes: int = 1
    sharded: bool = False
    gradient_checkpointing: bool = False
    quantization: str = "none"

    @property
    def total(self) -> int:
        return self.weights + self.lora_state + self.activations + self.logits + self.overhead

    def table(self, capacity: int | None = None) -> str:
        """A plain-text table for the console, with the device's memory when known."""
        how = f"{self.processes} process(es){', FSDP-sharded' if self.sharded else ''}"
        rows = [
            f"memory estimate per device ({self.params / 1e9:.2f}B params, "
            f"{self.lora_params / 1e6:.1f}M LoRA, {how}, gradient checkpointing "
            f"{'on' if self.gradient_checkpointing else 'off'}, quantization {self.quantization})",
            f"  {'weights':<28} {self.weights / GIB:>9.2f} GiB",
            f"  {'LoRA + grads + AdamW state':<28} {self.lora_state / GIB:>9.2f} GiB",
            f"  {'activations':<28} {self.activations / GIB:>9.2f} GiB",
            f"  {'logits (fp32 + grad)':<28} {self.logits / GIB:>9.2f} GiB",
            f"  {'overhead':<28} {self.overhead / GIB:>9.2f} GiB",
            f"  {'total':<28} {self.total / GIB:>9.2f} GiB",
        ]
        if capacity is not None:
            rows.append(f"  {'device memory':<28} {capacity / GIB:>9.2f} GiB")
        return "\n".join(rows)


def uses_gradient_checkpointing(config: TrainConfig, params: int) -> bool:
    """The config's choice, or (left unset) on for models over 1B parameters."""
    if config.gradient_checkpointing is not None:
        return config.gradient_checkpointing
    return params > 1_000_000_000


def _dtype_bytes(config: TrainConfig, cuda: bool) -> int:
    if config.dtype == "float32" or (config.dtype == "auto" and not cuda):
        return 4
    return 2


def estimate_memory(
    model_config: Any,
    config: TrainConfig,
    *,
    processes: int = 1,
    sharded: bool = False,
    cuda: bool = True,
    longest: int | None = None,
) -> MemoryEstimate:
    """Per-device bytes for training `config` on a model with `model_config` (no weights needed).

    `sharded` means FSDP over `processes`; otherwise every process holds the whole model.
    `longest` is the longest sequence in the data, when known (batches pad only to it).
    """
    shape = model_shape(model_config)
    params = shape.params()
    dtype_bytes = _dtype_bytes(config, cuda)
    if config.quantization == "4bit":
        linear = shape.linear_params()
        weights = int(linear * 0.53) + (params - linear) * dtype_bytes
    else:
        weights = params * dtype_bytes
    lora_params = 0
    for name in config.lora.target_modules:
        fan_in, fan_out = shape.module_dims(name)
        lora_params += shape.layers * config.lora.rank * (fan_in + fan_out)
    lora_state = lora_params * 16
    divide = processes if sharded and processes > 1 else 1
    weights //= divide
    lora_state //= divide

    length = config.max_length if longest is None else min(config.max_length, longest)
    tokens = config.batch_size * length
    h, i, kv = shape.hidden, shape.intermediate, shape.kv_dim
    b = dtype_bytes
    # What backward keeps per token in one layer: the two RMSNorms (fp32 copy + output), the
    # attention inputs/outputs and rotary copies, the MLP's gate/up/activation/down inputs.
    per_layer = b * (13 * h + 4 * kv + 5 * i) + 8 * h
    # LoRA: each adapted module keeps its input cast to fp32 plus a dropout mask.
    for name in config.lora.target_modules:
        fan_in, _ = shape.module_dims(name)
        per_layer += 5 * fan_in
    if uses_gradient_checkpointing(config, params):
        activations = tokens * (shape.layers * b * h + per_layer)
    else:
        activations = tokens * shape.layers * per_layer
    logits = tokens * shape.vocab * (b + 8)
    subtotal = weights + lora_state + activations + logits
    return MemoryEstimate(
        params=params,
        lora_params=lora_params,
        weights=weights,
        lora_state=lora_state,
        activations=activations,
        logits=logits,
        overhead=int(subtotal * OVERHEAD_SHARE) + (OVERHEAD_BYTES if cuda else 0),
        processes=processes,
        sharded=sharded,
        gradient_checkpointing=uses_gradient_checkpointing(config, params),
        quantization=config.quantization,
    )


def visible_device_memory() -> list[int]:
    """Free bytes on each visible CUDA device, or the host's available RAM (one entry) on CPU."""
    import torch

    if torch.cuda.is_available():
        return [torch.cuda.mem_get_info(d)[0] for d in range(torch.cuda.device_count())]
    import psutil

    return [psutil.virtual_memory().available]


def check_fits(estimate: MemoryEstimate, capacity: Sequence[int] | int) -> None:
    """Raises `WontFit` if the estimate exceeds the smallest device it would run on."""
    caps = [capacity] if isinstance(capacity, int) else list(capacity)
    if not caps:
        return
    smallest = min(caps)
    if estimate.total <= smallest:
        return
    hints = []
    if not estimate.gradient_checkpointing:
        hints.append("gradient_checkpointing=true")
    hints.append("a smaller batch_size with a larger grad_accum (same effective batch)")
    hints.append("a shorter max_length")
    if estimate.quantization == "none":
        hints.append('quantization="4bit" (QLoRA, needs bitsandbytes)')
    if not estimate.sharded:
        hints.append(
            "FSDP over several GPUs: accelerate launch --config_file "
            "$(python -m automem_train --fsdp-config) -m automem_train ..."
        )
    raise WontFit(
        f"this recipe needs about {estimate.total / GIB:.1f} GiB per device but the device has "
        f"{smallest / GIB:.1f} GiB free.\n{estimate.table(smallest)}\nTry: " + "; ".join(hints)
    )
