"""Loop 2 takes Loop 1's output: `apps/train --from-run` plays Loop 1's incumbent scaffold on
seeds outside every evaluation set of that run, trains the tiny model, keeps Loop 1's run
records (config.toml with the resume identity check, train.log, report.md) and resumes after
`kill -9`. Traces on evaluation seeds given with `--traces` are skipped with one clear line.

The pool's agent is scripted, served like a remote model, and the tiny model's weights are
trained through `--base-path`, as a vLLM-served base is: the tiny random model never ends a
reply within a short budget, and Loop 2 leaves replies cut at max_tokens out of the pool (a
half-written op would teach the specialist to stop mid-call)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from automem_agent import ScriptedModel, read_jsonl, trace_path
from automem_agent.models import build_tiny_model
from automem_envs import EpisodeSpec
from automem_memfs import Action, Done, format_call
from automem_scaffold import EvolveConfig, evolve, read_decisions
from automem_train import loop1_source, read_ledger

ROOT = Path(__file__).resolve().parents[1]
RECIPE = {
    "name": "all",
    "policy": {"name": "all", "builtin": "all"},
    "composition": {"log_share": None, "dedup": False},
    "train": {"lora": {"rank": 4, "alpha": 8}, "learning_rate": 0.005, "max_steps": 2,
              "batch_size": 1, "grad_accum": 1, "checkpoint_every": 1, "max_length": 4096},
}  # fmt: skip


def _noop(_request) -> str:
    return format_call(Done()) + "\n" + format_call(Action(text="noop"))


POOL_AGENT = "scripted:loop2_pool_agent:noop"  # `_noop`, importable by the app's process
POOL_AGENT_MODULE = """from automem_memfs import Action, Done, format_call


def noop(_request):
    return format_call(Done()) + "\\n" + format_call(Action(text="noop"))
"""


@pytest.fixture(scope="module")
def app_env(tmp_path_factory) -> dict[str, str]:
    """The environment of the apps' processes: the pool agent's module on the path."""
    where = tmp_path_factory.mktemp("agent")
    (where / "loop2_pool_agent.py").write_text(POOL_AGENT_MODULE)
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(where), os.environ.get("PYTHONPATH", "")]),
    }


@pytest.fixture(scope="module")
def loop1_run(tmp_path_factory) -> Path:
    """A finished small Loop 1 run: a scripted agent, the rule-based reviewer, 2 search seeds,
    1 accept seed and 1 report seed of Crafter, 3 steps each."""
    run = tmp_path_factory.mktemp("loop1") / "run"
    config = EvolveConfig(
        run_dir=str(run),
        seeds=2,
        accept_seeds=1,
        held_out=1,
        max_steps=3,
        iterations=1,
        agent_llm="scripted-noop",
        meta_llm="rules",
        concurrency=2,
    )
    asyncio.run(evolve(config, agent_model=ScriptedModel(_noop, name="scripted-noop")))
    assert read_decisions(run)
    return run


def _command(loop1: Path, run: Path, *extra: str, agent: str = POOL_AGENT) -> list[str]:
    # The shared sampling flags keep the agent's replies short in the pool and the evaluation.
    base = [] if agent == "tiny" else ["--base-path", str(build_tiny_model())]
    return [
        sys.executable, str(ROOT / "apps" / "train"),
        "--from-run", str(loop1),
        "--run-dir", str(run),
        "--agent-llm", agent,
        *base,
        "--pool-episodes", "2",
        "--collect-max-steps", "2",
        "--seeds", "42",
        "--max-steps", "1",
        "--trials", "1",
        "--min-examples", "1",
        "--max-rounds", "1",
        "--max-tokens", "32",
        "--max-length", "4096",
        "--no-progress",
        *extra,
    ]  # fmt: skip


def _recipe(tmp: Path) -> Path:
    path = tmp / "recipe.json"
    path.write_text(json.dumps(RECIPE))
    return path


def test_loop1_source_names_incumbent_and_every_evaluation_episode(loop1_run: Path) -> None:
    source = loop1_source(loop1_run)
    assert source.incumbent in read_decisions(loop1_run)
    assert Path(source.scaffold_dir).is_relative_to(loop1_run / "iterations")
    # search 42, 43; accept 44; report 45: all excluded, whether played or not
    assert {("crafter", s) for s in (42, 43, 44, 45)} <= set(source.evaluation)
    assert source.suite == "automem" and source.envs == ["crafter"] and source.max_steps == 3


@pytest.mark.slow
def test_from_run_end_to_end_records_and_resume_after_kill(
    loop1_run: Path, tmp_path: Path, app_env: dict[str, str]
) -> None:
    run = tmp_path / "loop2"
    cmd = _command(loop1_run, run, "--recipe", str(_recipe(tmp_path)), "--no-eval")
    log = tmp_path / "out.txt"
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True, env=app_env)
    # kill -9 once the first LoRA checkpoint is on disk (the pool is collected by then)
    checkpoints = run / "trials" / "000" / "train" / "checkpoints"
    deadline = time.monotonic() + 400
    while not (checkpoints.is_dir() and any(checkpoints.glob("step-*"))):
        if proc.poll() is not None:
            pytest.fail(f"the run ended before the kill point:\n{log.read_text()[-3000:]}")
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (run / "trials.jsonl").exists()  # killed mid-trial: nothing finished yet
    pool = [
        trace_path(run / "pool", EpisodeSpec(env_id="crafter", seed=s, max_steps=2))
        for s in (1000, 1001)
    ]
    assert all(p.is_file() for p in pool), log.read_text()[-3000:]
    pool_mtimes = [p.stat().st_mtime_ns for p in pool]

    # The first line names the protocol (an offline agent: demo), its scale and every override.
    first = log.read_text().splitlines()[0]
    assert first.startswith("protocol demo [DEMO scale (small caps)]"), first
    assert "OVERRIDDEN:" in first and "pool_episodes 3 -> 2" in first
    assert "agent max_tokens None -> 32" in first

    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=app_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # The pool was not collected again, and it avoided seeds 42..45 (Loop 1's evaluations).
    assert [p.stat().st_mtime_ns for p in pool] == pool_mtimes
    record = json.loads((run / "pool.json").read_text())
    assert record["collected_seeds"] == {"crafter": [1000, 1001]}
    assert "incumbent iteration" in record["loop1"]
    source = json.loads((run / "source.json").read_text())
    assert (run / "scaffold" / "scaffold.toml").is_file()  # the incumbent, copied
    assert source["scaffold_dir"].endswith("scaffold")
    (trial,) = read_ledger(run)
    assert trial.status == "ok" and trial.train is not None and trial.train.steps == 2
    # Loop 1's run records: config.toml, a log, report.md with the loss curve and the table.
    config = (run / "config.toml").read_text()
    assert f'from_run = "{loop1_run}"' in config and f'base_llm = "{POOL_AGENT}"' in config
    assert f'base_path = "{build_tiny_model()}"' in config and 'protocol = "demo"' in config
    assert f"# {first}" in config  # the first line, atop config.toml
    assert "Loop 2 run" in (run / "train.log").read_text()
    report = (run / "report.md").read_text()
    assert "![loss curves](loss.png)" in report and (run / "loss.png").stat().st_size > 0
    assert "incumbent iteration" in report and "seeds 1000-1001" in report
    assert report.splitlines()[2] == first  # and atop report.md

    # The same directory with another setup is refused, in one message and no traceback.
    other = subprocess.run(
        [*cmd, "--pool-episodes", "3"], capture_output=True, text=True, timeout=300, env=app_env
    )
    assert other.returncode == 2
    assert "pool_episodes: run has 2, command asks for 3" in other.stderr
    assert "Traceback" not in other.stderr


@pytest.mark.slow
def test_from_run_with_the_two_model_evaluation(
    loop1_run: Path, tmp_path: Path, app_env: dict[str, str]
) -> None:
    # The tiny model serves the adapter in the evaluation, so it is the agent model here; the
    # pool is the scripted agent's, played by apps/play with Loop 1's incumbent.
    pool = tmp_path / "pool"
    play = [
        sys.executable, str(ROOT / "apps" / "play"),
        "--agent-llm", POOL_AGENT,
        "--scaffold", loop1_source(loop1_run).scaffold_dir,
        "--seeds", "1000-1001",
        "--max-steps", "2",
        "--run-dir", str(pool),
        "--no-progress",
    ]  # fmt: skip
    played = subprocess.run(play, capture_output=True, text=True, timeout=300, env=app_env)
    assert played.returncode == 0, played.stdout[-3000:] + played.stderr[-3000:]
    run = tmp_path / "loop2"
    cmd = _command(
        loop1_run, run, "--recipe", str(_recipe(tmp_path)), "--traces", str(pool), agent="tiny"
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=app_env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = (run / "report.md").read_text()
    # the before/after table: base and specialist rows with progression, write/search, growth
    assert "write/search" in report and "growth/step" in report
    assert "crafter      base" in report and "crafter      specialist" in report


def test_traces_on_evaluation_seeds_are_skipped_with_one_line(
    loop1_run: Path, tmp_path: Path, app_env: dict[str, str]
) -> None:
    # Loop 1's own traces are all on evaluation seeds: nothing is left, and the app says so.
    run = tmp_path / "loop2"
    cmd = [
        *_command(loop1_run, run),
        "--traces", str(loop1_run / "iterations" / "000" / "eval"),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=app_env)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "HygieneError" not in done.stderr
    assert "skipped" in done.stdout and "traces on evaluation seeds" in done.stdout
    assert "crafter seed 42" in done.stdout
    assert "apps/train: error: no memory turns left" in done.stderr
    lines = read_jsonl(run / "examples.jsonl", missing_ok=True).records
    assert lines == []
