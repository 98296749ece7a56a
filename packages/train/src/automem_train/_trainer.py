"""LoRA supervised fine-tuning with response-only loss, checkpoints and resume.

A small loop over `accelerate` (tools/bench_train.py measures it against TRL's SFTTrainer), so the same code runs on CPU, one GPU, or several GPUs under
`accelerate launch`. Checkpoints (adapter, optimizer, scheduler, RNG state, position) are written
to a temporary directory and renamed into place, so an interrupted run resumes from the last
complete one. The final adapter is saved in PEFT format (`adapter_config.json` +
`adapter_model.safetensors`), which the local backend and `vllm serve --lora-modules` both load.
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import JsonlWriter, read_jsonl, write_bytes_atomic, write_jsonl

from automem_train._config import TrainConfig
from automem_train._fit import (
    GIB,
    MemoryEstimate,
    check_fits,
    estimate_memory,
    visible_device_memory,
)
from automem_train._tokenize import Encoded

IGNORE = -100
STATE_FILE = "state.pt"


class TrainResult(msgspec.Struct, frozen=True, kw_only=True):
    """What a run produced. `tokens_per_s` counts non-padding tokens through forward+backward."""

    adapter_dir: str
    steps: int
    resumed_from: int = 0
    first_loss: float | None = None
    final_loss: float | None = None
    tokens: int = 0
    loss_tokens: int = 0
    padded_tokens: int = 0
    train_s: float = 0.0
    tokens_per_s: float = 0.0
    device: str = "cpu"
    processes: int = 1
    gradient_checkpointing: bool = False
    quantization: str = "none"
    estimated_bytes: int | None = None  # the pre-training memory estimate, per device
    peak_bytes: int | None = None  # measured peak allocated (CUDA only)


def epoch_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int, group_by_length: bool
) -> list[list[int]]:
    """The batches of one epoch as index lists, a pure function of (seed, epoch) so a resumed
    run sees the same order. Length grouping sorts within windows of 50 batches, then shuffles
    the batches, so each batch pads little but the order stays random."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    if group_by_length:
        window = batch_size * 50
        order = [
            i
            for start in range(0, len(order), window)
            for i in sorted(order[start : start + window], key=lambda i: -lengths[i])
        ]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def collate(items: Sequence[Encoded], pad_id: int) -> dict[str, Any]:
    """Right-padded tensors; labels are the input ids where the mask is set, else ignored."""
    import torch

    width = max(len(e.input_ids) for e in items)
    ids, attn, labels = [], [], []
    for e in items:
        pad = width - len(e.input_ids)
        ids.append(e.input_ids + [pad_id] * pad)
        attn.append([1] * len(e.input_ids) + [0] * pad)
        labels.append(
            [t if m else IGNORE for t, m in zip(e.input_ids, e.mask, strict=True)] + [IGNORE] * pad
        )
    return {
        "input_ids": torch.tensor(ids),
        "attention_mask": torch.tensor(attn),
        "labels": torch.tensor(labels),
    }


def _latest_checkpoint(out_dir: Path) -> Path | None:
    root = out_dir / "checkpoints"
    if not root.is_dir():
        return None
    done = sorted(p for p in root.glob("step-*") if (p / STATE_FILE).is_file())
    return done[-1] if done else None


def _atomic_dir(final: Path, write: Callable[[Path], None]) -> None:
    tmp = final.with_name(f".tmp-{final.name}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    old = final.with_name(f".old-{final.name}-{os.getpid()}")
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def _dtype(name: str, cuda: bool) -> Any:
    import torch

    if name == "auto":
        return torch.bfloat16 if cuda else torch.float32
    return getattr(torch, name)


class TrainingOOM(RuntimeError):
    """Training ran out of device memory; the message says where and how much was asked for."""


def _is_oom(exc: BaseException) -> bool:
    import torch

    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text.lower() or "can't allocate memory" in text
    )


def _is_fsdp(accelerator: Any) -> bool:
    return str(getattr(accelerator.distributed_type, "value", "")).upper() == "FSDP"


def load_base(
    path: str | Path, config: TrainConfig, device_is_cuda: bool, *, device_index: int = 0
) -> tuple[Any, Any]:
    """(model, tokenizer) for training; the tokenizer gets a pad token if it has none.

    With `quantization="4bit"` the base loads as NF4 through bitsandbytes (QLoRA) on this
    process's device; otherwise in the config's dtype, on CPU until accelerate places it.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    dtype = _dtype(config.dtype, device_is_cuda)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if config.quantization == "4bit":
        kwargs.update(_four_bit(dtype, device_is_cuda, device_index))
    model = AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    model.config.use_cache = False  # the KV cache is for generation; training only wastes it
    return model, tokenizer


def _four_bit(dtype: Any, cuda: bool, device_index: int) -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError(
            'quantization="4bit" (QLoRA) needs bitsandbytes: `uv sync --extra qlora` in this '
            'workspace, or `pip install "automem-train[qlora]"`'
        )
    from transformers import BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=dtype,
        bnb_4bit_quant_storage=dtype,  # FSDP shards quantised weights stored in this dtype
    )
    return {"quantization_config": quant, "device_map": {"": device_index if cuda else "cpu"}}


def _windows(loader: Any, size: int) -> Any:
    """Micro-batches grouped into optimizer steps (the last group of an epoch may be short)."""
    window: list[Any] = []
    for batch in loader:
        window.append(batch)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


def train_lora(
    base_model: str | Path,
    encoded: Sequence[Encoded],
    out_dir: str | Path,
    config: TrainConfig = TrainConfig(),
    *,
    base_model_name: str | None = None,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
    cpu: bool = False,
    device_memory: Sequence[int] | int | None = None,
) -> TrainResult:
    """Trains a LoRA adapter on `encoded` and saves it to `out_dir/adapter`.

    The loss of an optimizer step is the mean over every response token of its `grad_accum`
    micro-batches (on every process), so long and short responses weigh by their tokens.
    Before loading weights it prints a memory estimate and raises `WontFit` if the recipe
    cannot fit `device_memory` (bytes per device; default: what the visible devices have free).
    Running out of memory anyway raises `TrainingOOM` after freeing what the run held.

    Resumes from the newest checkpoint in `out_dir` if there is one (the config must match),
    bit-exactly on the same hardware. `base_model_name` is written into the adapter config
    (default: `base_model`), so set it to the name vLLM serves. `on_step(step, loss)` runs after
    each optimizer step; an exception from it stops training (the last checkpoint stays).
    `cpu=True` keeps a GPU machine on CPU.
    """
    import torch
    from accelerate import Accelerator
    from transformers import AutoConfig

    problems = config.problems()
    if problems:
        raise ValueError("bad training config: " + "; ".join(problems))
    if not encoded:
        raise ValueError("no training examples")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config_json = msgspec.json.encode(config).decode()
    saved = out / "train_config.json"
    if saved.exists() and _latest_checkpoint(out) is not None and saved.read_text() != config_json:
        raise ValueError(f"{out} holds checkpoints of a different config; use a new out_dir")
    saved.write_text(config_json)

    accelerator = Accelerator(cpu=cpu)
    cuda = accelerator.device.type == "cuda"
    estimate = estimate_memory(
        AutoConfig.from_pretrained(str(base_model)),
        config,
        processes=accelerator.num_processes,
        sharded=_is_fsdp(accelerator),
        cuda=cuda,
        longest=max(len(e.input_ids) for e in encoded),
    )
    capacity = visible_device_memory() if device_memory is None else device_memory
    if progress and accelerator.is_main_process:
        print(estimate.table(min(capacity) if not isinstance(capacity, int) else capacity))
    check_fits(estimate, capacity)
    try:
        return _train(
            accelerator,
            base_model,
            encoded,
            out,
            config,
            estimate,
            base_model_name=base_model_name,
            progress=progress,
            on_step=on_step,
        )
    except Exception as exc:
        if not _is_oom(exc):
            raise
        message = str(exc).splitlines()[0][:300]
    # Outside the handler the failed run's frames (model, optimizer) are gone; give the
    # memory back before the caller tries the next recipe.
    import gc

    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    raise TrainingOOM(
        f"out of memory while training (estimate was {estimate.total / GIB:.1f} GiB per "
        f"device): {message}"
    )


def _train(
    accelerator: Any,
    base_model: str | Path,
    encoded: Sequence[Encoded],
    out: Path,
    config: TrainConfig,
    estimate: MemoryEstimate,
    *,
    base_model_name: str | None,
    progress: bool,
    on_step: Callable[[int, float], None] | None,
) -> TrainResult:
    import torch
    from peft import LoraConfig, get_peft_model, set_peft_model_state_dict
    from safetensors.torch import load_file
    from tqdm.auto import tqdm
    from transformers import get_scheduler

    cuda = accelerator.device.type == "cuda"
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    model, tokenizer = load_base(
        base_model, config, cuda, device_index=accelerator.local_process_index
    )
    checkpointing = estimate.gradient_checkpointing
    if config.quantization == "4bit":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(
            model,
            use_gradient_checkpointing=checkpointing,
            gradient_checkpointing_kwargs={"use_reentrant": False},
        )
    elif checkpointing:
        # Non-reentrant checkpointing gives LoRA gradients without forcing the frozen
        # embeddings' output to require grad.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    lora = LoraConfig(
        r=config.lora.rank,
        lora_alpha=config.lora.alpha,
        lora_dropout=config.lora.dropout,
        target_modules=list(config.lora.target_modules),
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    model.peft_config["default"].base_model_name_or_path = base_model_name or str(base_model)

    lengths = [len(e.input_ids) for e in encoded]
    per_epoch = math.ceil(math.ceil(len(encoded) / config.batch_size) / accelerator.num_processes)
    per_epoch = max(1, math.ceil(per_epoch / config.grad_accum))
    total = per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = get_scheduler(
        config.scheduler,
        optimizer,
        num_warmup_steps=config.warmup_steps,
        num_training_steps=total,
    )
    model, optimizer = accelerator.prepare(model, optimizer)
    if _is_fsdp(accelerator):  # FSDP replaces the parameters it wraps
        params = [p for p in model.parameters() if p.requires_grad]

    step, start_epoch, skip = 0, 0, 0
    checkpoint = _latest_checkpoint(out)
    if checkpoint is not None:
        state = torch.load(checkpoint / STATE_FILE, weights_only=False)
        weights = load_file(str(checkpoint / "adapter" / "adapter_model.safetensors"))
        set_peft_model_state_dict(accelerator.unwrap_model(model), weights)
        optimizer.load_state_dict(_optimizer_state(checkpoint, state, accelerator))
        scheduler.load_state_dict(state["scheduler"])
        step, start_epoch, skip = state["step"], state["epoch"], state["batches_in_epoch"]
        random.setstate(state["rng_python"])
        torch.set_rng_state(state["rng_torch"])
        if cuda and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state_all(state["rng_cuda"])
    resumed_from = step
    log_path = out / "loss.jsonl"
    if accelerator.is_main_process:
        _trim_log(log_path, step)

    def save_checkpoint(epoch: int, batches_in_epoch: int) -> None:
        adapter_state = _adapter_state(accelerator, model)
        accelerator.wait_for_everyone()
        final = out / "checkpoints" / f"step-{step:07d}"
        if accelerator.num_processes > 1 and _is_fsdp(accelerator):
            # Each rank's optimizer shard; a resume with the same world size reads its own.
            final.mkdir(parents=True, exist_ok=True)
            rank = accelerator.process_index
            torch.save(optimizer.state_dict(), final / f"optimizer.rank{rank}.pt")
            accelerator.wait_for_everyone()
        if not accelerator.is_main_process:
            return

        def write(tmp: Path) -> None:
            for shard in final.glob("optimizer.rank*.pt") if final.is_dir() else []:
                shutil.move(shard, tmp / shard.name)
            accelerator.unwrap_model(model).save_pretrained(
                tmp / "adapter", state_dict=adapter_state
            )
            torch.save(
                {
                    "step": step,
                    "epoch": epoch,
                    "batches_in_epoch": batches_in_epoch,
                    "optimizer": None if _is_fsdp(accelerator) else optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "rng_python": random.getstate(),
                    "rng_torch": torch.get_rng_state(),
                    "rng_cuda": torch.cuda.get_rng_state_all() if cuda else None,
                },
                tmp / STATE_FILE,
            )

        _atomic_dir(final, write)
        done = sorted((out / "checkpoints").glob("step-*"))
        for old in done[: -max(1, config.keep_checkpoints)]:
            shutil.rmtree(old, ignore_errors=True)

    pad_id = tokenizer.pad_token_id
    bar = tqdm(
        total=total,
        initial=step,
        desc="lora",
        unit="step",
        disable=not progress or not accelerator.is_main_process,
    )
    tokens = loss_tokens = padded = 0
    first_loss = final_loss = None
    model.train()
    if cuda:
        torch.cuda.reset_peak_memory_stats(accelerator.device)
    started = time.perf_counter()
    with JsonlWriter(log_path) as log:
        for epoch in range(start_epoch, config.epochs):
            if step >= total:
                break
            batches = epoch_batches(
                lengths,
                config.batch_size,
                seed=config.seed,
                epoch=epoch,
                group_by_length=config.group_by_length,
            )
            loader: Any = torch.utils.data.DataLoader(
                # A list is a map-style dataset (len and getitem); torch's stub asks for Dataset.
                list(range(len(encoded))),  # type: ignore[arg-type]
                batch_sampler=batches,
                collate_fn=lambda idx: collate([encoded[i] for i in idx], pad_id),
                # Its own generator: iterating a loader draws a seed, and from the global RNG
                # that draw would shift dropout masks between a resumed and a straight run.
                generator=torch.Generator().manual_seed(config.seed + epoch),
            )
            loader = accelerator.prepare(loader)
            seen = skip if epoch == start_epoch else 0
            if seen:
                loader = accelerator.skip_first_batches(loader, seen)
            for window in _windows(loader, config.grad_accum):
                # Every response token of the step weighs the same: each micro-batch's summed
                # token loss is divided by the step's token count over all processes (and
                # multiplied back by the process count, which gradient averaging divides out).
                local = sum(int((b["labels"][:, 1:] != IGNORE).sum()) for b in window)
                count = accelerator.reduce(
                    torch.tensor(local, device=accelerator.device), reduction="sum"
                )
                step_loss = torch.zeros((), device=accelerator.device)
                for j, batch in enumerate(window):
                    last = j == len(window) - 1
                    with contextlib.nullcontext() if last else accelerator.no_sync(model):
                        loss = model(**batch, num_items_in_batch=count).loss
                        accelerator.backward(loss * accelerator.num_processes)
                    step_loss += loss.detach().float()
                    tokens += int(batch["attention_mask"].sum())
                    padded += batch["attention_mask"].numel()
                    loss_tokens += int((batch["labels"] != IGNORE).sum())
                if config.max_grad_norm:
                    accelerator.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                seen += len(window)
                step += 1
                value = float(accelerator.reduce(step_loss, reduction="sum"))
                first_loss = value if first_loss is None else first_loss
                final_loss = value
                if accelerator.is_main_process:
                    record = {
                        "step": step,
                        "epoch": epoch,
                        "loss": value,
                        "loss_tokens": int(count),
                        "lr": scheduler.get_last_lr()[0],
                        "tokens": tokens,  # cumulative non-padding tokens (this process)
                        "elapsed_s": time.perf_counter() - started,
                    }
                    log.write(record)
                bar.update(1)
                bar.set_postfix(loss=f"{value:.3f}")
                if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
                    save_checkpoint(epoch, seen)
                if on_step is not None:
                    on_step(step, value)
                if step >= total:
                    break
            skip = 0
    bar.close()
    elapsed = time.perf_counter() - started
    adapter_dir = out / "adapter"
    adapter_state = _adapter_state(accelerator, model)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _atomic_dir(
            adapter_dir,
            lambda tmp: accelerator.unwrap_model(model).save_pretrained(
                tmp, state_dict=adapter_state
            ),
        )
        tokenizer.save_pretrained(out / "tokenizer")
    result = TrainResult(
        adapter_dir=str(adapter_dir),
        steps=step,
        resumed_from=resumed_from,
        first_loss=first_loss,
        final_loss=final_loss,
        tokens=tokens,
        loss_tokens=loss_tokens,
        padded_tokens=padded,
        train_s=elapsed,
        tokens_per_s=tokens / elapsed if elapsed > 0 else 0.0,
        device=str(accelerator.device),
        processes=accelerator.num_processes,
        gradient_checkpointing=estimate.gradient_checkpointing,
        quantization=config.quantization,
        estimated_bytes=estimate.total,
        peak_bytes=torch.cuda.max_memory_allocated(accelerator.device) if cuda else None,
    )
    if accelerator.is_main_process:
        write_bytes_atomic(out / "train_result.json", msgspec.json.encode(result))
    return result


def _adapter_state(accelerator: Any, model: Any) -> dict[str, Any] | None:
    """The adapter's weights, gathered from every rank under FSDP (a collective call there);
    None elsewhere, where PEFT reads them from the model itself."""
    if not _is_fsdp(accelerator):
        return None
    from peft import get_peft_model_state_dict

    full = accelerator.get_state_dict(model)
    return get_peft_model_state_dict(accelerator.unwrap_model(model), state_dict=full)


def _optimizer_state(checkpoint: Path, state: dict[str, Any], accelerator: Any) -> Any:
    import torch

    if state.get("optimizer") is not None:
        return state["optimizer"]
    shard = checkpoint / f"optimizer.rank{accelerator.process_index}.pt"
    if not shard.is_file():
        raise ValueError(
            f"{checkpoint} was written by a different number of processes (no {shard.name}); "
            "resume with the same world size"
        )
    return torch.load(shard, weights_only=False)


def _trim_log(path: Path, step: int) -> None:
    """Drops loss records past `step` (written after the checkpoint a run resumes from)."""
    if path.exists():
        records: list[dict[str, Any]] = read_jsonl(path).records
        write_jsonl(path, [r for r in records if r["step"] <= step])


def read_loss_log(out_dir: str | Path) -> list[dict[str, Any]]:
    """The loss records of a run, one per optimizer step (a torn last line is skipped)."""
    return read_jsonl(Path(out_dir) / "loss.jsonl", missing_ok=True).records


def plot_loss(out_dir: str | Path, png: str | Path | None = None, *, title: str = "") -> Path:
    """Writes the loss curve of a run (default `out_dir/loss.png`) and returns its path."""
    # A bare Figure draws with the Agg canvas without touching pyplot's global backend.
    from matplotlib.figure import Figure

    records = read_loss_log(out_dir)
    target = Path(png) if png else Path(out_dir) / "loss.png"
    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    ax.plot([r["step"] for r in records], [r["loss"] for r in records], marker=".", lw=1)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("response-token loss")
    ax.set_title(title or "LoRA training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(target, dpi=100)
    return target
