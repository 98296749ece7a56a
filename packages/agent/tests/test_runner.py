"""The runner on real Crafter episodes: traces, errored episodes, resume, summaries."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgspec
from automem_agent import (
    HistoryAgent,
    ModelUnavailable,
    RoleModels,
    ScriptedModel,
    format_summary,
    history_agent_factory,
    iter_traces,
    memory_agent_factory,
    read_trace,
    run_suite,
)
from automem_agent._summary import EpisodeResult, SuiteResult, summarize
from automem_agent.trace import EpisodeSummary
from automem_envs import EpisodeSpec, EpisodeStats, Suite
from probe_policy import probe_policy

ACTIONS = ["move west", "move east", "move north", "move south", "do"]


def _suite(n: int, steps: int = 4) -> Suite:
    return Suite(
        name="t",
        episodes=[EpisodeSpec(env_id="crafter", seed=s, max_steps=steps) for s in range(n)],
    )


def test_suite_writes_traces_memory_and_results(tmp_path, v0):
    factory = memory_agent_factory(v0, RoleModels.single(ScriptedModel(probe_policy(ACTIONS))))
    result = asyncio.run(run_suite(_suite(2), factory, tmp_path, concurrency=2, progress=False))
    assert [e.status for e in result.episodes] == ["finished", "finished"]
    traces = list(iter_traces(tmp_path / "eval"))
    assert len(traces) == 2
    for trace in traces:
        assert trace.header.scaffold_hash == v0.content_hash and trace.header.agent == "memory"
        assert trace.header.instructions  # the env's rules are kept with the trace
        assert [s.step for s in trace.steps] == [0, 1, 2, 3] and trace.steps[-1].done
        # v0 runs no LOG at step 0: 3 appends, and a search in each of the 4 PLANs.
        assert trace.summary.steps == 4 and trace.summary.op_counts == {"append": 3, "search": 4}
        assert trace.summary.turns == {"plan": 8, "log": 3} and not trace.summary.truncated_turns
        assert all(t.finish_reason == "stop" for s in trace.steps for t in s.turns)
        assert trace.summary.write_to_search == 0.75
        assert trace.summary.memory_growth_per_step > 0
        mem = tmp_path / "memory" / "crafter" / str(trace.header.seed) / "log.md"
        assert mem.read_text().count("at (") == 3
    fam = result.families["crafter"]
    assert fam.episodes == 2 and fam.errored == 0 and fam.steps == 8
    assert fam.write_to_search == 0.75 and fam.tokens_per_step > 0
    assert (tmp_path / "results.json").is_file()
    assert "crafter" in format_summary(result)


def test_model_outage_marks_the_episode_errored(tmp_path, v0):
    calls = {"n": 0}
    policy = probe_policy(ACTIONS)

    def flaky(request):
        calls["n"] += 1
        if calls["n"] > 4:  # a little more than one step's worth of calls
            raise ModelUnavailable("server down after 3 retries")
        return policy(request)

    factory = memory_agent_factory(v0, RoleModels.single(ScriptedModel(flaky)))
    result = asyncio.run(run_suite(_suite(1, steps=5), factory, tmp_path, progress=False))
    (ep,) = result.episodes
    assert ep.status == "errored" and "server down" in ep.summary.error
    trace = read_trace(tmp_path / ep.trace)
    assert trace.finished and trace.summary.status == "errored" and len(trace.steps) == 1
    assert result.families["crafter"].errored == 1
    assert "errored: crafter seed 0" in format_summary(result)


def test_resume_skips_finished_and_replays_partial(tmp_path, v0):
    model = ScriptedModel(probe_policy(ACTIONS))
    factory = memory_agent_factory(v0, RoleModels.single(model))
    asyncio.run(run_suite(_suite(2), factory, tmp_path, progress=False))
    # Cut episode 1's trace after its second step, as a kill would.
    path = tmp_path / "eval" / "crafter" / "1.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:3]) + lines[3][:25])
    before = len(model.calls)
    result = asyncio.run(run_suite(_suite(2), factory, tmp_path, progress=False))
    assert [e.resumed for e in result.episodes] == [True, False]
    # Only episode 1 played again, all 4 steps (step 0 without LOG).
    assert len(model.calls) - before == 2 + 3 * 3
    assert read_trace(path).finished and (tmp_path / "partial" / "crafter" / "1.jsonl").exists()
    assert sorted(t.header.seed for t in iter_traces(tmp_path / "eval")) == [0, 1]


def test_history_agent_keeps_the_last_pairs(tmp_path, ctx):
    model = ScriptedModel(lambda r: "move left\nbecause trees")
    agent = HistoryAgent(ctx, RoleModels.single(model), history=2)
    from automem_envs import Observation

    for i in range(4):
        d = asyncio.run(agent.act(Observation(text=f"view {i}"), None))
        assert d.action == "move left" and d.turns[0].error  # plain text, no ACTION call
    seen = model.calls[-1].messages
    assert [m.content for m in seen if m.role == "user"] == ["view 1", "view 2", "view 3"]
    assert seen[0].role == "system" and "Collect wood" in seen[0].content


def test_history_agent_episode(tmp_path):
    model = ScriptedModel(lambda r: "ACTION? no: fly away")
    result = asyncio.run(
        run_suite(
            _suite(1, 3), history_agent_factory(RoleModels.single(model)), tmp_path, progress=False
        )
    )
    s = result.families["crafter"]
    assert s.invalid_action_rate == 1.0 and s.write_to_search is None
    trace = read_trace(tmp_path / result.episodes[0].trace)
    assert trace.header.agent == "history"
    assert all(not st.valid_action and st.executed_action == "noop" for st in trace.steps)


def test_balrog_aggregation():
    def ep(p, status="finished"):
        stats = EpisodeStats(env_id="minihack/MazeWalk-9x9", seed=0, steps=10, progression=p)
        return EpisodeResult(
            env_id=stats.env_id,
            seed=0,
            status=status,
            trace="x",
            summary=EpisodeSummary(stats=stats, status=status, steps=10),
        )

    r = summarize("s", [ep(1.0), ep(0.0), ep(1.0), ep(0.0), ep(0.0, "errored")])
    s = r.families["minihack"]
    assert s.episodes == 5 and s.errored == 1 and s.steps == 40
    assert s.progression == 50.0
    # BALROG: population std (0.5 over four 0/1 values) / sqrt(4), x100
    assert math.isclose(s.stderr, 100 * 0.5 / 2)
    assert "minihack/MazeWalk-9x9" in r.envs


_KILLABLE = textwrap.dedent(
    """
    import asyncio, sys
    from automem_agent import RoleModels, ScriptedModel, builtin_scaffold, load_scaffold
    from automem_agent import memory_agent_factory, run_suite
    from automem_envs import EpisodeSpec, Suite
    from probe_policy import probe_policy  # copied next to this script

    policy = probe_policy(["move west", "move east", "move north", "move south", "do"])
    async def slow(request):
        await asyncio.sleep(float(sys.argv[2]))
        return policy(request)
    suite = Suite(name="k", episodes=[EpisodeSpec(env_id="crafter", seed=s, max_steps=6) for s in range(3)])
    factory = memory_agent_factory(load_scaffold(builtin_scaffold("v0")), RoleModels.single(ScriptedModel(slow)))
    asyncio.run(run_suite(suite, factory, sys.argv[1], concurrency=2, progress=False))
    """
)


def test_resume_after_kill_9(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(_KILLABLE)
    shutil.copy(Path(__file__).with_name("probe_policy.py"), tmp_path)
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, str(script), str(out), "0.1"])
    eval_dir = out / "eval" / "crafter"
    deadline = time.monotonic() + 60
    # Kill once episode 2 (which starts when 0 or 1 ends) is midway.
    while time.monotonic() < deadline and proc.poll() is None:
        traces = sorted(eval_dir.glob("*.jsonl")) if eval_dir.exists() else []
        if len(traces) >= 3 and any(len(p.read_bytes().splitlines()) >= 3 for p in traces[2:]):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = {
        p.name: p.read_bytes() for p in eval_dir.glob("*.jsonl") if read_trace(p).finished
    }
    assert 1 <= len(finished_before) < 3

    subprocess.run([sys.executable, str(script), str(out), "0"], check=True, timeout=120)
    traces = list(iter_traces(out / "eval"))
    assert sorted(t.header.seed for t in traces) == [0, 1, 2]  # none lost, none duplicated
    assert all(t.finished and [s.step for s in t.steps] == list(range(6)) for t in traces)
    for name, data in finished_before.items():
        assert (eval_dir / name).read_bytes() == data  # finished episodes were not replayed
    results = msgspec.json.decode(Path(out / "results.json").read_bytes(), type=SuiteResult)
    assert sorted((e.seed, e.status) for e in results.episodes) == [
        (s, "finished") for s in range(3)
    ]


def test_env_and_agent_failures_are_kept_as_errored(tmp_path, v0):
    good = memory_agent_factory(v0, RoleModels.single(ScriptedModel(probe_policy(ACTIONS))))

    def factory(ctx):
        if ctx.spec.seed == 1:
            raise RuntimeError("agent could not start")
        return good(ctx)

    suite = Suite(
        name="mixed",
        episodes=[
            EpisodeSpec(env_id="crafter", seed=0, max_steps=2),
            EpisodeSpec(env_id="crafter", seed=1, max_steps=2),
            EpisodeSpec(env_id="no-such-game", seed=0, max_steps=2),
        ],
    )
    result = asyncio.run(run_suite(suite, factory, tmp_path, progress=False))
    status = {(e.env_id, e.seed): (e.status, e.summary.error or "") for e in result.episodes}
    assert status[("crafter", 0)] == ("finished", "")
    assert (
        status[("crafter", 1)][0] == "errored"
        and "agent could not start" in status[("crafter", 1)][1]
    )
    assert status[("no-such-game", 0)][0] == "errored"
    # Every episode, errored or not, has a complete trace: a header and a closing summary.
    for e in result.episodes:
        trace = read_trace(tmp_path / e.trace)
        assert trace.finished and trace.summary.status == e.status
    assert result.families["crafter"].errored == 1 and result.families["crafter"].episodes == 2
    assert result.errored == 2
