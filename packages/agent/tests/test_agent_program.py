"""A scaffold whose code reproduces the reference Claude-written Crafter scaffold's four features
(prerequisite action gate, noop and repetition counters, craft-failure notices, a tech-tree
status line), plus scripted memory upkeep and an extra read-only MAP op, runs on real Crafter
with a scripted model; each feature shows up in the trace."""

from __future__ import annotations

import asyncio
import re
import shutil
from pathlib import Path

import pytest
from automem_agent import (
    RoleModels,
    builtin_scaffold,
    load_scaffold,
    memory_agent_factory,
    run_suite,
)
from automem_agent.models import ScriptedModel
from automem_agent.trace import iter_traces, memory_at
from automem_envs import EpisodeSpec, Suite

pytest.importorskip("crafter", reason="Crafter is not installed (uv sync --extra crafter)")

PROGRAM = '''

TECH_TREE = ["wood", "table", "wood_pickaxe", "stone", "stone_pickaxe", "iron", "iron_pickaxe"]
NEEDS = {
    "make stone pickaxe": ("wood_pickaxe", "you need a wooden pickaxe first"),
    "make iron pickaxe": ("stone_pickaxe", "you need a stone pickaxe first"),
}


def _have(inventory):
    return {k.replace(" ", "_"): v for k, v in inventory.items() if v}


class Agent:
    """Reference-style Crafter program: gate, counters, craft notices, tech tree, upkeep, MAP."""

    OPS = {"MAP": "<|MAP|><|END|>: the positions you have stood on so far"}

    def __init__(self, episode):
        self.episode = episode
        self.visited = []
        self.tables_seen = False

    def upkeep(self, step):
        pos = step.observation.position
        if pos is not None:
            self.visited.append(tuple(pos))
        if step.number % 3 == 0:
            have = ", ".join(f"{k} {v}" for k, v in sorted(_have(step.observation.inventory).items()))
            return f"<|APPEND|>progress.md|step {step.number}: {have or 'nothing'}<|END|>"
        return None

    def observe(self, step):
        notices = []
        history = step.history
        run = 0
        for record in reversed(history):
            if record.action != (history[-1].action if history else None):
                break
            run += 1
        if history and history[-1].action == "noop" and run >= 2:
            notices.append(f"NOOP COUNTER: you chose noop {run} times in a row.")
        elif run >= 3:
            notices.append(f"REPETITION: {history[-1].action!r} {run} times in a row.")
        if step.last is not None and step.last.action.startswith(("make ", "place ")):
            before = step.observations[-2].inventory if len(step.observations) > 1 else {}
            if before == step.observation.inventory:
                notices.append(f"CRAFT FAILED: {step.last.action!r} did nothing.")
        have = _have(step.observation.inventory)
        tree = " > ".join(f"{item} {'ok' if have.get(item) else '--'}" for item in TECH_TREE)
        notices.append(f"TECH TREE: {tree}")
        return {"notices": notices}

    def check_action(self, action, step):
        need = NEEDS.get(action)
        if need and not _have(step.observation.inventory).get(need[0]):
            return need[1]
        return None

    def op(self, name, argument, step):
        return f"visited {len(self.visited)} positions; last {self.visited[-3:]}"
'''

PLAN_SCRIPT = {
    0: "noop",
    1: "noop",
    2: "noop",
    3: "make wood pickaxe",
    4: "make stone pickaxe",
    5: "move west",
    6: "move west",
    7: "move west",
    8: "move west",
}


def _reply(request) -> str:
    """LOG: DONE. PLAN: the scripted action of the step (MAP first at step 6); after a
    rejection, another action."""
    last = request.messages[-1].content
    if last.startswith("LOG phase"):
        return "<|DONE|>"
    if "ACTION REJECTED" in last:
        return "<|ACTION|>move east<|END|>"
    plan = next(m.content for m in request.messages if m.content.startswith("PLAN phase"))
    step = int(re.match(r"PLAN phase, step (\d+)", plan).group(1))
    extra = "<|MAP|><|END|>" if step == 6 and last.startswith("PLAN phase") else ""
    return f"{extra}<|ACTION|>{PLAN_SCRIPT.get(step, 'noop')}<|END|>"


@pytest.mark.parametrize("isolated", [True, False], ids=["worker", "in-process"])
def test_reference_features_run_on_real_crafter(tmp_path: Path, isolated: bool) -> None:
    root = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), root)
    (root / "hooks.py").write_text((root / "hooks.py").read_text() + PROGRAM)
    scaffold = load_scaffold(root, isolated_hooks=isolated)
    model = ScriptedModel(_reply)
    suite = Suite(name="t", episodes=[EpisodeSpec(env_id="crafter", seed=42, max_steps=10)])
    factory = memory_agent_factory(scaffold, RoleModels.single(model))
    try:
        asyncio.run(run_suite(suite, factory, tmp_path / "out", concurrency=1))
    finally:
        scaffold.close()
    (trace,) = list(iter_traces(tmp_path / "out" / "eval"))
    steps = trace.steps
    assert len(steps) == 10 and trace.summary is not None
    assert trace.summary.status == "finished" and trace.summary.ending == "step_limit"
    for s in steps:
        assert not any("agent program" in e for e in s.events), s.events

    def notices(i: int) -> list[str]:
        return steps[i].hooks.notices if steps[i].hooks else []

    # 1. The prerequisite gate sent PLAN back with the message; the replacement ran.
    gate = steps[4]
    assert [r.message for r in gate.hooks.rejections] == ["you need a wooden pickaxe first"]
    assert gate.hooks.rejections[0].action == "make stone pickaxe"
    assert any(
        "ACTION REJECTED: you need a wooden pickaxe first" in m["content"]
        for t in gate.turns
        for m in t.messages
    )
    assert gate.action == gate.executed_action == "move east"
    # 2. Noop and repetition counters.
    assert "NOOP COUNTER: you chose noop 2 times in a row." in notices(2)
    assert "NOOP COUNTER: you chose noop 3 times in a row." in notices(3)
    assert "REPETITION: 'move west' 3 times in a row." in notices(8)
    # 3. Craft-failure notice the step after the failed craft.
    assert "CRAFT FAILED: 'make wood pickaxe' did nothing." in notices(4)
    # 4. The tech-tree status line, every step, in the prompt the model saw.
    for i, s in enumerate(steps):
        line = next(n for n in notices(i) if n.startswith("TECH TREE: "))
        assert "wood_pickaxe --" in line
        plan_prompt = next(t for t in s.turns if t.phase == "plan").messages
        assert any(line in m["content"] for m in plan_prompt)
    # Scripted upkeep through memfs ops, counted apart from the model's ops.
    assert steps[0].hooks.upkeep_op_counts == {"append": 1}
    assert "append" not in steps[0].op_counts
    assert trace.summary.upkeep_op_counts == {"append": 4}
    assert "step 9: nothing" in memory_at(trace, 9)["progress.md"]
    # The program's own read-only op answered the model.
    map_results = [r for t in steps[6].turns for r in t.results if r.op == "MAP"]
    assert map_results and map_results[0].ok and map_results[0].text.startswith("visited 7")
    assert steps[6].hooks.program_op_counts == {"MAP": 1}
    # The prompt says how to call MAP.
    assert "<|MAP|><|END|>" in steps[0].turns[0].messages[-1]["content"] or any(
        "<|MAP|><|END|>" in m["content"] for t in steps[0].turns for m in t.messages
    )


def test_scaffold_reference_covers_the_whole_format() -> None:
    import msgspec
    from automem_agent import TEMPLATE_VARIABLES, Manifest, scaffold_reference
    from automem_agent._hooks import HOOK_SIGNATURES
    from automem_agent._manifest import MemorySpec, PlanPhaseSpec, ProgramSpec, StuckSpec
    from automem_agent._program import METHODS, ActionRecord, EpisodeInfo, Turn
    from automem_envs import Observation
    from automem_memfs import OP_TYPES

    text = scaffold_reference()
    for cls in (Manifest, PlanPhaseSpec, StuckSpec, MemorySpec, ProgramSpec, Observation):
        for f in msgspec.structs.fields(cls):
            assert f"`{f.name}`" in text, (cls.__name__, f.name)
    for cls in (EpisodeInfo, ActionRecord, Turn):
        for f in msgspec.structs.fields(cls):
            assert f"`{f.name}`" in text, (cls.__name__, f.name)
    for name in TEMPLATE_VARIABLES:
        assert f"`${name}`" in text
    for name in HOOK_SIGNATURES:
        assert f"`{name}(" in text
    for name in METHODS:
        assert f"def {name}(" in text
    for name in OP_TYPES:
        assert f"`{name}`" in text
    assert "<|APPEND|>" in text and "step.memory.grep" in text and "max_rejections" in text


def test_program_load_problems_are_reported_at_load_time(tmp_path: Path) -> None:
    from automem_agent import ScaffoldError

    root = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), root)
    for source, problem in [
        ("Agent = 3\n", "Agent must be a class"),
        ("class Agent:\n    OPS = {'MAP': 'x'}\n", "OPS but has no op"),
        ("class Agent:\n    OPS = {'READ': 'x'}\n    def op(self, n, a, s):\n        return ''\n",
         "clashes with the memory op"),
    ]:  # fmt: skip
        (root / "hooks.py").write_text(source)
        with pytest.raises(ScaffoldError, match=problem):
            load_scaffold(root).close()


def test_program_mistakes_cost_the_call_not_the_episode(tmp_path: Path) -> None:
    root = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), root)
    (root / "hooks.py").write_text(
        "class Agent:\n"
        "    def __init__(self, episode):\n"
        "        self.calls = 0\n"
        "    def observe(self, step):\n"
        "        self.calls += 1\n"
        "        if step.number == 0:\n"
        "            raise ValueError('boom')\n"
        "        if step.number == 1:\n"
        "            return {'variables': {'memory_index': 'x'}}\n"
        "        return {'notices': [f'calls {self.calls}']}\n"
        "    def check_action(self, action, step):\n"
        "        return 'always no'\n"
    )
    scaffold = load_scaffold(root)
    model = ScriptedModel(lambda _r: "<|DONE|><|ACTION|>noop<|END|>")
    suite = Suite(name="t", episodes=[EpisodeSpec(env_id="crafter", seed=1, max_steps=3)])
    try:
        asyncio.run(
            run_suite(
                suite,
                memory_agent_factory(scaffold, RoleModels.single(model)),
                tmp_path / "out",
                concurrency=1,
            )
        )
    finally:
        scaffold.close()
    (trace,) = list(iter_traces(tmp_path / "out" / "eval"))
    s0, s1, s2 = trace.steps
    assert any("agent program observe raised ValueError: boom" in e for e in s0.events)
    assert any("observe may set only" in e for e in s1.events)
    assert s2.hooks.notices == ["calls 3"]  # state kept across steps
    # The gate sent PLAN back max_rejections (2) times, then let the action run.
    assert len(s2.hooks.rejections) == 3
    assert any("2 send-backs used" in e for e in s2.events)
    assert s2.action == "noop"


def test_replay_runs_a_candidate_program_on_a_recorded_episode(tmp_path: Path) -> None:
    from automem_agent import replay_hooks

    # Record an episode with plain v0 (no program), then dry-run the feature program on it.
    v0 = load_scaffold(builtin_scaffold("v0"))
    suite = Suite(name="t", episodes=[EpisodeSpec(env_id="crafter", seed=42, max_steps=6)])
    try:
        asyncio.run(
            run_suite(
                suite,
                memory_agent_factory(v0, RoleModels.single(ScriptedModel(_reply))),
                tmp_path / "out",
                concurrency=1,
            )
        )
    finally:
        v0.close()
    (trace,) = list(iter_traces(tmp_path / "out" / "eval"))
    assert trace.steps[4].action == "make stone pickaxe"  # v0 had no gate
    root = tmp_path / "candidate"
    shutil.copytree(builtin_scaffold("v0"), root)
    (root / "hooks.py").write_text((root / "hooks.py").read_text() + PROGRAM)
    candidate = load_scaffold(root)
    try:
        steps = replay_hooks(candidate, trace, start=2)
    finally:
        candidate.close()
    assert [s.step for s in steps] == [2, 3, 4, 5]
    assert "NOOP COUNTER: you chose noop 2 times in a row." in steps[0].notices
    assert "CRAFT FAILED: 'make wood pickaxe' did nothing." in steps[2].notices
    assert steps[2].verdict == "reject: you need a wooden pickaxe first"
    assert steps[3].verdict == "accept"
    assert steps[1].upkeep == ["<|APPEND|>progress.md|step 3: nothing<|END|>"]
    assert all(not s.events for s in steps), [s.events for s in steps]
