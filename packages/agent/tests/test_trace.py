"""The trace module: what a writer puts down, a reader gets back, crash damage included."""

from __future__ import annotations

import msgspec
import pytest
from automem_agent import JsonlError
from automem_agent.meta import prepare_episode
from automem_agent.trace import (
    EpisodeSummary,
    LLMTurn,
    StepRecord,
    TraceError,
    TraceHeader,
    TraceWriter,
    expand_step,
    iter_traces,
    memory_at,
    read_trace,
    trace_status,
)
from automem_envs import EpisodeStats
from automem_memfs import Action, OpResult, Search


def _header(seed: int = 1) -> TraceHeader:
    return TraceHeader(
        env_id="crafter",
        seed=seed,
        max_steps=5,
        agent="memory",
        scaffold_name="v0",
        scaffold_hash="abc",
        models={"memory": "scripted", "action": "scripted"},
    )


def _step(i: int, diff=None) -> StepRecord:
    turn = LLMTurn(
        phase="plan",
        role="action",
        round=1,
        messages=[{"role": "user", "content": f"obs {i}"}],
        response="<search pattern='tree'/> ACTION",
        calls=[Search(pattern="tree"), Action(text="noop")],
        results=[OpResult(op="search", ok=True, text="notes.md:1: tree")],
        input_tokens=10,
        output_tokens=3,
    )
    return StepRecord(
        step=i,
        observation=f"obs {i}",
        turns=[turn],
        action="noop",
        executed_action="noop",
        valid_action=True,
        memory_diff=diff,
    )


def _summary() -> EpisodeSummary:
    return EpisodeSummary(
        stats=EpisodeStats(env_id="crafter", seed=1, steps=2), status="finished", steps=2
    )


def test_round_trip_keeps_types(tmp_path):
    path = tmp_path / "eval" / "crafter" / "1.jsonl"
    with TraceWriter(path, _header()) as w:
        w.write(_step(0, {"notes.md": "a\n"}))
        w.write(_step(1, {"notes.md": {"append": "b\n"}, "old.md": None}))
        w.write(_summary())
    trace = read_trace(path)
    assert trace.finished and not trace.truncated
    assert trace.header.scaffold_hash == "abc"
    assert [s.step for s in trace.steps] == [0, 1]
    turn = trace.steps[0].turns[0]
    assert isinstance(turn.calls[0], Search) and turn.calls[0].pattern == "tree"
    assert isinstance(turn.calls[1], Action) and turn.calls[1].text == "noop"
    assert turn.results[0].ok
    assert list(trace.turns(role="action")) == [trace.steps[0].turns[0], trace.steps[1].turns[0]]
    assert list(trace.turns(phase="log")) == []
    assert trace_status(path) == trace.summary


def test_every_record_is_on_disk_before_close(tmp_path):
    path = tmp_path / "t.jsonl"
    w = TraceWriter(path, _header())
    w.write(_step(0))
    # Not closed: a reader (or a resumed run) must still see the header and the step.
    trace = read_trace(path)
    assert len(trace.steps) == 1 and trace.summary is None
    assert trace_status(path) is None
    w.close()


def test_truncated_last_line_is_dropped(tmp_path):
    path = tmp_path / "t.jsonl"
    with TraceWriter(path, _header()) as w:
        w.write(_step(0))
        w.write(_step(1))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # killed mid-line
    trace = read_trace(path)
    assert trace.truncated and len(trace.steps) == 1 and not trace.finished


def test_damage_before_the_last_line_is_an_error(tmp_path):
    path = tmp_path / "t.jsonl"
    with TraceWriter(path, _header()) as w:
        w.write(_step(0))
        w.write(_step(1))
    lines = path.read_bytes().split(b"\n")
    lines[1] = lines[1][:20]
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(TraceError, match=r"t\.jsonl:2"):
        read_trace(path)
    path.write_bytes(b"")
    with pytest.raises(TraceError, match="no header"):
        read_trace(path)


def test_memory_at_replays_diffs(tmp_path):
    path = tmp_path / "t.jsonl"
    with TraceWriter(path, _header()) as w:
        w.write(_step(0, {"notes.md": "a\n", "old.md": "x"}))
        w.write(_step(1, {"notes.md": {"append": "b\n"}, "old.md": None}))
        w.write(_step(2, {"notes.md": "rewritten\n"}))
    trace = read_trace(path)
    assert memory_at(trace, -1) == {}
    assert memory_at(trace, 0) == {"notes.md": "a\n", "old.md": "x"}
    assert memory_at(trace, 1) == {"notes.md": "a\nb\n"}
    assert memory_at(trace, 2) == {"notes.md": "rewritten\n"}


def test_iter_traces_walks_nested_env_dirs(tmp_path):
    for env, seed, finish in (("crafter", 1, True), ("minihack/MazeWalk-9x9", 2, False)):
        with TraceWriter(tmp_path / env / f"{seed}.jsonl", _header(seed)) as w:
            w.write(_step(0))
            if finish:
                w.write(_summary())
    assert [t.header.seed for t in iter_traces(tmp_path)] == [1, 2]
    assert [t.header.seed for t in iter_traces(tmp_path, finished_only=True)] == [1]


def _conversation_step(i: int) -> StepRecord:
    """A step whose rounds extend one conversation, as the memory agent's do: LOG, then two
    PLAN rounds re-sending everything before them."""
    system = {"role": "system", "content": "rules " * 200}
    log = [system, {"role": "user", "content": f"LOG step {i}: " + "obs " * 300}]
    plan1 = [
        *log,
        {"role": "assistant", "content": "<|DONE|>"},
        {"role": "user", "content": "PLAN"},
    ]
    plan2 = [
        *plan1,
        {"role": "assistant", "content": "<|READ|>notes.md<|END|>"},
        {"role": "user", "content": "notes.md: 3 lines"},
    ]
    turns = [
        LLMTurn(phase=phase, role="memory", round=r, messages=m, response="<|DONE|>")
        for phase, r, m in (("log", 1, log), ("plan", 1, plan1), ("plan", 2, plan2))
    ]
    # A role switch that re-sends a conversation with the tags stripped shares only its start.
    stripped = [system, {"role": "user", "content": "stripped"}]
    turns.append(LLMTurn(phase="plan", role="action", round=3, messages=stripped, response="x"))
    return StepRecord(
        step=i,
        observation="o",
        turns=turns,
        action="noop",
        executed_action="noop",
        valid_action=True,
    )


def test_steps_are_written_without_repeated_prompts_and_read_back_whole(tmp_path):
    path = tmp_path / "t.jsonl"
    steps = [_conversation_step(0), _conversation_step(1)]
    with TraceWriter(path, _header()) as w:
        for step in steps:
            w.write(step)
    assert read_trace(path).steps == steps  # every turn has its whole prompt, shared == 0

    raw = msgspec.json.decode(path.read_bytes().split(b"\n")[1])
    assert [t["shared"] for t in raw["turns"]] == [0, 2, 4, 1]
    assert [len(t["messages"]) for t in raw["turns"]] == [2, 2, 2, 1]
    whole = len(msgspec.json.encode(steps[0]))
    assert len(path.read_bytes().split(b"\n")[1]) < whole / 2  # each prompt written once


def test_a_step_decoded_by_hand_is_expanded_and_a_false_share_is_an_error(tmp_path):
    path = tmp_path / "t.jsonl"
    with TraceWriter(path, _header()) as w:
        w.write(_conversation_step(0))
    line = path.read_bytes().split(b"\n")[1]
    record = msgspec.json.decode(line, type=StepRecord)
    assert expand_step(record) == _conversation_step(0)
    assert expand_step(_step(0)) == _step(0)  # whole prompts (older traces) pass unchanged

    damaged = line.replace(b'"shared":4', b'"shared":9')
    path.write_bytes(path.read_bytes().replace(line, damaged))
    with pytest.raises(TraceError, match=r"t\.jsonl:2: step 0, turn 2: shares 9 messages"):
        read_trace(path)
    with pytest.raises(JsonlError, match=r"t\.jsonl:2: step 0, turn 2: shares 9 messages"):
        prepare_episode("t", path, tmp_path / "t.txt")  # the review tools' index says so too
