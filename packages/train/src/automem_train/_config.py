"""Typed training configuration: the LoRA adapter and the optimisation around it."""

from __future__ import annotations

from typing import Literal

import msgspec

# Projection names vLLM's LoRA support handles for Llama/Qwen2/Mistral-style models.
VLLM_LORA_MODULES = frozenset(
    {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
)


class LoraSettings(msgspec.Struct, frozen=True, kw_only=True):
    """The adapter's shape. Defaults suit a memory specialist on a 0.1B-32B Qwen/Llama model."""

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] = msgspec.field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"]
    )

    def problems(self) -> list[str]:
        """Reasons this config is unusable (empty when fine); written for a model to read."""
        out = []
        if not 1 <= self.rank <= 256:
            out.append(f"rank must be 1..256, got {self.rank}")
        if self.alpha <= 0:
            out.append(f"alpha must be positive, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            out.append(f"dropout must be in [0, 1), got {self.dropout}")
        unknown = sorted(set(self.target_modules) - VLLM_LORA_MODULES)
        if not self.target_modules:
            out.append("target_modules is empty")
        if unknown:
            out.append(f"target_modules {unknown} are not among {sorted(VLLM_LORA_MODULES)}")
        return out


class TrainConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that shapes one LoRA SFT run. `max_steps` caps optimizer steps (None: epochs)."""

    lora: LoraSettings = LoraSettings()
    learning_rate: float = 2e-4
    epochs: int = 1
    # One sequence per micro-batch, four per optimizer step: the same effective batch as 4 x 1,
    # and the loss is normalised by token count over the whole step, so the two train alike,
    # but it fits Qwen2.5-32B on one 80 GB device (see `estimate_memory`).
    batch_size: int = 1
    grad_accum: int = 4
    max_length: int = 2048
    max_steps: int | None = None
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    scheduler: Literal["linear", "cosine", "constant"] = "linear"
    seed: int = 0
    group_by_length: bool = True  # batches of similar length waste less compute on padding
    checkpoint_every: int = 50  # optimizer steps between checkpoints (0: only the final adapter)
    keep_checkpoints: int = 2
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # auto: bf16 on GPU
    gradient_checkpointing: bool | None = None  # None: on for models over 1B parameters
    quantization: Literal["none", "4bit"] = "none"  # 4bit: QLoRA (NF4 base through bitsandbytes)

    def problems(self) -> list[str]:
        """Reasons this config is unusable (empty when fine); written for a model to read."""
        out = self.lora.problems()
        if not 0 < self.learning_rate <= 1e-2:
            out.append(f"learning_rate must be in (0, 0.01], got {self.learning_rate}")
        if self.epochs < 1 or self.batch_size < 1 or self.grad_accum < 1:
            out.append("epochs, batch_size and grad_accum must be at least 1")
        if self.max_length < 64:
            out.append(f"max_length must be at least 64, got {self.max_length}")
        if self.quantization not in ("none", "4bit"):
            out.append(f'quantization must be "none" or "4bit", got {self.quantization!r}')
        if self.max_steps is not None and self.max_steps < 1:
            out.append("max_steps must be at least 1 (or null)")
        return out
