"""Grammar-constrained decoding end to end: SmolLM2 on llama.cpp plays 10 Crafter steps with the
`demo` scaffold; every turn parses and the episode runs real memory ops."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest
from automem_agent import builtin_scaffold, read_trace
from automem_envs._types import EpisodeSpec
from automem_scaffold._evaluate import evaluate

STEPS = 10


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("crafter") is None,
    reason="needs the 'llamacpp' extra of automem-agent and Crafter",
)
def test_every_smollm2_turn_parses_under_the_grammar(tmp_path: Path) -> None:
    from automem_agent.models import load_model

    model = load_model("llamacpp:smollm2", n_threads=1)
    spec = EpisodeSpec(env_id="crafter", seed=42, max_steps=STEPS)
    result = asyncio.run(evaluate(builtin_scaffold("demo"), [spec], tmp_path, model=model))
    assert not result.errored
    (trace_path,) = sorted((tmp_path / "eval").rglob("*.jsonl"))
    trace = read_trace(trace_path)
    assert len(trace.steps) == STEPS
    turns = [t for s in trace.steps for t in s.turns]
    assert turns and all(t.constrained for t in turns)
    unparsed = [t.response for t in turns if not t.parsed]
    assert not unparsed, unparsed[:3]
    assert trace.summary.parse_rate("log") == 1.0 and trace.summary.parse_rate("plan") == 1.0
    ok_writes = [r for t in turns for r in t.results if r.ok and r.op == "append"]
    assert len(ok_writes) >= STEPS  # the demo's LOG appends at least once per step
    assert all(s.valid_action for s in trace.steps)  # actions come from the env's list
    assert trace.steps[-1].memory_bytes > trace.steps[0].memory_bytes
