"""Loop 2 as a data engine with a scripted meta-LLM: it reads the pool and the agent's code
through the tools, writes a pool selector that needs the trace text ("searched before
appending"), and later trials run out of memory or do not fit, are recorded and survived. The
ledger shows what each proposal was shown and what it gave."""

from __future__ import annotations

import json

import _train_traces as _traces  # a test helper of automem-train
import pytest
from automem_agent.meta import SandboxResult
from automem_train import (
    Composition,
    Loop2Config,
    LoraSettings,
    MemoryExample,
    Recipe,
    TrainConfig,
    extract_examples,
    read_ledger,
    run_loop2,
    run_selector,
)

SELECTOR = """
def select(pool):
    wanted = set()
    for name in pool.episodes:
        for step in pool.steps(name):
            for turn in step.turns:
                text = turn.response
                if "<|SEARCH|>" in text and "<|APPEND|>" in text:
                    if text.index("<|SEARCH|>") < text.index("<|APPEND|>"):
                        wanted.add((name, step.step, turn.phase, turn.round))
    picks = []
    for c in pool.candidates:
        name = c.env_id.replace("/", "_") + "__" + str(c.seed)
        if (name, c.step, c.phase, c.round) in wanted:
            picks.append((c.id, "searched memory before appending"))
    return picks
"""

META = (
    """
import json

SELECTOR = @SELECTOR@
SMALL = {"lora": {"rank": 4, "alpha": 8}, "learning_rate": 0.005, "max_steps": 2,
         "batch_size": 1, "grad_accum": 1}
RECIPES = {
    1: {"name": "searched-first",
        "policy": {"name": "searched-first", "scope": "pool", "code": SELECTOR},
        "composition": {"log_share": None, "dedup": False}, "train": SMALL},
    2: {"name": "all-b3", "policy": {"name": "all", "builtin": "all"},
        "composition": {"log_share": None, "dedup": False},
        "train": dict(SMALL, batch_size=3)},
    3: {"name": "huge", "policy": {"name": "all", "builtin": "all"},
        "train": dict(SMALL, batch_size=64, max_length=8192)},
}

def call(name, args):
    return '<tool name="' + name + '">' + json.dumps(args) + '</tool>'

def engine(request):
    task = request.messages[1].content
    trial = sum(("trial %d (" % i) in task for i in range(10))
    turn = sum(m.role == "assistant" for m in request.messages)
    if turn == 0:
        return call("index", {}) + call("grep", {"pattern": "SEARCH"}) + call("show_code", {})
    if turn == 1:
        return call("view", {"episode": "crafter__1007", "start": 0, "end": 1}) + call(
            "run_selector", {"code": SELECTOR})
    if turn == 2:
        return call("submit_recipe", {"recipe": RECIPES[trial]})
    return call("finish", {"rationale": "trial %d" % trial})
"""
).replace("@SELECTOR@", repr(SELECTOR))


@pytest.fixture
def pool(tmp_path):
    _traces.write_trace(tmp_path / "pool" / "a.jsonl", seed=1007)
    _traces.write_trace(tmp_path / "pool" / "b.jsonl", seed=1008)
    return tmp_path / "pool"


@pytest.mark.slow
def test_scripted_data_engine_selects_from_trace_text_and_survives_memory_failures(
    tmp_path, pool, monkeypatch
):
    import peft
    import torch

    (tmp_path / "loop2_engine.py").write_text(META)
    monkeypatch.syspath_prepend(str(tmp_path))
    forward = peft.PeftModelForCausalLM.forward

    def out_of_memory_at_batch_3(self, *args, **kwargs):
        ids = kwargs.get("input_ids")
        if self.training and ids is not None and ids.shape[0] == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(peft.PeftModelForCausalLM, "forward", out_of_memory_at_batch_3)
    default = Recipe(
        name="default",
        composition=Composition(log_share=None),
        train=TrainConfig(
            lora=LoraSettings(rank=4, alpha=8), learning_rate=5e-3, max_steps=2, grad_accum=1
        ),
    )
    config = Loop2Config(
        run_dir=str(tmp_path / "run"),
        traces=[str(pool)],
        envs=["crafter"],
        trials=4,
        base_llm="tiny",
        meta_llm="scripted:loop2_engine:engine",
        default_recipe=default,
        min_examples=1,
        device_memory_gb=0.02,
        evaluate=False,
        progress=False,
    )
    run_loop2(config)
    ledger = read_ledger(tmp_path / "run")
    assert [(r.index, r.proposer, r.status, r.failure) for r in ledger] == [
        (0, "default", "ok", ""),
        (1, "meta", "ok", ""),
        (2, "meta", "failed", "oom"),
        (3, "meta", "failed", "wont-fit"),
    ]
    # The selector needed the trace text: only the LOG turn that searched before it appended,
    # once per episode, each with its reason.
    chosen = [
        json.loads(x)
        for x in (tmp_path / "run" / "trials" / "001" / "examples.jsonl").read_text().splitlines()
    ]
    assert len(chosen) == 2 and {c["seed"] for c in chosen} == {1007, 1008}
    assert all(c["response"] == _traces.LOG_SEARCH_APPEND for c in chosen)  # verbatim
    reasons = (tmp_path / "run" / "trials" / "001" / "reasons.jsonl").read_text().splitlines()
    assert [json.loads(x)["reason"] for x in reasons] == ["searched memory before appending"] * 2
    assert ledger[1].dataset.examples == 2
    assert "out of memory" in ledger[2].note and "20.00 GiB" in ledger[2].note
    assert "does not fit" in ledger[3].note and "GiB" in ledger[3].note
    # Each proposal saw every earlier outcome: data, loss curve, and the failures.
    assert ledger[0].inputs == []
    assert len(ledger[1].inputs) == 1 and "data 2 examples" in ledger[1].inputs[0]
    assert "loss curve [" in ledger[1].inputs[0]
    assert len(ledger[3].inputs) == 3 and "oom" in ledger[3].inputs[2]
    # The session read traces and code through the tools.
    proposal = json.loads((tmp_path / "run" / "trials" / "001" / "proposal.json").read_text())
    results = [c["result"] for t in proposal["transcript"]["turns"] for c in t["calls"]]
    assert any("crafter__1007" in r for r in results)  # index
    assert any("_memory_agent.py" in r for r in results)  # show_code listing
    assert any("picked 2 of" in r and "searched memory" in r for r in results)


def test_too_few_examples_fail_the_trial_with_a_clear_message(tmp_path, pool):
    config = Loop2Config(
        run_dir=str(tmp_path / "run"),
        traces=[str(pool)],
        trials=1,
        base_llm="tiny",
        evaluate=False,
        progress=False,
    )
    run_loop2(config)
    (record,) = read_ledger(tmp_path / "run")
    assert record.status == "failed" and record.failure == "too-few"
    assert "at least 300 are needed" in record.note and "Collect more traces" in record.note


_SANDBOXED = "sandboxed" in SandboxResult.__struct_fields__


@pytest.mark.skipif(not _SANDBOXED, reason="needs the bubblewrap sandbox in automem_agent.meta")
@pytest.mark.parametrize(
    "attack",
    [
        "open({target!r}, 'w').write('x')",
        "import socket; socket.create_connection(('127.0.0.1', 9), timeout=2)",
    ],
)
def test_the_selector_sandbox_refuses_writes_outside_scratch_and_sockets(tmp_path, pool, attack):
    examples: list[MemoryExample] = extract_examples(pool)
    target = tmp_path / "escaped.txt"
    code = "def select(pool):\n    " + attack.format(target=str(target)) + "\n    return []\n"
    outcome = run_selector(code, examples)
    assert not outcome.ok and "the selector failed" in outcome.message
    assert not target.exists()


def test_a_selector_returning_unknown_ids_or_no_reason_is_told_so(pool):
    examples = extract_examples(pool)
    bad = run_selector("def select(pool):\n    return [('nope', 'x')]\n", examples)
    assert not bad.ok and "unknown candidate id 'nope'" in bad.message
    first = examples[0].id
    silent = run_selector(f"def select(pool):\n    return [({first!r}, '')]\n", examples)
    assert not silent.ok and "no reason" in silent.message
    ok = run_selector(
        f"def select(pool):\n    return [{{'id': {first!r}, 'reason': 'r'}}]\n", examples
    )
    assert ok.ok and ok.picks == [(first, "r")]


def test_a_selector_reads_each_turn_with_its_whole_prompt(pool):
    """The trace writes each prompt once per step; the pool the selector reads has every turn's
    prompt whole, as the candidates do."""
    examples = extract_examples(pool)
    code = (
        "def select(pool):\n"
        "    picks = []\n"
        "    for c in pool.candidates:\n"
        "        name = c.env_id.replace('/', '_') + '__' + str(c.seed)\n"
        "        for step in pool.steps(name):\n"
        "            for t in step.turns:\n"
        "                same = (step.step, t.phase, t.round) == (c.step, c.phase, c.round)\n"
        "                if same and t.messages == c.messages:\n"
        "                    picks.append((c.id, 'prompt as in the pool'))\n"
        "    return picks\n"
    )
    outcome = run_selector(code, examples)
    assert outcome.ok, outcome.message
    assert sorted(i for i, _ in outcome.picks) == sorted(e.id for e in examples)
    assert any(e.phase == "plan" and e.messages[0]["role"] == "system" for e in examples)
