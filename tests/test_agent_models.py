"""The agent on real local models: the tiny model with a PEFT adapter in the memory role,
SmolLM2-135M end to end, and `apps/play` from the command line."""

from __future__ import annotations

import asyncio
import runpy
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs the local extra: uv sync --extra local")
pytest.importorskip("peft", reason="needs the local extra: uv sync --extra local")

from automem_agent import (
    RoleModels,
    builtin_scaffold,
    load_scaffold,
    memory_agent_factory,
    read_trace,
    run_suite,
)
from automem_agent.models import LocalModel, build_tiny_model
from automem_envs import EpisodeSpec, Suite

ROOT = Path(__file__).resolve().parents[1]


def _small_scaffold(tmp_path: Path, *, rounds: int, log_tokens: int, plan_tokens: int) -> Path:
    """v0 with fewer rounds and tokens, so a real model finishes a step in seconds."""
    dst = tmp_path / "small"
    shutil.copytree(builtin_scaffold("v0"), dst)
    toml = dst / "scaffold.toml"
    text = toml.read_text()
    # v0's [log] then [plan] budgets; fail here, not in a 4,096-token generation, if they move
    assert text.count("max_rounds = 5") == 2 and text.count("max_tokens = 4096") == 2
    text = text.replace("max_rounds = 5", f"max_rounds = {rounds}")
    text = text.replace("max_tokens = 4096", f"max_tokens = {log_tokens}", 1)
    text = text.replace("max_tokens = 4096", f"max_tokens = {plan_tokens}", 1)
    toml.write_text(text)
    return dst


@pytest.fixture(scope="module")
def tiny_adapter(tmp_path_factory):
    """A tiny random model and a LoRA adapter for it with random (so visible) weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    tiny_dir = build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2")
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny_dir),
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    )
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.copy_(torch.randn(param.shape, generator=gen))
    adapter = tmp_path_factory.mktemp("adapter") / "mem"
    peft_model.save_pretrained(adapter)
    return tiny_dir, adapter


@pytest.fixture(scope="module")
def tiny_with_adapter(tiny_adapter):
    tiny_dir, adapter = tiny_adapter
    return LocalModel(tiny_dir, name="tiny", adapters={"mem-lora": adapter})


def test_two_model_mode_switches_the_adapter_per_role(tmp_path, tiny_with_adapter):
    scaffold = load_scaffold(_small_scaffold(tmp_path, rounds=3, log_tokens=12, plan_tokens=12))
    model = tiny_with_adapter
    models = RoleModels(memory=model, action=model, memory_adapter="mem-lora")
    assert models.two_model
    suite = Suite(name="t", episodes=[EpisodeSpec(env_id="crafter", seed=1, max_steps=2)])
    result = asyncio.run(
        run_suite(suite, memory_agent_factory(scaffold, models), tmp_path / "run", progress=False)
    )
    (episode,) = result.episodes
    assert episode.status == "finished", episode.summary.error
    trace = read_trace(tmp_path / "run" / episode.trace)
    assert trace.header.adapters == {"memory": "mem-lora", "action": None}
    assert len(trace.steps) == 2
    for step in trace.steps:
        roles = [t.role for t in step.turns]
        assert roles[0] == "memory" and roles[-1] == "action"
        for turn in step.turns:
            want = ("mem-lora", "tiny+mem-lora") if turn.role == "memory" else (None, "tiny")
            assert (turn.adapter, turn.model) == want
            assert turn.input_tokens > 0 and turn.output_tokens > 0
        # The action role always answers with the whole shared conversation in front of it.
        action_turn = step.turns[-1]
        assert action_turn.messages[: len(step.turns[0].messages)] == step.turns[0].messages
    # Random weights never follow the syntax: the run goes on with fallbacks, counted.
    assert trace.summary.fallback_actions == sum(s.fallback for s in trace.steps)
    assert set(trace.summary.tokens) == {"memory", "action"}


@pytest.mark.slow
def test_smollm2_episode(tmp_path):
    from automem_agent.models import load_model

    # One round per phase and few tokens: two real generations per step keep this test short.
    scaffold = load_scaffold(_small_scaffold(tmp_path, rounds=1, log_tokens=24, plan_tokens=16))
    factory = memory_agent_factory(scaffold, RoleModels.single(load_model("smollm2")))
    suite = Suite(name="s", episodes=[EpisodeSpec(env_id="crafter", seed=42, max_steps=2)])
    result = asyncio.run(run_suite(suite, factory, tmp_path / "run", progress=False))
    (episode,) = result.episodes
    assert episode.status == "finished", episode.summary.error
    trace = read_trace(tmp_path / "run" / episode.trace)
    assert len(trace.steps) == 2 and trace.header.models == {
        "memory": "smollm2",
        "action": "smollm2",
    }
    for step in trace.steps:
        assert step.turns and all(t.response.strip() for t in step.turns)
        assert all(t.model == "smollm2" and t.latency_s > 0 for t in step.turns)
        assert step.executed_action  # whatever the model said, the game moved on
    assert result.families["crafter"].tokens_per_step > 100


def test_apps_play_runs_offline_and_resumes(tmp_path, capsys, monkeypatch, tiny_adapter):
    scaffold = _small_scaffold(tmp_path, rounds=2, log_tokens=8, plan_tokens=8)
    out = tmp_path / "play"
    argv = [
        "apps/play", "--env", "crafter", "--seeds", "1-2", "--agent-llm", "tiny", "--max-steps", "2",
        "--scaffold", str(scaffold), "--run-dir", str(out), "--no-progress",
        "--memory-adapter", f"mem={tiny_adapter[1]}",
    ]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(ROOT / "apps" / "play"), run_name="__main__")
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "crafter" in printed and "progress %" in printed and str(out) in printed
    assert sorted(p.name for p in (out / "eval" / "crafter").glob("*.jsonl")) == [
        "1.jsonl",
        "2.jsonl",
    ]
    assert (out / "results.json").is_file() and (out / "config.json").is_file()
    trace = read_trace(out / "eval" / "crafter" / "1.jsonl")
    assert trace.header.adapters == {"memory": "mem", "action": None}
    assert {(t.role, t.model) for s in trace.steps for t in s.turns} >= {
        ("memory", "tiny-qwen2+mem"),
        ("action", "tiny-qwen2"),
    }
    # The same command again finds both episodes done and plays nothing.
    before = {p: p.stat().st_mtime_ns for p in (out / "eval").rglob("*.jsonl")}
    with pytest.raises(SystemExit):
        runpy.run_path(str(ROOT / "apps" / "play"), run_name="__main__")
    assert {p: p.stat().st_mtime_ns for p in (out / "eval").rglob("*.jsonl")} == before
