"""Data-parallel training through accelerate: two CPU processes (gloo) train what one process
with twice the gradient accumulation trains, because the step loss is normalised by the token
count over all processes. FSDP itself needs GPUs; its shipped config is checked here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import _train_traces as _traces
import pytest
from automem_agent.models import build_tiny_model
from automem_train import extract_examples, read_loss_log, write_examples

RECIPE = (
    '{"train": {"batch_size": 1, "grad_accum": %d, "max_steps": 3, "checkpoint_every": 0,'
    ' "group_by_length": false, "lora": {"rank": 4, "alpha": 8, "dropout": 0.0}}}'
)


def _train(tmp: Path, name: str, processes: int, grad_accum: int, examples: Path) -> Path:
    recipe = tmp / f"{name}.json"
    recipe.write_text(RECIPE % grad_accum)
    out = tmp / name
    module = ["-m", "automem_train", "--examples", str(examples), "--base-model"]
    module += [str(build_tiny_model()), "--out", str(out), "--recipe", str(recipe)]
    module += ["--allow-eval-seeds"]
    if processes > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes)]
        cmd += ["--standalone", *module]
    else:
        cmd = [sys.executable, *module]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.slow
def test_two_processes_train_like_one_with_double_accumulation(tmp_path):
    for seed in (7, 8, 9):
        _traces.write_trace(tmp_path / "traces" / f"{seed}.jsonl", seed=seed)
    examples = tmp_path / "examples.jsonl"
    write_examples(examples, extract_examples(tmp_path / "traces"))
    one = _train(tmp_path, "one", 1, 2, examples)
    two = _train(tmp_path, "two", 2, 1, examples)
    a, b = read_loss_log(one), read_loss_log(two)
    assert [r["loss_tokens"] for r in a] == [r["loss_tokens"] for r in b]
    assert [r["loss"] for r in b] == pytest.approx([r["loss"] for r in a], rel=1e-4)
    assert (two / "adapter" / "adapter_model.safetensors").is_file()


def test_the_shipped_fsdp_config_shards_lora_training():
    from accelerate.commands.config.config_args import load_config_from_file

    path = subprocess.run(
        [sys.executable, "-m", "automem_train", "--fsdp-config"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    config = load_config_from_file(path)
    assert config.distributed_type == "FSDP"
    fsdp = config.fsdp_config
    assert fsdp["fsdp_sharding_strategy"] == "FULL_SHARD"
    assert fsdp["fsdp_use_orig_params"]  # frozen base + trainable LoRA in one unit
    assert fsdp["fsdp_auto_wrap_policy"] == "TRANSFORMER_BASED_WRAP"
    assert fsdp["fsdp_cpu_ram_efficient_loading"] and fsdp["fsdp_sync_module_states"]
