"""Loop 2's data engine attributes writes with Loop 1's bounded `attribute` tool, over a pool
collected by automem-scaffold's scripted agent whose play depends on exactly one memory write."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from attribution_policies import KEY_STEP  # a test helper of automem-scaffold

ATTRIBUTING_META = """
import json

def meta(request):
    last = request.messages[-1].content
    if not any(m.role == "assistant" for m in request.messages):
        args = {"episode": "crafter__1000", "steps": [KEY_STEP], "horizon": 24}
        return '<tool name="attribute">' + json.dumps(args) + '</tool>'
    return '<tool name="finish">' + json.dumps({"rationale": last[-1500:]}) + '</tool>'
"""


@pytest.mark.slow
def test_loop2_data_engine_attributes_writes_of_its_pool(tmp_path: Path, monkeypatch) -> None:
    """Loop 2 with `attribution_replays`: the data engine's session gets the `attribute` tool
    over the collected pool (replayed with the pool's model), and the plan counts it."""
    from automem_train import Loop2Config, format_loop2_plan, plan_loop2, run_loop2

    (tmp_path / "loop2_attr_meta.py").write_text(f"KEY_STEP = {KEY_STEP}\n" + ATTRIBUTING_META)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = Loop2Config(
        run_dir=str(tmp_path / "run"),
        envs=["crafter"],
        scaffold="v0",
        collect_llm="scripted:attribution_policies:key_policy",
        pool_episodes=1,
        collect_max_steps=30,
        trials=2,
        base_llm="tiny",
        meta_llm="scripted:loop2_attr_meta:meta",
        meta_turns=3,
        max_tokens=8,
        min_examples=1,
        max_train_steps=1,
        attribution_replays=1,
        attribution_horizon=24,
        evaluate=False,
        progress=False,
    )
    assert "1 replay(s) per proposal" in format_loop2_plan(plan_loop2(config))
    run_loop2(config)
    proposal = msgspec.json.decode(
        (tmp_path / "run" / "trials" / "001" / "proposal.json").read_bytes()
    )
    results = [c["result"] for t in proposal["transcript"]["turns"] for c in t["calls"]]
    assert any("notes.md" in r and "budget left: 0 replay(s)" in r for r in results), results
