"""Loop 2 training throughput: our LoRA trainer against plain TRL `SFTTrainer` (the baseline),
on the tiny model and SmolLM2-135M (CPU, and GPU when one is present), on the same pre-tokenised
data with the same LoRA settings, batch and accumulation, in the same run. It also shows the
share of tokens that carry loss and what length-grouped batching saves in padding.

    uv run tools/bench_train.py [--examples 32] [--epochs 2] [--models tiny,smollm2]

tokens/s counts real (non-padding) tokens through forward and backward per wall second of the
training loop (model loading excluded), over whole epochs so both trainers see every token.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

from automem_train import (
    ExampleFeatures,
    LoraSettings,
    MemoryExample,
    TrainConfig,
    build_training_set,
    read_loss_log,
    train_lora,
)

WORDS = [
    "tree",
    "water",
    "stone",
    "wood",
    "table",
    "pickaxe",
    "zombie",
    "north",
    "south",
    "east",
    "west",
    "sapling",
    "coal",
]


def synthetic_examples(n: int, seed: int = 0) -> list[MemoryExample]:
    """Memory turns with realistic spread: contexts of 1-12 observation lines, short or long
    responses, like LOG turns early and late in an episode."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lines = [" ".join(rng.choices(WORDS, k=12)) for _ in range(rng.randint(1, 12))]
        response = "<|APPEND|> path=/log.md\n" + " ".join(rng.choices(WORDS, k=rng.randint(4, 40)))
        response += "\n<|/APPEND|>\n<|DONE|>"
        out.append(
            MemoryExample(
                id=str(i),
                env_id="crafter",
                seed=1000 + i,
                step=i,
                phase="log",
                round=1,
                role="memory",
                messages=[
                    {"role": "system", "content": "You keep notes in files."},
                    {"role": "user", "content": "\n".join(lines)},
                ],
                response=response,
                features=ExampleFeatures(),
            )
        )
    return out


def model_path(name: str) -> Path:
    if name == "tiny":
        from automem_agent.models import build_tiny_model

        return build_tiny_model()
    from automem_agent.models import smollm2_path

    return smollm2_path()


def run_ours(path: Path, data, config: TrainConfig, device: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        r = train_lora(path, data.encoded, tmp, config, progress=False, cpu=device == "cpu")
        log = read_loss_log(tmp)
    return {
        "tokens_per_s": r.tokens / r.train_s if r.train_s else 0.0,
        "pad_share": 1 - r.tokens / r.padded_tokens if r.padded_tokens else 0.0,
        "loss_share": r.loss_tokens / r.tokens if r.tokens else 0.0,
        "steps": r.steps,
        "final_loss": log[-1]["loss"] if log else None,
    }


def run_trl(path: Path, data, config: TrainConfig, device: str, pad_id: int) -> dict:
    from trl_baseline import train_with_trl

    r = train_with_trl(str(path), data.encoded, config, cpu=device == "cpu", pad_id=pad_id)
    return {
        "tokens_per_s": r["tokens_per_s"],
        "pad_share": None,  # TRL's collator pads each batch to its longest, like ours (random)
        "loss_share": r["loss_tokens"] / r["tokens"] if r["tokens"] else 0.0,
        "steps": r["steps"],
        "final_loss": r["final_loss"],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", default="tiny,smollm2")
    p.add_argument("--examples", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2, help="whole epochs (tiny model)")
    p.add_argument("--smollm2-epochs", type=int, default=1)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--grad-accum", type=int, default=2)
    args = p.parse_args()
    import torch
    from transformers import AutoTokenizer

    sys.path.insert(0, str(Path(__file__).parent))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    examples = synthetic_examples(args.examples)
    rows = []
    for name in args.models.split(","):
        path = model_path(name)
        tokenizer = AutoTokenizer.from_pretrained(path)
        data = build_training_set(examples, tokenizer, max_length=2048)
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        for device in devices:
            config = TrainConfig(
                lora=LoraSettings(rank=16, alpha=32, dropout=0.0),
                learning_rate=1e-4,
                epochs=args.smollm2_epochs if name == "smollm2" else args.epochs,
                batch_size=args.batch,
                grad_accum=args.grad_accum,
                checkpoint_every=0,
                max_length=2048,
            )
            trl = run_trl(path, data, config, device, pad_id)
            random_order = run_ours(
                path, data, TrainConfig(**{**_fields(config), "group_by_length": False}), device
            )
            grouped = run_ours(path, data, config, device)
            rows.append((name, device, trl, random_order, grouped))
    head = (
        f"{'model':<8} {'device':<6} {'trainer':<22} {'steps':>5} {'tokens/s':>10} "
        f"{'padding':>8} {'loss share':>10} {'vs TRL':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, device, trl, random_order, grouped in rows:
        labelled = (
            ("TRL SFTTrainer", trl),
            ("ours, random order", random_order),
            ("ours, length-grouped", grouped),
        )
        for label, r in labelled:
            ratio = r["tokens_per_s"] / trl["tokens_per_s"] if trl["tokens_per_s"] else 0.0
            pad = "-" if r["pad_share"] is None else f"{r['pad_share']:.1%}"
            print(
                f"{name:<8} {device:<6} {label:<22} {r['steps']:>5} {r['tokens_per_s']:>10.1f} "
                f"{pad:>8} {r['loss_share']:>10.1%} {ratio:>6.2f}x"
            )


def _fields(config: TrainConfig) -> dict:
    return {f: getattr(config, f) for f in config.__struct_fields__}


if __name__ == "__main__":
    main()
