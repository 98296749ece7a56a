"""Loop 2 end to end on the tiny model: trials from a trace pool, a meta-LLM proposal, the
two-model evaluation, the ledger, the kept best recipe, and resume."""

from __future__ import annotations

import json

import _train_traces as _traces  # a test helper of automem-train
import pytest
from automem_train import (
    Composition,
    Loop2Config,
    Loop2Error,
    LoraSettings,
    Recipe,
    SelectionPolicy,
    TrainConfig,
    read_ledger,
    run_loop2,
)

META = """
import json

RECIPE = {"name": "writers",
          "policy": {"name": "writers", "code": "def select(e):\\n    return float(e.features.wrote)\\n"},
          "composition": {"log_share": None},
          "train": {"lora": {"rank": 4, "alpha": 8}, "learning_rate": 0.005, "max_steps": 2}}

def good(request):
    if not any(m.role == "assistant" for m in request.messages):
        return '<tool name="submit_recipe">' + json.dumps({"recipe": RECIPE}) + '</tool>'
    return '<tool name="finish">{"rationale": "train on turns that wrote"}</tool>'

def useless(request):
    return "I would like more wood."
"""


@pytest.mark.slow
def test_loop2_trials_ledger_best_and_resume(tmp_path, monkeypatch, capsys):
    (tmp_path / "loop2_meta.py").write_text(META)
    monkeypatch.syspath_prepend(str(tmp_path))
    _traces.write_trace(tmp_path / "pool" / "a.jsonl", seed=7)
    _traces.write_trace(tmp_path / "pool" / "b.jsonl", seed=8)
    default = Recipe(
        name="default",
        composition=Composition(log_share=None),
        train=TrainConfig(lora=LoraSettings(rank=4, alpha=8), learning_rate=5e-3, max_steps=2),
    )
    config = Loop2Config(
        run_dir=str(tmp_path / "run"),
        traces=[str(tmp_path / "pool")],
        envs=["crafter"],
        eval_seeds=[42],
        eval_max_steps=1,
        trials=2,
        base_llm="tiny",
        meta_llm="scripted:loop2_meta:good",
        default_recipe=default,
        min_examples=1,
        progress=False,
    )
    best = run_loop2(config)
    ledger = read_ledger(tmp_path / "run")
    assert [(r.index, r.proposer, r.status) for r in ledger] == [
        (0, "default", "ok"),
        (1, "meta", "ok"),
    ]
    assert ledger[1].recipe.name == "writers" and ledger[1].recipe.rationale
    # The two traces hold the same turns, so near-duplicate removal keeps one copy of each.
    assert ledger[1].dataset.examples == 2  # the two LOG turns that wrote
    assert ledger[1].dataset.removed == {"rejected by policy": 4, "near-duplicate": 2}
    assert ledger[0].dataset.examples == 2  # default policy: consult-first LOG + PLAN read
    assert all(r.comparison and r.comparison.specialist["crafter"].episodes == 1 for r in ledger)
    assert (
        best is not None
        and (tmp_path / "run" / "best" / "adapter" / "adapter_config.json").is_file()
    )
    assert json.loads((tmp_path / "run" / "best.json").read_text())["index"] == best.index
    assert (tmp_path / "run" / "loss.png").stat().st_size > 0
    out = capsys.readouterr().out
    assert "proposer" in out and "write/search" in out

    # Resume with one more trial and a meta-LLM that never proposes anything usable: finished
    # trials are not redone, and the new one falls back to the default recipe, saying why.
    trained = (tmp_path / "run" / "trials" / "000" / "train" / "train_result.json").stat().st_mtime
    more = config.with_overrides({"trials": 3, "meta_llm": "scripted:loop2_meta:useless"})
    run_loop2(more)
    ledger = read_ledger(tmp_path / "run")
    assert [r.proposer for r in ledger] == ["default", "meta", "fallback"]
    assert "no valid recipe" in ledger[2].note
    assert "same recipe as trial 0" in ledger[2].note  # the fallback is not trained again
    assert ledger[2].train == ledger[0].train
    assert not (tmp_path / "run" / "trials" / "002" / "train").exists()
    assert (
        tmp_path / "run" / "trials" / "000" / "train" / "train_result.json"
    ).stat().st_mtime == trained


def test_loop2_skips_traces_from_any_suite_seed(tmp_path, capsys):
    # Only seed 42 is played for evaluation here, but seed 43 is in the suite too: its turns are
    # skipped with one line, and with nothing left the run stops with a clear error.
    _traces.write_trace(tmp_path / "pool" / "a.jsonl", seed=43)
    config = Loop2Config(
        run_dir=str(tmp_path / "run"),
        traces=[str(tmp_path / "pool")],
        eval_seeds=[42],
        trials=1,
        base_llm="tiny",
        default_recipe=Recipe(policy=SelectionPolicy(name="all", builtin="all")),
        progress=False,
    )
    with pytest.raises(Loop2Error, match=r"no memory turns left .* once evaluation episodes"):
        run_loop2(config)
    out = capsys.readouterr().out
    assert "skipped 4 memory turns from 1 traces on evaluation seeds (crafter seed 43)" in out
    assert "skipped 4 memory turns" in (tmp_path / "run" / "train.log").read_text()


COLLECT = """
def demo_agent(request):
    if "LOG phase" in request.messages[-1].content:
        return "<|APPEND|>notes.md|key: grass all around<|END|><|DONE|>"
    return "<|ACTION|>noop<|END|>"
"""


@pytest.mark.slow
def test_loop2_collects_with_one_model_and_evaluates_another_unconstrained(tmp_path, monkeypatch):
    """The offline default's shape: a grammar-enforcing model plays the demo scaffold's pool,
    the transformers model (here tiny, which cannot enforce a grammar) is trained and then
    evaluated with free decoding."""
    from automem_agent import read_trace

    (tmp_path / "loop2_collect.py").write_text(COLLECT)
    monkeypatch.syspath_prepend(str(tmp_path))
    collector = "scripted:loop2_collect:demo_agent"
    config = Loop2Config(
        run_dir=str(tmp_path / "run"),
        envs=["crafter"],
        scaffold="demo",
        collect_llm=collector,
        eval_decoding="free",
        pool_episodes=1,
        collect_max_steps=3,
        eval_seeds=[42],
        eval_max_steps=1,
        max_tokens=8,
        trials=1,
        base_llm="tiny",
        meta_llm="tiny",
        min_examples=1,
        max_train_steps=1,
        progress=False,
    )
    assert "pool played by " + collector in config.scale_line
    assert "evaluated with free decoding" in config.scale_line
    run_loop2(config)
    run = tmp_path / "run"
    (pool,) = (run / "pool").rglob("*.jsonl")
    assert set(read_trace(pool).header.models.values()) == {collector}
    (record,) = read_ledger(run)
    assert record.status == "ok", record.note
    assert record.comparison and record.comparison.specialist["crafter"].episodes == 1
    traces = [*(run / "eval").rglob("*.jsonl"), *(run / "trials").glob("*/eval/eval/*/*.jsonl")]
    evaluated = [read_trace(p).header for p in traces]  # base, then the specialist
    assert len(evaluated) == 2 and all(collector not in h.models.values() for h in evaluated)
