"""GPU check for Loop 2 (CUDA hosts only; on CPU it says so and exits 0).

Random-initialised Qwen2-architecture models built from config in the shapes of Qwen2.5-0.5B,
7B and 32B (no weights needed), then, in the same run:
- LoRA training tokens/s and peak memory with our trainer (`train_lora`) against a plain TRL
  `SFTTrainer` on the same pre-tokenised data and settings;
- the memory estimate printed before training, next to the measured peak;
- local-backend CUDA generation tokens/s (`LocalModel`) on the 0.5B shape.

    uv run tools/gpu_check.py [--shapes 0.5b,7b,32b] [--steps 6]

Sized for one H100/H200 in under 8 minutes. The 32B shape keeps Qwen2.5-32B's width (hidden,
MLP, heads, vocabulary) but only `--layers-32b` of its 64 layers, because its full random
weights (65 GB) would not fit this machine's disk, which `train_lora` loads from; per-layer
figures scale linearly.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _qwen2_shape(
    hidden: int, mlp: int, layers: int, heads: int, kv_heads: int, vocab: int, tied: bool
) -> dict:
    """The `Qwen2Config` fields that give a model its size."""
    return dict(
        hidden_size=hidden,
        intermediate_size=mlp,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv_heads,
        vocab_size=vocab,
        tie_word_embeddings=tied,
    )


# Qwen2.5's sizes: hidden, MLP, layers, heads, KV heads, vocabulary, tied embeddings.
SHAPES = {
    "0.5b": _qwen2_shape(896, 4864, 24, 14, 2, 151936, True),
    "7b": _qwen2_shape(3584, 18944, 28, 28, 4, 152064, False),
    "32b": _qwen2_shape(5120, 27648, 64, 40, 8, 152064, False),
}


def build(shape: str, out: Path, layers: int | None) -> Path:
    """A random-initialised bf16 Qwen2 model of `shape` saved under `out` (tokenizer: the
    tiny model's, whose ids fit every vocabulary here)."""
    import torch
    from automem_agent.models import build_tiny_model
    from transformers import AutoTokenizer, Qwen2Config, Qwen2ForCausalLM

    fields = dict(SHAPES[shape])
    if layers is not None:
        fields["num_hidden_layers"] = layers
    config = Qwen2Config(**fields, max_position_embeddings=32768, torch_dtype="bfloat16")
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Qwen2ForCausalLM(config).to(torch.bfloat16)
    target = out / shape
    model.save_pretrained(target, safe_serialization=True)
    AutoTokenizer.from_pretrained(build_tiny_model()).save_pretrained(target)
    del model
    torch.cuda.empty_cache()
    return target


def encoded_batch(n: int, length: int, vocab: int):
    """Random token sequences of `length` with the last third carrying loss (a memory turn's
    response after its context); the last token is the tiny tokenizer's <|im_end|>."""
    import random

    from automem_train import Encoded

    rng = random.Random(0)
    out = []
    for _ in range(n):
        ids = [rng.randrange(3, min(vocab, 500)) for _ in range(length - 1)] + [2]
        cut = length - length // 3
        out.append(Encoded(input_ids=ids, mask=[0] * cut + [1] * (length - cut)))
    return out


def train_rows(path: Path, shape: str, steps: int, length: int) -> list[tuple]:
    import torch
    from automem_train import LoraSettings, TrainConfig, estimate_memory, train_lora
    from transformers import AutoConfig
    from trl_baseline import train_with_trl

    config = TrainConfig(
        lora=LoraSettings(rank=16, alpha=32, dropout=0.0),
        batch_size=1,
        grad_accum=4,
        max_length=length,
        max_steps=steps,
        epochs=1,
        checkpoint_every=0,
    )
    data = encoded_batch(steps * 4, length, AutoConfig.from_pretrained(path).vocab_size)
    estimate = estimate_memory(AutoConfig.from_pretrained(path), config)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        torch.cuda.reset_peak_memory_stats()
        ours = train_lora(path, data, tmp, config, progress=False)
    torch.cuda.empty_cache()
    rows.append((shape, "ours", ours.tokens_per_s, ours.peak_bytes, estimate.total))
    trl = train_with_trl(str(path), data, config, cpu=False, pad_id=0)
    del trl["model"]
    torch.cuda.empty_cache()
    rows.append((shape, "TRL SFTTrainer", trl["tokens_per_s"], trl["peak_bytes"], None))
    return rows


def generation_rate(path: Path, tokens: int = 256, requests: int = 8) -> float:
    from automem_agent import ChatMessage, ChatRequest
    from automem_agent.models import LocalModel

    model = LocalModel(path, name="gpu-check")
    request = ChatRequest(
        messages=[ChatMessage(role="user", content="obs: trees to the north")],
        max_tokens=tokens,
        temperature=0.0,
    )

    async def many():
        return await asyncio.gather(*(model.complete(request) for _ in range(requests)))

    asyncio.run(model.complete(request))  # warm-up
    start = time.perf_counter()
    replies = asyncio.run(many())
    elapsed = time.perf_counter() - start
    made = sum(r.output_tokens for r in replies) or tokens * requests
    return made / elapsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--shapes", default="0.5b,7b,32b")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--length", type=int, default=2048)
    p.add_argument("--layers-32b", type=int, default=8)
    args = p.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; skipped (run it on a GPU host).")
        return 0
    sys.path.insert(0, str(Path(__file__).parent))
    gib = 2**30
    rows, gen = [], None
    work = Path(tempfile.mkdtemp(prefix="automem-gpu-check-"))
    try:
        for shape in args.shapes.split(","):
            layers = args.layers_32b if shape == "32b" else None
            path = build(shape, work, layers)
            rows += train_rows(path, shape, args.steps, args.length)
            if shape == "0.5b":
                gen = generation_rate(path)
            shutil.rmtree(path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"device: {torch.cuda.get_device_name(0)}")
    head = f"{'shape':<6} {'trainer':<16} {'tokens/s':>10} {'peak GiB':>9} {'est. GiB':>9} {'vs TRL':>7}"
    print(head)
    print("-" * len(head))
    for i in range(0, len(rows), 2):
        trl_rate = rows[i + 1][2]
        for shape, trainer, rate, peak, est in rows[i : i + 2]:
            peak_s = "-" if peak is None else f"{peak / gib:.1f}"
            est_s = "-" if est is None else f"{est / gib:.1f}"
            ratio = rate / trl_rate if trl_rate else 0.0
            print(f"{shape:<6} {trainer:<16} {rate:>10.0f} {peak_s:>9} {est_s:>9} {ratio:>6.2f}x")
    if "32b" in args.shapes:
        print(f"(32b: Qwen2.5-32B width, {args.layers_32b} of 64 layers)")
    if gen is not None:
        print(f"local backend generation, 0.5b shape, 8 concurrent requests: {gen:.0f} tokens/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
