"""Hygiene checks fail loudly: leaked eval seeds, empty masks, masks without end-of-turn."""

from __future__ import annotations

import _train_traces as _traces
import pytest
from automem_agent.models import build_tiny_model
from automem_envs import suite
from automem_train import (
    Encoded,
    HygieneError,
    build_training_set,
    check_mask,
    end_of_turn,
    eval_keys,
    extract_examples,
)
from transformers import AutoTokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(build_tiny_model())


def _examples(tmp_path, seed):
    _traces.write_trace(tmp_path / f"{seed}.jsonl", seed=seed)
    return extract_examples(tmp_path / f"{seed}.jsonl")


def test_leaked_eval_seed_is_refused(tmp_path, tokenizer):
    keys = eval_keys(suite("automem", envs=["crafter"]))
    assert ("crafter", 42) in keys
    leaked = _examples(tmp_path, 42)
    with pytest.raises(HygieneError, match="crafter seed 42"):
        build_training_set(leaked, tokenizer, eval_episodes=keys)
    # allowed on purpose
    data = build_training_set(leaked, tokenizer, eval_episodes=keys, allow_eval_seeds=True)
    assert data.report.examples == len(leaked)
    # a non-eval seed passes, and the report counts per env and per phase
    ok = build_training_set(_examples(tmp_path, 7), tokenizer, eval_episodes=keys)
    assert ok.report.per_env == {"crafter": 4}
    assert ok.report.per_phase == {"log": 3, "plan": 1}
    assert 0 < ok.report.loss_tokens < ok.report.tokens


def test_empty_mask_and_missing_end_of_turn_are_refused(tokenizer):
    _, eot = end_of_turn(tokenizer)
    with pytest.raises(HygieneError, match="empty assistant mask"):
        check_mask(Encoded(input_ids=[5, 6, eot], mask=[0, 0, 0]), eot, where="x")
    with pytest.raises(HygieneError, match="end-of-turn"):
        check_mask(Encoded(input_ids=[5, 6, eot], mask=[0, 1, 0]), eot, where="x")
    check_mask(Encoded(input_ids=[5, 6, eot], mask=[0, 1, 1]), eot, where="x")


def test_template_without_end_of_turn_fails_loudly(tmp_path, tokenizer):
    # A template that emits nothing after assistant content: the specialist could never learn
    # to stop, so building the dataset must fail rather than train silently.
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model())
    tokenizer.chat_template = (
        "{% for m in messages %}{{ m['role'] + ': ' + m['content'] }}"
        "{% if m['role'] != 'assistant' %}{{ '\\n' }}{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"
    )
    tokenizer.eos_token = None
    with pytest.raises(HygieneError):
        build_training_set(_examples(tmp_path, 7), tokenizer)


def test_overlong_examples_are_dropped_and_reported(tmp_path, tokenizer):
    examples = _examples(tmp_path, 7)
    lengths = sorted(len(e.input_ids) for e in build_training_set(examples, tokenizer).encoded)
    limit = lengths[-1] - 1  # the longest one does not fit
    data = build_training_set(examples, tokenizer, max_length=limit)
    assert data.report.removed == {f"longer than max_length {limit}": 1}
    assert data.report.examples == len(examples) - 1
    cut = build_training_set(examples, tokenizer, max_length=limit, overlong="truncate")
    assert cut.report.truncated == 1 and cut.report.examples == len(examples)
    assert all(len(e.input_ids) <= limit for e in cut.encoded)
    with pytest.raises(HygieneError, match="longer than max_length"):
        build_training_set(examples, tokenizer, max_length=lengths[0] - 1)
