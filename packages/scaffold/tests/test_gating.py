"""Gating (issue 15) in a whole Loop 1 run on real Crafter seeds: a scripted agent that follows
the scaffold's strategy line, a replay meta-LLM whose first revision adds that line (good) and
whose second deletes it again (clearly worse). The screen must reject the second without its
full evaluation; the three seed pools must stay disjoint and out of the reviewer's reach."""

from __future__ import annotations

import asyncio
import json
from functools import partial
from pathlib import Path

import msgspec
import pytest
from automem_agent import ScriptedModel
from automem_agent.meta import ToolError
from automem_agent.models import ReplayModel
from automem_scaffold import (
    EvolveConfig,
    ReviewWorkspace,
    SeedPools,
    check_disjoint,
    evolve,
    read_decisions,
    seed_pools,
)
from test_evolve_policies import STRATEGY_LINE, agent_policy, meta_tool_call

_call = partial(meta_tool_call, model="claude-opus-4-5", input_tokens=100, output_tokens=10)


def _replay(path: Path) -> Path:
    entries = [
        _call(1, "insert", path="candidate/prompts/system.md", line=0, content=STRATEGY_LINE),
        _call(2, "finish", rationale="The agent idles; tell it to collect wood."),
        _call(3, "str_replace", path="candidate/prompts/system.md", old=STRATEGY_LINE, new=""),
        _call(4, "finish", rationale="Shorter prompt."),
    ]
    path.write_bytes(b"".join(msgspec.json.encode(e) + b"\n" for e in entries))
    return path


@pytest.mark.slow
def test_screen_rejects_worse_candidate_and_pools_stay_apart(tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=2,
        accept_seeds=2,
        held_out=1,
        max_steps=24,
        iterations=2,
        agent_llm="scripted:test_evolve_policies:agent_policy",
        meta_llm=f"replay:{tmp_path / 'meta.jsonl'}",
        review_turns=4,
        repair_attempts=0,
        attempts=1,  # one attempt per iteration: this test follows each replayed reply
        continuations=0,
        screen_seeds=1,
        screen_max_steps=12,
        screen_margin=0.0,
    )
    agent = ScriptedModel(agent_policy, name="scripted-agent")
    meta = ReplayModel(_replay(tmp_path / "meta.jsonl"))
    summary = asyncio.run(evolve(config, agent_model=agent, meta_model=meta))

    decisions = read_decisions(run)
    first, second = decisions[1], decisions[2]
    # The good revision passed the screen and was kept on the accept pool.
    assert first.kept and first.stage == "gate" and first.screen is not None
    assert not first.screen.rejected
    assert set(first.accept) == {"crafter__44", "crafter__45"}
    assert first.gate is not None and set(first.gate.deltas) == set(first.accept)
    # The bad one is stopped at the screen, which records its size and rule ...
    assert not second.kept and second.stage == "screen"
    record = json.loads((run / "iterations" / "002" / "decision.json").read_text())
    assert record["screen"]["episodes"] == ["crafter__42"]
    assert record["screen"]["max_steps"] == 12 and record["screen"]["margin"] == 0.0
    assert record["screen"]["candidate_mean"] < record["screen"]["incumbent_mean"]
    # ... and never plays its full evaluation; the ledger shows what that saved.
    it2 = run / "iterations" / "002"
    assert not (it2 / "eval").exists() and not (it2 / "accept").exists()
    full = json.loads((run / "iterations" / "001" / "evaluation.json").read_text())["calls"]
    full += json.loads((run / "iterations" / "001" / "accept" / "evaluation.json").read_text())[
        "calls"
    ]
    costs = json.loads((run / "costs.json").read_text())
    assert costs["screen_saved_calls"] == full > 0
    assert {e["phase"] for e in costs["entries"]} >= {"screen", "accept", "report-start"}
    assert summary.screen is not None and summary.screen.rejected == 1
    assert "GPU-hours" in (run / "report.md").read_text()

    # Report pool: played by the start and the final scaffold; gaps are stated.
    assert summary.heldout_episodes == ["crafter__46"]
    assert summary.report_start_mean is not None and summary.heldout_mean is not None
    assert summary.accept_report_gap is not None
    assert summary.rows[1].search_accept_gap is not None
    assert "search-accept gap" in (run / "report.md").read_text()

    # The reviewer's bundle (iteration 1's, reviewed for iteration 2) holds search traces only,
    # and its tools cannot climb out to the accept or report traces.
    bundle = run / "iterations" / "001" / "bundle"
    traces = sorted(p.name for p in (bundle / "traces").iterdir() if p.suffix == ".txt")
    assert traces == ["crafter__42.txt", "crafter__43.txt"]
    assert sorted(p.name for p in (bundle / "raw").iterdir()) == [
        "crafter__42.jsonl",
        "crafter__43.jsonl",
    ]
    assert sorted(p.name for p in (bundle / "memory" / "crafter").iterdir()) == ["42", "43"]
    text = "".join(p.read_text() for p in bundle.rglob("*") if p.is_file())
    assert "crafter__44" not in text and '"seed":44' not in text and '"seed": 44' not in text
    workspace = ReviewWorkspace(bundle, tmp_path / "candidate")
    tools = {t.name: t for t in workspace.tools()}
    accept = run / "iterations" / "001" / "accept" / "eval" / "crafter" / "44.jsonl"
    assert accept.exists()
    for path in (
        "bundle/../accept/eval/crafter/44.jsonl",
        "bundle/../../heldout/eval/crafter/46.jsonl",
        str(accept),
        "../accept/eval/crafter/44.jsonl",
    ):
        for name in ("read", "tail", "count", "list"):
            with pytest.raises(ToolError):
                tools[name].handler({"path": path})
        with pytest.raises(ToolError):
            tools["grep"].handler({"pattern": "step", "path": path})
    for name, args in [
        ("index", {"episode": "crafter__44"}),
        ("view", {"episode": "crafter__44", "start": 0}),
        ("prompts", {"episode": "crafter__44", "step": 0}),
        ("dry_run", {"episode": "crafter__44", "start": 0}),
    ]:
        with pytest.raises(ToolError, match="no episode"):
            result = tools[name].handler(args)
            if asyncio.iscoroutine(result):
                asyncio.run(result)
    # The sandboxed analysis sees the bundle only: the accept trace is not there to open.
    peek = tools["python"].handler({"code": f"print(open({str(accept)!r}).read()[:50])"})
    assert "No such file" in peek or "Permission" in peek, peek
    assert library_names(tools) == "['crafter__42', 'crafter__43']"


def library_names(tools: dict) -> str:
    return tools["python"].handler({"code": "print(library.names)"}).strip()


def test_pools_are_disjoint_consecutive_blocks(tmp_path: Path) -> None:
    config = EvolveConfig(
        run_dir=str(tmp_path), envs=["crafter"], seeds=3, accept_seeds=4, held_out=2
    )
    pools = seed_pools(config)
    assert [e.seed for e in pools.search] == [42, 43, 44]
    assert [e.seed for e in pools.accept] == [45, 46, 47, 48]
    assert [e.seed for e in pools.report] == [49, 50]
    assert pools.gate == pools.accept
    paper = seed_pools(msgspec.structs.replace(config, accept_seeds=0))
    assert paper.accept == [] and paper.gate == paper.search
    with pytest.raises(Exception, match="both the search and the report pool"):
        check_disjoint(SeedPools(search=pools.search, accept=[], report=pools.search[:1]))
