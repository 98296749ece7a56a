"""The viewer's data layer over real trace files written by the agent's `TraceWriter`: lazy
indexes that follow a growing file, memory replay, filters, search, and bad input as notices."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from automem_agent import LLMTurn, StepRecord, TraceHeader, TraceWriter, memory_at, read_trace
from automem_view import RunViewer, ViewError, serve_in_thread

HEADER = TraceHeader(
    env_id="crafter",
    seed=7,
    max_steps=1000,
    agent="memory",
    scaffold_name="v0",
    scaffold_hash="abc",
    models={"memory": "m", "action": "m"},
)


def _step(n: int) -> StepRecord:
    if n == 0:
        diff = {"log.md": "# Log\n", "notes.md": "start\n"}
    elif n % 7 == 0:
        diff = {"notes.md": f'notes as of step {n}: "quoted"\nsecond line\n'}
    elif n % 50 == 49:
        diff = {"old.md": None, f"dir/f{n}.md": "x\n"}
    else:
        diff = {"log.md": {"append": f"step {n}\n"}}
    turn = LLMTurn(
        phase="log",
        role="memory",
        round=1,
        messages=[{"role": "user", "content": f"observe {n}"}],
        response=f"<|APPEND|>log.md|step {n}<|END|>",
        error="bad op" if n % 10 == 3 else None,
    )
    return StepRecord(
        step=n,
        observation="the same view" if 20 <= n < 30 else f"view {n}",
        turns=[turn],
        action="fly" if n % 10 == 5 else "noop",
        executed_action="noop",
        valid_action=n % 10 != 5,
        progression=n / 1000,
        memory_bytes=100 + n,
        op_counts={"append": 1},
        memory_diff=diff,
    )


def _write(path: Path, steps: int) -> TraceWriter:
    writer = TraceWriter(path, HEADER)
    for n in range(steps):
        writer.write(_step(n))
    return writer


def test_memory_after_each_step_matches_the_trace_reader(tmp_path: Path) -> None:
    trace = tmp_path / "eval" / "crafter" / "7.jsonl"
    _write(trace, 230).close()
    viewer = RunViewer(tmp_path)
    reference = read_trace(trace)
    for n in (0, 1, 99, 100, 101, 149, 199, 200, 229, 57):  # across memory checkpoints
        payload = json.loads(viewer.step("eval/crafter/7.jsonl", n))
        assert payload["memory"] == memory_at(reference, n)
        before = memory_at(reference, n - 1)
        assert payload["before"] == {
            p: before[p] for p in payload["record"]["memory_diff"] if p in before
        }
        assert payload["record"]["step"] == n


def test_a_growing_trace_is_followed_and_a_torn_line_is_reported(tmp_path: Path) -> None:
    trace = tmp_path / "eval" / "crafter" / "7.jsonl"
    writer = _write(trace, 5)
    viewer = RunViewer(tmp_path)
    first = viewer.episode("eval/crafter/7.jsonl")
    assert first["steps"] == 5 and any("no summary" in n for n in first["notices"])
    for n in range(5, 40):
        writer.write(_step(n))
    writer.close()
    with trace.open("ab") as f:
        f.write(b'{"type":"step","step":40,"observ')  # killed mid-line
    grown = viewer.episode("eval/crafter/7.jsonl")
    assert grown["steps"] == 40
    assert any("last line is incomplete" in n for n in grown["notices"])
    assert grown["timeline"]["stuck"] == [[20, 29]]
    assert grown["timeline"]["invalid"] == [5, 15, 25, 35]
    assert "i" in grown["timeline"]["flags"][5] and "e" in grown["timeline"]["flags"][3]
    run = viewer.run_page()
    assert run["episodes"][0]["torn"] and any("incomplete" in n for n in run["notices"])


def test_filters_and_text_search_across_the_run(tmp_path: Path) -> None:
    _write(tmp_path / "iterations" / "000" / "eval" / "crafter" / "7.jsonl", 30).close()
    _write(tmp_path / "iterations" / "001" / "eval" / "crafter" / "7.jsonl", 30).close()
    viewer = RunViewer(tmp_path)
    invalid = viewer.find("invalid")["hits"]
    assert [(h["episode"].split("/")[1], h["step"]) for h in invalid] == [
        (it, s) for it in ("000", "001") for s in (5, 15, 25)
    ]
    errors = viewer.find("errors", ep="iterations/001/eval/crafter/7.jsonl")["hits"]
    assert [h["step"] for h in errors] == [3, 13, 23]
    found = viewer.find("text", 'step 14: "QUOTED"')["hits"]
    assert [(h["episode"].split("/")[1], h["step"]) for h in found] == [("000", 14), ("001", 14)]
    episode = viewer.episode("iterations/000/eval/crafter/7.jsonl")
    assert episode["compare_with"] == ["iterations/001/eval/crafter/7.jsonl"]
    assert any("memory directory" in n for n in episode["notices"])


def test_older_and_broken_inputs_become_notices(tmp_path: Path) -> None:
    old = tmp_path / "eval" / "crafter" / "1.jsonl"
    old.parent.mkdir(parents=True)
    lines = [
        {"type": "header", "env_id": "crafter", "seed": 1},  # an older header: fields missing
        {"type": "step", "step": 0, "observation": "o", "turns": [], "action": "noop"},
        {"type": "step", "step": 1, "observation": "o", "turns": [], "action": "noop"},
    ]
    old.write_text("".join(json.dumps(x) + "\n" for x in lines))
    (tmp_path / "iterations" / "000").mkdir(parents=True)
    (tmp_path / "iterations" / "000" / "decision.json").write_text('{"iteration": 0}')
    (tmp_path / "iterations" / "001").mkdir()
    (tmp_path / "iterations" / "001" / "decision.json").write_text('{"iteration": 1, "ke')
    (tmp_path / "memory" / "crafter" / "1").mkdir(parents=True)
    (tmp_path / "memory" / "crafter" / "1" / "notes.md").write_text("final notes\n")
    viewer = RunViewer(tmp_path)
    run = viewer.run_page()
    text = " ".join(run["notices"])
    assert "000/decision.json is from an older version" in text
    assert "001/decision.json could not be read" in text
    assert [r["status"] for r in run["iterations"]] == ["decided", "in progress"]
    episode = viewer.episode("eval/crafter/1.jsonl")
    assert episode["steps"] == 2 and episode["header"]["seed"] == 1
    assert any("older trace format" in n for n in episode["notices"])
    assert any("predates per-step memory diffs" in n for n in episode["notices"])
    step = json.loads(viewer.step("eval/crafter/1.jsonl", 1))
    assert step["memory"] == {"notes.md": "final notes\n"}
    headless = tmp_path / "eval" / "crafter" / "2.jsonl"
    headless.write_text("".join(json.dumps(x) + "\n" for x in lines[1:]))
    episode = viewer.episode("eval/crafter/2.jsonl")
    assert episode["steps"] == 2 and any("no header line" in n for n in episode["notices"])
    assert RunViewer(tmp_path / "memory").run_page()["notices"][0].startswith("no traces")
    with pytest.raises(ViewError, match="no step 9"):
        viewer.step("eval/crafter/1.jsonl", 9)


def test_the_server_answers_json_and_refuses_paths_outside_the_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    _write(run / "eval" / "crafter" / "7.jsonl", 3).close()
    (tmp_path / "secret.txt").write_text("outside")
    server, url = serve_in_thread(run)
    try:
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url) as r:
            assert b"app.js" in r.read()
        with urllib.request.urlopen(
            url + "api/steps?ep=eval/crafter/7.jsonl&offset=1&limit=1"
        ) as r:
            page = json.loads(r.read())
        assert page["total"] == 3 and [row["step"] for row in page["rows"]] == [1]
        for bad in ("api/step?ep=../secret.txt&n=0", "file/../secret.txt", "api/episode?ep=nope"):
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(url + bad)
            assert info.value.code == 404 and "error" in json.loads(info.value.read())
    finally:
        server.shutdown()
