"""Loop 2 training throughput: LoRA tokens/s on the tiny model and SmolLM2-135M (CPU, and GPU
when one is present), the share of tokens that carry loss, and length-grouped batching against
random-order batching (the baseline), measured in the same run on the same data.

    uv run tools/bench_train.py [--steps 6] [--examples 24] [--models tiny,smollm2]

tokens/s counts real (non-padding) tokens through forward and backward per wall second, from the
end of the first optimizer step (warm-up) to the last.
"""

from __future__ import annotations

import argparse
import random
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


def run(name: str, device: str, grouped: bool, steps: int, examples, batch: int) -> dict:
    from transformers import AutoTokenizer

    path = model_path(name)
    data = build_training_set(examples, AutoTokenizer.from_pretrained(path), max_length=2048)
    config = TrainConfig(
        lora=LoraSettings(rank=16, alpha=32, dropout=0.0),
        learning_rate=1e-4,
        epochs=100,
        batch_size=batch,
        max_steps=steps,
        checkpoint_every=0,
        group_by_length=grouped,
    )
    with tempfile.TemporaryDirectory() as tmp:
        r = train_lora(path, data.encoded, tmp, config, progress=False, cpu=device == "cpu")
        log = read_loss_log(tmp)
    # Steady state: from the end of the first step (warm-up, allocations) to the last.
    first, last = log[0], log[-1]
    rate = (last["tokens"] - first["tokens"]) / (last["elapsed_s"] - first["elapsed_s"])
    return {
        "tokens_per_s": rate,
        "pad_share": 1 - r.tokens / r.padded_tokens if r.padded_tokens else 0.0,
        "loss_share": r.loss_tokens / r.tokens if r.tokens else 0.0,
        "steps": r.steps,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--models", default="tiny,smollm2")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--smollm2-steps", type=int, default=3)
    p.add_argument("--examples", type=int, default=32)
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()
    import torch

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    examples = synthetic_examples(args.examples)
    rows = []
    for name in args.models.split(","):
        for device in devices:
            steps = args.smollm2_steps if name == "smollm2" and device == "cpu" else args.steps
            base = run(name, device, False, steps, examples, args.batch)
            grouped = run(name, device, True, steps, examples, args.batch)
            rows.append((name, device, base, grouped))
    head = (
        f"{'model':<8} {'device':<6} {'batching':<9} {'tokens/s':>10} {'padding':>8} "
        f"{'loss share':>10} {'vs random':>9}"
    )
    print(head)
    print("-" * len(head))
    for name, device, base, grouped in rows:
        for label, r in (("random", base), ("grouped", grouped)):
            ratio = r["tokens_per_s"] / base["tokens_per_s"] if base["tokens_per_s"] else 0.0
            print(
                f"{name:<8} {device:<6} {label:<9} {r['tokens_per_s']:>10.1f} "
                f"{r['pad_share']:>8.1%} {r['loss_share']:>10.1%} {ratio:>8.2f}x"
            )


if __name__ == "__main__":
    main()
