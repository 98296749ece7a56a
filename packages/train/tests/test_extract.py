"""Extraction against a hand-built trace whose turns and features are known."""

from __future__ import annotations

import _train_traces as _traces
import pytest
from automem_train import extract_examples, read_examples, write_examples


@pytest.fixture
def examples(tmp_path):
    _traces.write_trace(tmp_path / "crafter" / "7.jsonl")
    return extract_examples(tmp_path)


def test_memory_turns_only_and_verbatim(examples):
    # 3 LOG turns + 1 PLAN consultation; the 3 action-role PLAN turns are not memory turns.
    assert [(e.step, e.phase, e.role) for e in examples] == [
        (0, "log", "memory"),
        (0, "plan", "memory"),
        (1, "log", "memory"),
        (2, "log", "memory"),
    ]
    assert examples[0].response == _traces.LOG_SEARCH_APPEND
    assert examples[1].response == _traces.PLAN_READ
    assert examples[2].response == _traces.LOG_BLIND_APPEND
    assert examples[3].response == _traces.LOG_BROKEN
    assert examples[0].messages == [
        {"role": "system", "content": _traces.SYSTEM},
        {"role": "user", "content": "obs 0: trees"},
    ]
    assert {e.env_id for e in examples} == {"crafter"} and {e.seed for e in examples} == {7}


def test_features(examples):
    consult, plan, blind, broken = (e.features for e in examples)
    assert consult.op_kinds == ["search", "append"]
    assert consult.consulted_before_write and consult.wrote
    assert consult.written_paths == ["/log.md"]
    assert consult.written_later_read and consult.written_later_used  # PLAN read it
    assert consult.duplicate_writes == 0 and consult.ended_with_done
    assert consult.progression_at_step == 0.0
    assert consult.progression_gain_after == pytest.approx(2 / 22)
    assert consult.next_steps_valid_rate == pytest.approx(0.5)
    assert consult.episode_progression == pytest.approx(2 / 22)
    assert consult.episode_status == "finished" and consult.episode_write_to_search == 2.0

    assert plan.op_kinds == ["read"] and not plan.wrote and plan.n_read_ops == 1
    assert not plan.consulted_before_write  # nothing written, so no consult-before-write

    assert blind.op_kinds == ["append"] and not blind.consulted_before_write
    assert blind.duplicate_writes == 1  # same text as step 0, spacing aside
    assert not blind.written_later_read

    assert broken.parse_errors == 1 and broken.op_kinds == [] and not broken.ended_with_done


def test_cut_off_trace_has_no_outcome(tmp_path):
    _traces.write_trace(tmp_path / "t.jsonl", finished=False)
    examples = extract_examples(tmp_path / "t.jsonl")
    assert examples and all(e.features.episode_status == "" for e in examples)
    # without a summary, the episode's progression is the best step progression seen
    assert examples[0].features.episode_progression == pytest.approx(2 / 22)


def test_round_trip_and_stable_ids(tmp_path, examples):
    path = tmp_path / "examples.jsonl"
    assert write_examples(path, examples) == 4
    back = list(read_examples(path))
    assert back == examples
    assert len({e.id for e in examples}) == 4
    again = extract_examples(tmp_path / "crafter")
    assert [e.id for e in again] == [e.id for e in examples]
