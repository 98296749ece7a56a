"""A two-model evaluation episode: the trained adapter answers the memory role, the base model
acts, and the base-only agent runs on the same seed for comparison."""

from __future__ import annotations

import asyncio
import dataclasses

import _train_traces as _traces
from automem_agent import builtin_scaffold, load_scaffold, read_trace, with_sampling
from automem_agent.models import LocalModel, build_tiny_model
from automem_envs import EpisodeSpec, Suite
from automem_train import (
    LoraSettings,
    TrainConfig,
    attach_adapter,
    build_training_set,
    compare_specialist,
    extract_examples,
    train_lora,
)
from transformers import AutoTokenizer


def test_specialist_answers_memory_role_base_answers_action(tmp_path):
    base = build_tiny_model()
    _traces.write_trace(tmp_path / "pool.jsonl", seed=7)
    data = build_training_set(
        extract_examples(tmp_path / "pool.jsonl"), AutoTokenizer.from_pretrained(base)
    )
    config = TrainConfig(lora=LoraSettings(rank=4, alpha=8), learning_rate=1e-2, max_steps=3)
    trained = train_lora(base, data.encoded, tmp_path / "train", config, progress=False)

    model = LocalModel(base, name="tiny")
    attach_adapter(model, trained.adapter_dir)
    seen: list[tuple[str, str | None]] = []
    complete = model.complete

    async def spy(request):
        seen.append((request.purpose, request.adapter))
        return await complete(request)

    model.complete = spy  # type: ignore[method-assign]
    suite = Suite(name="t", episodes=[EpisodeSpec(env_id="crafter", seed=42, max_steps=2)])
    scaffold = load_scaffold(builtin_scaffold("v0"))
    # v0 allows 4,096 tokens per reply; the tiny model's noise fills them (minutes on CPU).
    scaffold = dataclasses.replace(
        scaffold, manifest=with_sampling(scaffold.manifest, max_tokens=24)
    )
    comparison = asyncio.run(
        compare_specialist(
            suite,
            scaffold,
            model,
            base_dir=tmp_path / "base",
            specialist_dir=tmp_path / "special",
            progress=False,
        )
    )
    assert set(comparison.base) == set(comparison.specialist) == {"crafter"}
    assert comparison.specialist["crafter"].episodes == 1
    assert "specialist" in comparison.table() and "write/search" in comparison.table()

    special = read_trace(tmp_path / "special" / "eval" / "crafter" / "42.jsonl")
    assert special.header.adapters == {"memory": "memory", "action": None}
    assert special.summary is not None and special.summary.status == "finished"
    plain = read_trace(tmp_path / "base" / "eval" / "crafter" / "42.jsonl")
    assert plain.header.adapters == {"memory": None, "action": None}
    # every memory-role request of the two-model run used the adapter, every action one not
    assert ("memory", "memory") in seen and ("action", None) in seen
    assert ("memory", None) in seen  # from the base-only run
    assert all(adapter is None for purpose, adapter in seen if purpose == "action")
    memory_turns = [t for s in special.steps for t in s.turns if t.role == "memory"]
    assert memory_turns and {t.phase for t in memory_turns} >= {"log"}
