"""Resume after `kill -9`: rerunning the same `apps/evolve` command on the run directory
continues where it stopped, without redoing or losing any finished evaluation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from automem_agent.trace import trace_status
from automem_scaffold import read_decisions

HERE = Path(__file__).resolve().parent  # the scripted models, for the app's process
ROOT = HERE.parents[2]  # the repository, for apps/


def _command(run: Path, agent: str, meta: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "apps" / "evolve"),
        "--run-dir", str(run),
        "--agent-llm", f"scripted:test_evolve_policies:{agent}",
        "--meta-llm", f"scripted:test_evolve_policies:{meta}",
        "--episodes", "2",
        "--from", "v0",
        "--held-out", "0",
        "--max-steps", "8",
        "--iterations", "1",
        "--review-turns", "6",
        "--no-progress",
        *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


def _start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    return subprocess.Popen(cmd, stdout=out, stderr=out, env=_env(), start_new_session=True)


def _kill_when(proc: subprocess.Popen[bytes], ready, log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"the run ended before the kill point:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("the kill point was never reached")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _lines(path: Path) -> int:
    return len(path.read_bytes().splitlines()) if path.exists() else 0


@pytest.mark.slow
def test_resume_after_kill_during_evaluation(tmp_path: Path) -> None:
    run, log = tmp_path / "run", tmp_path / "log.txt"
    cmd = _command(run, "slow_agent_policy", "meta_reviewer", "--concurrency", "1")
    eval_dir = run / "iterations" / "000" / "eval" / "crafter"
    proc = _start(cmd, log)
    # Kill once seed 42 is finished and seed 43 is part-way through.
    _kill_when(
        proc,
        lambda: (
            trace_status(eval_dir / "42.jsonl") is not None and _lines(eval_dir / "43.jsonl") >= 3
        ),
        log,
    )
    assert not (run / "iterations" / "000" / "evaluation.json").exists()
    finished = (eval_dir / "42.jsonl").read_bytes()
    stamp = (eval_dir / "42.jsonl").stat().st_mtime_ns

    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (eval_dir / "42.jsonl").read_bytes() == finished
    assert (eval_dir / "42.jsonl").stat().st_mtime_ns == stamp  # not replayed
    assert trace_status(eval_dir / "43.jsonl").status == "finished"
    assert list((run / "iterations" / "000" / "partial").rglob("43.jsonl"))  # the cut-off try
    decisions = read_decisions(run)
    assert decisions[1].kept and decisions[0].per_episode.keys() == {"crafter__42", "crafter__43"}
    assert "iteration 1: KEPT" in done.stderr or "KEPT" in done.stdout


@pytest.mark.slow
def test_resume_after_kill_during_review(tmp_path: Path) -> None:
    run, log = tmp_path / "run", tmp_path / "log.txt"
    cmd = _command(run, "agent_policy", "slow_reviewer")
    session = run / "iterations" / "001" / "review" / "session-001.jsonl"
    proc = _start(cmd, log)
    _kill_when(proc, lambda: _lines(session) >= 2, log)
    it0 = run / "iterations" / "000" / "evaluation.json"
    stamp = it0.stat().st_mtime_ns
    assert not (run / "iterations" / "001" / "candidate.json").exists()

    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert it0.stat().st_mtime_ns == stamp  # the finished evaluation was reused
    review = run / "iterations" / "001" / "review"
    assert _lines(review / "interrupted-1.jsonl") >= 2  # the partial session is kept
    assert read_decisions(run)[1].kept
    costs = json.loads((run / "costs.json").read_text())
    meta = [e for e in costs["entries"] if e["purpose"] == "meta"]
    assert len(meta) == 2  # the interrupted session's tokens are counted too
    assert not (run / "iterations" / "001" / ".work").exists()


def test_resume_refuses_a_different_setup(tmp_path: Path) -> None:
    from automem_scaffold import EvolveConfig, EvolveError, Evolver

    run = tmp_path / "run"
    Evolver(EvolveConfig(run_dir=str(run), seeds=2)).prepare()
    Evolver(
        EvolveConfig(run_dir=str(run), seeds=2, iterations=9)
    ).prepare()  # more iterations: fine
    with pytest.raises(EvolveError, match="seeds: run has 2, command asks for 3"):
        Evolver(EvolveConfig(run_dir=str(run), seeds=3)).prepare()
