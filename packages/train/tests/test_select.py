"""Selection: the default policy, composition rules, and sandboxed meta-LLM policies."""

from __future__ import annotations

import _train_traces as _traces
import msgspec
import pytest
from automem_train import (
    Composition,
    SelectionPolicy,
    compose,
    default_select,
    extract_examples,
    run_policy,
    select_examples,
)


@pytest.fixture
def examples(tmp_path):
    _traces.write_trace(tmp_path / "a.jsonl", seed=7)
    _traces.write_trace(tmp_path / "b.jsonl", seed=8, env_id="minihack/MazeWalk-9x9")
    return extract_examples(tmp_path)


def test_default_prefers_consult_before_write_and_drops_redundant(examples):
    chosen, report = select_examples(examples, "default", Composition(log_share=None))
    kinds = {(e.step, e.phase) for e in chosen}
    assert kinds == {(0, "log"), (0, "plan")}  # the blind duplicate and the parse error go
    assert report.removed == {"rejected by policy": 4}
    scores = {e.step: default_select(e) for e in examples if e.phase == "log"}
    assert scores[0] > 0 and scores[1] == 0 and scores[2] == 0
    plan = next(e for e in examples if e.phase == "plan")
    assert scores[0] > default_select(plan) > 0


def test_composition_caps_balance_and_dedup(examples):
    doubled = examples + [msgspec.structs.replace(e, id=e.id + "x") for e in examples]
    ones = [1.0] * len(doubled)
    kept, report = compose(
        doubled, ones, Composition(log_share=None, dedup=True, max_examples=None)
    )
    assert len(kept) == len(examples) and report.removed == {"near-duplicate": len(examples)}
    kept, report = compose(
        doubled, ones, Composition(log_share=None, per_env_cap=2, max_examples=None)
    )
    assert len(kept) == 4 and {e.env_id for e in kept} == {"crafter", "minihack/MazeWalk-9x9"}
    kept, _ = compose(examples, [1.0] * len(examples), Composition(log_share=0.5, max_examples=4))
    assert sorted(e.phase for e in kept) == ["log", "log", "plan", "plan"]
    kept, _ = compose(examples, [1.0] * len(examples), Composition(log_share=1.0, max_examples=3))
    assert [e.phase for e in kept] == ["log"] * 3


def test_sandboxed_policy_scores_with_attribute_access(examples):
    code = (
        "def select(example):\n"
        "    f = example.features\n"
        "    return 2.0 if f['wrote'] and f.consulted_before_write else example.phase == 'plan'\n"
    )
    outcome = run_policy(SelectionPolicy(name="mine", builtin=None, code=code), examples)
    assert outcome.ok, outcome.message
    assert [s for s in outcome.scores] == [
        2.0 if e.features.consulted_before_write else float(e.phase == "plan") for e in examples
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("def choose(x):\n    return 1\n", "must define a function select"),
        ("def select(x):\n    return 1 / 0\n", "ZeroDivisionError"),
        ("def select(x):\n    return 'yes'\n", "returned str"),
        ("import time\ndef select(x):\n    time.sleep(60)\n", "did not finish"),
    ],
)
def test_broken_policies_are_values_not_exceptions(examples, code, message):
    from automem_agent.meta import SandboxLimits

    outcome = run_policy(
        SelectionPolicy(name="bad", builtin=None, code=code),
        examples,
        limits=SandboxLimits(wall_s=3.0, memory_mb=1024),
    )
    assert not outcome.ok and message in outcome.message


def test_sandbox_hides_secrets(examples, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    code = "import os\ndef select(x):\n    return float('ANTHROPIC_API_KEY' in os.environ)\n"
    outcome = run_policy(SelectionPolicy(name="spy", builtin=None, code=code), examples)
    assert outcome.ok and set(outcome.scores) == {0.0}
