"""The meta-LLM proposes a recipe through the tool session; unusable proposals are reported."""

from __future__ import annotations

import asyncio
import json

import _train_traces as _traces
from automem_agent import ScriptedModel
from automem_train import Recipe, extract_examples, propose_recipe

POLICY = "def select(example):\n    return 1.0 if example.features.wrote else 0.0\n"


def _call(name: str, args: dict) -> str:
    return f'<tool name="{name}">{json.dumps(args)}</tool>'


def _examples(tmp_path):
    _traces.write_trace(tmp_path / "t.jsonl", seed=7)
    return extract_examples(tmp_path)


def test_meta_llm_submits_a_recipe_after_looking_around(tmp_path):
    recipe = {
        "name": "writers",
        "policy": {"name": "writers", "code": POLICY},
        "composition": {"log_share": None, "max_examples": 10},
        "train": {"lora": {"rank": 4, "alpha": 8}, "learning_rate": 0.0005, "epochs": 2},
    }
    meta = ScriptedModel.from_texts(
        [
            _call("show_pool", {}) + _call("show_ledger", {}),
            _call("test_policy", {"code": POLICY}),
            _call("submit_recipe", {"recipe": recipe}),
            _call("finish", {"rationale": "keep turns that wrote"}),
        ]
    )
    proposal = asyncio.run(propose_recipe(meta, [], _examples(tmp_path), default=Recipe()))
    assert proposal.recipe is not None, proposal.reason
    assert proposal.recipe.name == "writers" and proposal.recipe.policy.code == POLICY
    assert proposal.recipe.train.lora.rank == 4 and proposal.recipe.train.epochs == 2
    assert proposal.recipe.composition.max_examples == 10
    assert proposal.recipe.rationale == "keep turns that wrote"
    turns = proposal.transcript.turns
    assert "candidate turns" in turns[0].calls[0].result
    assert "keeps 2 of 4" in turns[1].calls[0].result  # the two LOG turns that wrote
    # the meta model was shown the policy contract in its first request
    assert "select(example)" in meta.calls[0].messages[1].content


def test_invalid_proposals_are_refused_with_reasons(tmp_path):
    bad_lora = {"train": {"lora": {"rank": 0, "target_modules": ["mlp"]}}}
    keeps_none = {"policy": {"name": "none", "code": "def select(e):\n    return False\n"}}
    meta = ScriptedModel.from_texts(
        [
            _call("submit_recipe", {"recipe": bad_lora}),
            _call("submit_recipe", {"recipe": keeps_none}),
            _call("finish", {"rationale": "done"}),
            _call("finish", {"rationale": "done"}),
        ]
    )
    proposal = asyncio.run(propose_recipe(meta, [], _examples(tmp_path), default=Recipe()))
    assert proposal.recipe is None
    assert "no valid recipe" in proposal.reason
    results = [c.result for t in proposal.transcript.turns for c in t.calls]
    assert "rank must be 1..256" in results[0] and "not among" in results[0]
    assert "keep no example" in results[1]
