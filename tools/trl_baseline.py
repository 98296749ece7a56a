"""Plain TRL `SFTTrainer` on exactly the data and LoRA settings our trainer gets: the baseline
that tools/bench_train.py and tools/gpu_check.py measure `train_lora` against.

It is fed the same pre-tokenised examples (`input_ids` + `completion_mask`), with
`completion_only_loss=True`, so both train on the same tokens with the same loss; TRL and the
HF Trainer normalise that loss by token count across gradient accumulation as ours does.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from typing import Any

from automem_train import Encoded, TrainConfig


def train_with_trl(
    model: Any, encoded: Sequence[Encoded], config: TrainConfig, *, cpu: bool, pad_id: int
) -> dict[str, Any]:
    """Trains a LoRA adapter with TRL on `model` (a path or a loaded model); returns figures:
    tokens/s over the whole `trainer.train()` call, tokens, loss tokens, losses, peak bytes."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    rows = {
        "input_ids": [list(e.input_ids) for e in encoded],
        "completion_mask": [list(e.mask) for e in encoded],
    }
    lora = LoraConfig(
        r=config.lora.rank,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=list(config.lora.target_modules),
        task_type="CAUSAL_LM",
    )
    losses: list[float] = []

    class Losses(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(float(logs["loss"]))

    cuda = not cpu and torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as out:
        args = SFTConfig(
            output_dir=out,
            per_device_train_batch_size=config.batch_size,
            gradient_accumulation_steps=config.grad_accum,
            num_train_epochs=config.epochs,
            max_steps=config.max_steps or -1,
            learning_rate=config.learning_rate,
            lr_scheduler_type=config.scheduler,
            warmup_steps=config.warmup_steps,
            weight_decay=config.weight_decay,
            max_grad_norm=config.max_grad_norm,
            max_length=config.max_length,
            completion_only_loss=True,
            gradient_checkpointing=bool(config.gradient_checkpointing),
            bf16=cuda,
            use_cpu=not cuda,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            seed=config.seed,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=Dataset.from_dict(rows), peft_config=lora
        )
        if trainer.processing_class is not None and trainer.processing_class.pad_token_id is None:
            trainer.processing_class.pad_token_id = pad_id
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        trainer.add_callback(Losses())
        start = time.perf_counter()
        state = trainer.train()
        elapsed = time.perf_counter() - start
        steps = state.global_step
        peak = torch.cuda.max_memory_allocated() if cuda else None
        trained = trainer.model
    per_step = config.batch_size * config.grad_accum
    seen = min(len(encoded) * config.epochs, steps * per_step)
    # Every example is `seen` at most once per epoch; over whole epochs this is exact.
    share = seen / (len(encoded) * config.epochs)
    tokens = int(sum(len(e.input_ids) for e in encoded) * config.epochs * share)
    loss_tokens = int(sum(e.n_loss_tokens for e in encoded) * config.epochs * share)
    return {
        "steps": steps,
        "train_s": elapsed,
        "tokens": tokens,
        "loss_tokens": loss_tokens,
        "tokens_per_s": tokens / elapsed if elapsed else 0.0,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "peak_bytes": peak,
        "model": trained,
    }
