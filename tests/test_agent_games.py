"""A full (short) episode of each game with the v0 scaffold and a scripted memory policy.

The policy logs the player's position in LOG and searches memory for it in PLAN before acting;
the assertions check that the traces, the memory directories and the memory figures agree.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from automem_agent import (
    RoleModels,
    ScriptedModel,
    builtin_scaffold,
    load_scaffold,
    memory_agent_factory,
    memory_at,
    read_trace,
    run_suite,
)
from automem_envs import EpisodeSpec, Suite
from probe_policy import probe_policy  # a test helper of automem-agent

GAMES = {
    "crafter": ["move west", "move east", "move north", "move south", "do"],
    "minihack/MazeWalk-9x9": ["north", "east", "south", "west"],
    "nethack": ["north", "east", "south", "west", "search"],
}
STEPS = 6


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("games")
    scaffold = load_scaffold(builtin_scaffold("v0"))
    models: dict[str, RoleModels] = {}

    def factory(ctx):
        model = ScriptedModel(probe_policy(GAMES[ctx.spec.env_id]), name="probe")
        models[ctx.spec.env_id] = RoleModels.single(model)
        return memory_agent_factory(scaffold, models[ctx.spec.env_id])(ctx)

    suite = Suite(
        name="games",
        episodes=[EpisodeSpec(env_id=env, seed=42, max_steps=STEPS) for env in GAMES],
    )
    result = asyncio.run(run_suite(suite, factory, out, concurrency=3, progress=False))
    return out, result, scaffold


@pytest.mark.parametrize("env_id", list(GAMES))
def test_episode_trace_and_memory(run, env_id):
    out, result, scaffold = run
    (episode,) = [e for e in result.episodes if e.env_id == env_id]
    assert episode.status == "finished", episode.summary.error
    trace = read_trace(Path(out) / episode.trace)
    assert trace.header.env_id == env_id and trace.header.scaffold_hash == scaffold.content_hash
    n = len(trace.steps)
    assert 1 <= n <= STEPS and trace.summary.steps == n
    positions = []
    # v0 has no LOG at step 0 (nothing has happened yet): it opens with PLAN.
    first = trace.steps[0]
    assert [(t.phase, t.role) for t in first.turns] == [("plan", "memory"), ("plan", "action")]
    assert first.op_counts == {"search": 1} and first.valid_action and not first.fallback
    for step in trace.steps[1:]:
        assert [(t.phase, t.role) for t in step.turns] == [
            ("log", "memory"),
            ("plan", "memory"),
            ("plan", "action"),
        ]
        log, search, act = step.turns
        assert log.results[0].ok and log.results[0].op == "append"
        logged = re.search(r"at (\(-?\d+, -?\d+\))", log.response).group(1)
        positions.append(logged)
        assert f"You are at {logged}" in log.messages[-1]["content"]
        assert step.observation in log.messages[-1]["content"]  # LOG sees the whole outcome
        assert search.results[0].op == "search" and search.results[0].ok
        assert logged in search.results[0].text  # memory held what LOG wrote
        assert act.calls[0].text == step.action  # the committed ACTION is what ran
        assert step.valid_action and step.action in GAMES[env_id] and not step.fallback
        assert step.op_counts == {"append": 1, "search": 1}
        assert step.memory_snapshot and step.memory_bytes > 0
    # Memory on disk, memory rebuilt from the trace's diffs, and the positions all agree.
    mem_dir = Path(out) / "memory" / env_id / "42"
    on_disk = {
        p.relative_to(mem_dir).as_posix(): p.read_text() for p in mem_dir.rglob("*") if p.is_file()
    }
    assert memory_at(trace, n - 1) == on_disk
    assert on_disk["log.md"].splitlines()[-(n - 1) :] == [f"at {p}" for p in positions]
    assert on_disk["reference/rules.md"] == trace.header.instructions
    s = trace.summary
    assert s.op_counts == {"append": n - 1, "search": n} and s.write_to_search == (n - 1) / n
    assert s.memory_growth_per_step == pytest.approx(sum(len(f"at {p}\n") for p in positions) / n)
    assert s.stats.invalid_actions == 0 and s.fallback_actions == 0


def test_summary_per_family(run):
    _, result, _ = run
    assert set(result.families) == {"crafter", "minihack", "nethack"}
    for fam in result.families.values():
        assert fam.episodes == 1 and fam.errored == 0
        assert fam.write_to_search < 1.0 and fam.invalid_action_rate == 0.0  # no LOG at step 0
        assert fam.tokens_per_step > 0 and fam.memory_growth_per_step > 0
