"""The vLLM server for Loop 2: one base model, the specialist as a LoRA adapter per request.

Loop 2 loads each trial's adapter into the running server (`attach_adapter`), so the server
needs LoRA enabled from the start, a `--max-lora-rank` at least every recipe's rank, and
runtime updating allowed. `serve_config_for` derives those from the recipes (and any adapters
given at start), so a recipe can never ask for a rank the server would refuse.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec
from automem_agent.models import VLLM_LORA_RANKS, VLLMServeConfig

from automem_train._recipe import Recipe


def served_lora_rank(ranks: Iterable[int]) -> int:
    """The smallest rank vLLM accepts for `--max-lora-rank` that covers every rank given."""
    need = max(ranks, default=1)
    for rank in VLLM_LORA_RANKS:
        if rank >= need:
            return rank
    raise ValueError(f"LoRA rank {need} is above vLLM's largest ({VLLM_LORA_RANKS[-1]})")


def adapter_rank(path: str | Path) -> int:
    """The rank in a PEFT adapter's `adapter_config.json`."""
    config = Path(path) / "adapter_config.json"
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["r"])
    except (OSError, KeyError, ValueError) as exc:
        raise ValueError(f"{config}: not a PEFT LoRA adapter config ({exc})") from None


def run_recipes(run_dir: str | Path) -> list[Recipe]:
    """The recipes a Loop 2 run has used or will start from: its default and every trial's."""
    run = Path(run_dir)
    out: list[Recipe] = []
    default, legacy = run / "recipe.json", run / "config.json"  # config.json: older runs
    if default.is_file():
        out.append(msgspec.json.decode(default.read_bytes(), type=Recipe))
    elif legacy.is_file():
        raw = json.loads(legacy.read_text(encoding="utf-8"))
        if isinstance(raw.get("default_recipe"), dict):
            out.append(msgspec.convert(raw["default_recipe"], type=Recipe))
    for path in sorted(run.glob("trials/*/recipe.json")):
        out.append(msgspec.json.decode(path.read_bytes(), type=Recipe))
    return out


def serve_config_for(
    base: VLLMServeConfig,
    recipes: Iterable[Recipe] = (),
    *,
    adapters: Mapping[str, str] | None = None,
    runtime: bool = True,
    max_lora_rank: int | None = None,
) -> VLLMServeConfig:
    """`base` with the LoRA settings Loop 2 needs.

    `--max-lora-rank` covers the recipes, the adapters and `max_lora_rank` (a cap proposals
    will be held to); `--max-loras` fits every adapter at start in one batch; `runtime` turns on
    loading adapters while the server runs.
    """
    adapters = dict(base.adapters) | dict(adapters or {})
    ranks = [r.train.lora.rank for r in recipes]
    # An adapter not on disk yet is refused when the server starts; its rank cannot count here.
    ranks += [
        adapter_rank(p) for p in adapters.values() if (Path(p) / "adapter_config.json").is_file()
    ]
    if max_lora_rank is not None:
        ranks.append(max_lora_rank)
    return msgspec.structs.replace(
        base,
        adapters=adapters,
        max_lora_rank=served_lora_rank(ranks) if ranks else base.max_lora_rank,
        max_loras=max(base.max_loras, len(adapters), 1),
        runtime_lora=runtime or base.runtime_lora,
    )
