"""Serve the base model and the memory specialist from one vLLM server (GPU hosts):
`uv run apps/serve --adapter memory=runs/y/adapter --tensor-parallel-size 2 [--dry-run]`.
For a Loop 2 run that loads each trial's adapter while the server runs:
`uv run apps/serve --run-dir runs/y [--recipe r.json]` (LoRA on, rank from the recipes,
VLLM_ALLOW_RUNTIME_LORA_UPDATING=True). Arguments after `--` go to `vllm serve` unchanged."""

import argparse
import sys

from automem_agent.models import VLLMServeConfig, serve_vllm
from automem_train import Recipe, load_recipe, run_recipes, serve_config_for


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    d = VLLMServeConfig()
    p = argparse.ArgumentParser(prog="apps/serve", description=__doc__)
    p.add_argument("model", nargs="?", default=d.model, help="base model name or directory")
    p.add_argument(
        "--adapter",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="LoRA adapter loaded at start; repeatable",
    )
    p.add_argument("--run-dir", default=None, help="Loop 2 run whose adapters load at run time")
    p.add_argument(
        "--recipe", action="append", default=[], help="recipe JSON whose rank must be served"
    )
    p.add_argument(
        "--runtime-lora", action="store_true", help="adapters will be loaded while it runs"
    )
    p.add_argument("--served-model-name", default=None, help="name clients use for the base model")
    p.add_argument("--tensor-parallel-size", type=int, default=d.tensor_parallel_size)
    p.add_argument("--max-model-len", type=int, default=d.max_model_len)
    p.add_argument(
        "--max-lora-rank",
        type=int,
        default=None,
        help="default: the smallest vLLM rank covering the recipes and adapters",
    )
    p.add_argument("--max-loras", type=int, default=d.max_loras)
    p.add_argument("--gpu-memory-utilization", type=float, default=None)
    p.add_argument("--host", default=d.host)
    p.add_argument("--port", type=int, default=d.port)
    p.add_argument("--dry-run", action="store_true", help="print the command and exit")
    a = p.parse_args(argv)
    adapters = {}
    for item in a.adapter:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            p.error(f"--adapter wants NAME=PATH, got {item!r}")
        adapters[name] = path
    runtime = a.runtime_lora or a.run_dir is not None or bool(a.recipe)
    try:
        recipes = [load_recipe(r) for r in a.recipe]
        if a.run_dir is not None:
            recipes += run_recipes(a.run_dir)
        if runtime and not recipes:
            recipes = [Recipe()]  # the rank a Loop 2 run starts from
        config = serve_config_for(
            VLLMServeConfig(
                model=a.model,
                served_model_name=a.served_model_name,
                tensor_parallel_size=a.tensor_parallel_size,
                max_model_len=a.max_model_len,
                max_loras=a.max_loras,
                gpu_memory_utilization=a.gpu_memory_utilization,
                host=a.host,
                port=a.port,
                extra_args=extra,
            ),
            recipes,
            adapters=adapters,
            runtime=runtime,
            max_lora_rank=a.max_lora_rank,
        )
        return serve_vllm(config, dry_run=a.dry_run)
    except ValueError as exc:
        p.error(str(exc))


if __name__ == "__main__":
    sys.exit(main())
