"""Train one adapter from selected examples; the entry point for multi-GPU runs.

    accelerate launch --num_processes 4 -m automem_train \\
        --examples runs/y/trials/002/examples.jsonl --base-model /models/Qwen2.5-32B-Instruct \\
        --recipe runs/y/trials/002/recipe.json --out runs/y/specialist

For a model that does not fit one GPU, shard it with the shipped FSDP + LoRA config:
`accelerate launch --config_file $(python -m automem_train --fsdp-config) ...`.

Every process tokenises the same examples and checks hygiene; accelerate shards the batches,
and only the main process writes checkpoints and the adapter.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from automem_train._dataset import build_training_set, eval_keys
from automem_train._examples import read_examples
from automem_train._loop_config import load_recipe
from automem_train._recipe import Recipe
from automem_train._trainer import plot_loss, train_lora

FSDP_CONFIG = Path(__file__).with_name("configs") / "fsdp_lora.yaml"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m automem_train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--fsdp-config", action="store_true", help="print the FSDP config's path")
    p.add_argument("--examples", action="append", default=[], help="examples JSONL; repeat")
    p.add_argument("--base-model", help="a local model directory")
    p.add_argument("--base-model-name", default=None, help="name recorded in adapter_config.json")
    p.add_argument("--out")
    p.add_argument("--recipe", default=None, help="recipe JSON (its `train` part is used)")
    p.add_argument("--suite", default="automem", help="suite whose seeds training must avoid")
    p.add_argument("--env", action="append", default=None)
    p.add_argument("--allow-eval-seeds", action="store_true")
    a = p.parse_args(argv)
    if a.fsdp_config:
        print(FSDP_CONFIG)
        return 0
    if not (a.examples and a.base_model and a.out):
        p.error("--examples, --base-model and --out are required")
    from automem_envs import suite as builtin_suite
    from transformers import AutoTokenizer

    recipe = load_recipe(a.recipe) if a.recipe else Recipe()
    examples = [e for path in a.examples for e in read_examples(path)]
    data = build_training_set(
        examples,
        AutoTokenizer.from_pretrained(a.base_model),
        max_length=recipe.train.max_length,
        eval_episodes=eval_keys(builtin_suite(a.suite, envs=a.env)),
        allow_eval_seeds=a.allow_eval_seeds,
    )
    print(data.report.table(), flush=True)
    result = train_lora(
        a.base_model, data.encoded, a.out, recipe.train, base_model_name=a.base_model_name
    )
    plot_loss(a.out)
    print(
        f"adapter: {result.adapter_dir} ({result.steps} steps, {result.tokens_per_s:.0f} tokens/s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
