"""v0 as the paper's starting agent: LOG sees the last action's whole outcome and never runs at
step 0, the stuck warning comes at the first repeat, NetHack/MiniHack get a map analysis, every
turn records its finish reason (cut replies are flagged), and in two-model mode the base model
never sees the specialist's ACTION."""

from __future__ import annotations

import asyncio
import re

import pytest
from automem_agent import (
    EpisodeContext,
    MemoryAgent,
    RoleModels,
    ScriptedModel,
    builtin_scaffold,
    load_scaffold,
)
from automem_envs import Observation, StepResult
from automem_memfs import Action, Append, Done, Search, format_call, parse_calls
from probe_policy import probe_policy

ACTIONS = ["noop", "move left", "move right", "move up", "move down", "do"]


def fmt(*calls) -> str:
    return "\n".join(format_call(c, syntax="pipe") for c in calls)


def outcome(o: Observation, action="noop") -> StepResult:
    return StepResult(
        observation=o,
        reward=0.0,
        done=False,
        truncated=False,
        progression=0.0,
        valid_action=True,
        action=action,
    )


def run(agent, o, prev=None):
    return asyncio.run(agent.act(o, prev))


def test_no_log_at_step_0_and_log_sees_the_whole_outcome(ctx, v0):
    model = ScriptedModel(probe_policy(ACTIONS))
    agent = MemoryAgent(ctx, v0, RoleModels.single(model))
    first = run(agent, Observation(text="A grassy field. A tree to the north.", position=(3, 4)))
    # Step 0: nothing has happened yet, so the step opens with PLAN.
    assert [(t.phase, t.round) for t in first.turns] == [("plan", 1), ("plan", 2)]
    assert first.action in ACTIONS and not first.fallback
    after = Observation(
        text="Message: You bump into a tree.\nA tree right in front of you.",
        message="You bump into a tree.",
        position=(3, 3),
    )
    second = run(agent, after, outcome(after, first.action))
    assert [t.phase for t in second.turns] == ["log", "plan", "plan"]
    log_prompt = second.turns[0].messages[-1]["content"]
    assert after.text in log_prompt  # the observation, not a one-line feedback
    assert f"Your last action: {first.action}" in log_prompt
    assert "You bump into a tree." in log_prompt
    assert second.turns[0].results[0].ok  # and LOG recorded it


def test_demo_keeps_its_log_at_step_0(ctx):
    demo = load_scaffold(builtin_scaffold("demo"))
    agent = MemoryAgent(ctx, demo, RoleModels.single(ScriptedModel(probe_policy(ACTIONS))))
    d = run(agent, Observation(text="A grassy field.", position=(3, 4)))
    assert d.turns[0].phase == "log"
    assert "A grassy field." not in d.turns[0].messages[-1]["content"]  # demo's LOG: feedback


def test_stuck_warning_from_the_first_repeated_observation(ctx, v0):
    model = ScriptedModel(probe_policy(ACTIONS))
    agent = MemoryAgent(ctx, v0, RoleModels.single(model))
    same = Observation(text="A wall to every side.", position=(1, 1))
    d0 = run(agent, same)
    d1 = run(agent, same, outcome(same))
    moved = Observation(text="An open field.", position=(2, 1))
    d2 = run(agent, moved, outcome(moved))
    assert not any(e.startswith("stuck") for e in d0.events + d2.events)
    assert "stuck: observation unchanged for 2 steps" in d1.events
    plan_prompt = next(t for t in d1.turns if t.phase == "plan").messages[-1]["content"]
    assert "WARNING: the observation is the same as before your last action" in plan_prompt
    assert "WARNING" not in next(t for t in d2.turns if t.phase == "plan").messages[-1]["content"]


ROOM = [
    "--------",
    "|......|",
    "|..@...+",
    "|.d..>.|",
    "---.----",
]


def test_map_analysis_describes_a_room_by_direction(v0):
    # The grid is a window of the map whose top-left cell is (10, 5), so @ is at (13, 7).
    room = Observation(text="(room)", grid=ROOM, grid_origin=(10, 5), position=(13, 7))
    events: list[str] = []
    text = v0.hooks.analyze(room, [], events)
    assert not events
    assert "you are @ at x=13, y=7" in text
    assert (
        "Adjacent: north floor; northeast floor; east floor; southeast floor; south floor; "
        "southwest monster 'd'; west floor; northwest floor." in text
    )
    assert "You can step: north, northeast, east, southeast, south, west, northwest." in text
    assert "Stairs: stairs down 1 south and 2 east." in text
    assert "Exits: doorway 2 south; closed door 4 east." in text
    assert "Monsters: 'd' 1 southwest (adjacent!)." in text
    # Games without a map window (Crafter's local view) get no analysis.
    crafter = Observation(text="(crafter)", grid=["..@.."], position=(30, 30))
    assert v0.hooks.analyze(crafter, [], events) == ""


_WORDS = {".": "floor", "-": "wall", "|": "wall", " ": "unexplored/dark", "#": "corridor"}


@pytest.mark.parametrize("observation_format", ["compact", "balrog"])
def test_map_analysis_on_a_real_minihack_observation(tmp_path, v0, observation_format):
    pytest.importorskip("minihack", reason="needs the nethack extra (uv sync --extra nethack)")
    from automem_envs import EpisodeSpec, make_from_spec

    spec = EpisodeSpec(
        env_id="minihack/MazeWalk-9x9",
        seed=42,
        max_steps=20,
        observation_format=observation_format,
    )
    with make_from_spec(spec) as env:
        observation = env.reset()
        ctx = EpisodeContext(
            spec=spec,
            instructions=env.instructions,
            actions=list(env.actions),
            default_action=env.default_action,
            memory_dir=tmp_path / "memory",
        )
        agent = MemoryAgent(ctx, v0, RoleModels.single(ScriptedModel(probe_policy(env.actions))))
        try:
            d = run(agent, observation)
        finally:
            agent.close()
    plan_prompt = d.turns[0].messages[-1]["content"]
    assert "Map analysis" in plan_prompt and not d.events
    # Read the player's surroundings off the game's own map and check every direction.
    ox, oy = observation.grid_origin
    px, py = observation.position[0] - ox, observation.position[1] - oy
    grid = observation.grid
    assert grid[py][px] == "@"

    def cell(x, y):
        return grid[y][x] if 0 <= y < len(grid) and x < len(grid[y]) else " "

    offsets = {"north": (0, -1), "east": (1, 0), "south": (0, 1), "west": (-1, 0)}
    for name, (dx, dy) in offsets.items():
        ch = cell(px + dx, py + dy)
        word = _WORDS.get(ch)
        if word is not None:
            assert re.search(rf"[:;] {name} {re.escape(word)}[;.]", plan_prompt), (name, ch)
    # The maze's goal, the down stairs, wherever they are in view, by direction and distance.
    goal = [(x, y) for y, row in enumerate(grid) for x, ch in enumerate(row) if ch == ">"]
    if goal:
        gx, gy = goal[0]
        dy, dx = gy - py, gx - px
        parts = [f"{abs(dy)} {'north' if dy < 0 else 'south'}"] if dy else []
        parts += [f"{abs(dx)} {'west' if dx < 0 else 'east'}"] if dx else []
        if dx and abs(dx) == abs(dy):
            parts = [f"{abs(dx)} {'north' if dy < 0 else 'south'}{'west' if dx < 0 else 'east'}"]
        assert f"stairs down {' and '.join(parts)}" in plan_prompt


def test_finish_reason_on_every_turn_and_cut_replies_flagged(ctx, v0):
    from automem_agent import ChatResponse

    def policy(request):
        if request.messages[-1].content.startswith("PLAN") and len(request.messages) == 2:
            # The budget ran out mid-call: the reply is cut and says so.
            return ChatResponse(text="<|SEARCH|>tre", finish_reason="length", output_tokens=4096)
        return fmt(Action(text="noop"))

    agent = MemoryAgent(ctx, v0, RoleModels.single(ScriptedModel(policy)))
    d = run(agent, Observation(text="A grassy field.", position=(3, 4)))
    assert [t.finish_reason for t in d.turns] == ["length", "stop"]
    assert [t.truncated for t in d.turns] == [True, False]
    assert any("reply cut at max_tokens (4096)" in e for e in d.events)


def test_two_model_base_model_never_sees_the_specialists_action(ctx, v0):
    def specialist(request):
        if request.messages[-1].content.startswith("LOG"):
            return fmt(Append(path="log.md", content="moved"), Done())
        # Consults memory and adds its own advice, which the base model must not see.
        return "I checked my notes.\n" + fmt(Search(pattern="tree"), Action(text="do"))

    base = ScriptedModel(lambda r: fmt(Action(text="move left")), name="base")
    memory = ScriptedModel(specialist, name="specialist")
    models = RoleModels(memory=memory, action=base, memory_adapter="mem-lora")
    agent = MemoryAgent(ctx, v0, models)
    first = Observation(text="A grassy field.", position=(3, 4))
    run(agent, first)
    d = run(agent, first, outcome(first))
    assert [(t.phase, t.role) for t in d.turns] == [
        ("log", "memory"),
        ("plan", "memory"),
        ("plan", "action"),
    ]
    assert d.action == "move left"
    seen = base.calls[-1].messages
    replies = [m.content for m in seen if m.role == "assistant"]
    assert len(replies) == 2 and not any(
        isinstance(c, Action) for text in replies for c in parse_calls(text)
    )
    # Everything else the specialist wrote is still there, and the trace shows what it saw.
    assert replies[1] == "I checked my notes.\n" + fmt(Search(pattern="tree"))
    assert d.turns[2].messages[-2]["content"] == replies[1]
    # The specialist's own turn keeps its verbatim reply (Loop 2 learns from it).
    assert "<|ACTION|>do<|END|>" in d.turns[1].response
