"""The LOG/PLAN agent on hand-made observations: phases, rounds, roles, model mistakes."""

from __future__ import annotations

import asyncio

from automem_agent import MemoryAgent, RoleModels, ScriptedModel, load_scaffold
from automem_envs import Observation, StepResult
from automem_memfs import Action, Append, Done, Read, Search, Write, format_call
from probe_policy import probe_policy

ACTIONS = ["noop", "move left", "move right", "move up", "move down", "do"]


def fmt(*calls) -> str:
    return "\n".join(format_call(c, syntax="pipe") for c in calls)


def obs(text="A grassy field.", pos=(3, 4)) -> Observation:
    return Observation(text=text, position=pos)


def result(o: Observation, action="noop", valid=True) -> StepResult:
    return StepResult(
        observation=o,
        reward=0.0,
        done=False,
        truncated=False,
        progression=0.0,
        valid_action=valid,
        action=action,
    )


def run(agent, o, prev=None):
    return asyncio.run(agent.act(o, prev))


def test_probe_step_logs_searches_and_acts(ctx, v0):
    model = ScriptedModel(probe_policy(ACTIONS))
    agent = MemoryAgent(ctx, v0, RoleModels.single(model))
    # Memory starts from the scaffold's files plus the env's reference files.
    files = agent.memory.files()
    assert files["reference/rules.md"] == ctx.instructions
    assert "move left" in files["reference/actions.md"] and "log.md" in files

    first = run(agent, obs())
    second = run(agent, obs(pos=(4, 4)), result(obs(pos=(4, 4))))
    # v0 has no LOG at step 0 (nothing has happened yet); every later step opens with it.
    assert [(t.phase, t.role, t.round) for t in first.turns] == [
        ("plan", "memory", 1),
        ("plan", "action", 2),
    ]
    assert [(t.phase, t.role, t.round) for t in second.turns] == [
        ("log", "memory", 1),
        ("plan", "memory", 1),
        ("plan", "action", 2),
    ]
    for d in (first, second):
        assert d.action in ACTIONS and not d.fallback
    assert first.op_counts == {"search": 1}
    assert second.op_counts == {"append": 1, "search": 1}
    log_turn = second.turns[0]
    assert log_turn.results[0].ok and isinstance(log_turn.calls[0], Append)
    # Step 0's diff starts from nothing; step 1's is an append to log.md at position (4, 4).
    assert "reference/rules.md" in first.memory_diff
    assert second.memory_diff == {"log.md": {"append": "at (4, 4)\n"}}
    assert agent.memory.files()["log.md"].endswith("what happened.\nat (4, 4)\n")
    # The search ran against real memory and found the logged position.
    assert "(4, 4)" in second.turns[1].results[0].text
    # Each turn records exactly what the model saw; the conversation is shared within a step.
    assert second.turns[2].messages[: len(second.turns[1].messages)] == second.turns[1].messages
    assert second.turns[0].messages[0]["role"] == "system"
    assert first.memory_snapshot != second.memory_snapshot


def test_garbage_forever_uses_the_fallback(ctx, v0):
    model = ScriptedModel(lambda r: "I think I will explore!!! }{")
    agent = MemoryAgent(ctx, v0, RoleModels.single(model))
    first = run(agent, obs("Start."))
    assert first.fallback and [t.phase for t in first.turns] == ["plan"] * 5
    d = run(agent, obs(), result(obs()))
    assert d.fallback and d.action == "noop"
    # v0's LOG ends on a reply without calls; PLAN keeps asking for all 5 rounds.
    assert [t.phase for t in d.turns] == ["log"] + ["plan"] * 5
    assert all(t.error for t in d.turns)
    assert any("LOG reply had no calls" in e for e in d.events)
    assert any("fallback 'noop'" in e for e in d.events)
    # The model was told what went wrong, in the next user message.
    assert "ERROR" in model.calls[2].messages[-1].content
    assert "commit exactly one ACTION" in model.calls[-1].messages[-1].content


def test_mistakes_go_back_to_the_model(ctx, v0):
    replies = iter(
        [
            fmt(Action(text="noop")),  # step 0 (PLAN only)
            # LOG 1: a path escaping the sandbox, and an ACTION where DONE belongs.
            fmt(Read(path="../../etc/passwd"), Action(text="do")),
            # LOG 2: fine.
            fmt(Append(path="notes.md", content="tree north"), Done()),
            # PLAN 1: a write op (not allowed in PLAN) and DONE (not PLAN's ending).
            fmt(Write(path="notes.md", content="wiped"), Done()),
            # PLAN 2: two actions; the first one counts.
            fmt(Search(pattern="tree"), Action(text="Move Left"), Action(text="do")),
        ]
    )
    model = ScriptedModel(lambda r: next(replies))
    agent = MemoryAgent(ctx, v0, RoleModels.single(model))
    run(agent, obs("Start."))
    d = run(agent, obs(), result(obs()))
    log1, _log2, plan1, plan2 = d.turns
    assert not log1.results[0].ok  # sandbox refused the path
    assert "not allowed in LOG" in log1.error
    assert plan1.results[0].error == "not_allowed" and "DONE ends LOG" in plan1.error
    assert "only one ACTION" in plan2.error
    assert d.action == "move left"  # the v0 repair hook mapped "Move Left"
    assert agent.memory.files()["notes.md"].endswith("tree north\n")  # PLAN's write never ran
    assert d.op_counts == {"read": 1, "append": 1, "search": 1}
    told = model.calls[2].messages[-1].content
    assert "ERROR" in told and "ACTION is not allowed in LOG" in told


def test_two_model_mode_routes_roles(ctx, v0):
    memory = ScriptedModel(probe_policy(["do"]), name="specialist")
    action = ScriptedModel(lambda r: fmt(Action(text="move up")), name="base")
    models = RoleModels(memory=memory, action=action, memory_adapter="mem-lora")
    agent = MemoryAgent(ctx, v0, models)
    first = run(agent, obs("Start."))
    # Step 0 has no LOG: PLAN consultation (search), the memory role's ACTION, the handover.
    assert [(t.phase, t.role) for t in first.turns] == [
        ("plan", "memory"),
        ("plan", "memory"),
        ("plan", "action"),
    ]
    d = run(agent, obs(), result(obs()))
    # memory: LOG, PLAN consultation (search), then its ACTION (advice) -> handover.
    assert [(t.phase, t.role) for t in d.turns] == [
        ("log", "memory"),
        ("plan", "memory"),
        ("plan", "memory"),
        ("plan", "action"),
    ]
    assert d.action == "move up"  # the action role's choice runs
    assert all(r.adapter == "mem-lora" and r.purpose == "memory" for r in memory.calls)
    assert [r.adapter for r in action.calls] == [None, None]
    # The action model saw the whole shared conversation, ending with the commit prompt.
    seen = action.calls[0].messages
    assert seen[0].role == "system" and "commit exactly one ACTION" in seen[-1].content
    assert agent.info.models == {"memory": "specialist", "action": "base"}


def test_two_model_memory_action_is_only_advice(ctx, v0):
    memory = ScriptedModel(
        lambda r: (
            fmt(Done())
            if not any(m.role == "assistant" for m in r.messages)
            else fmt(Action(text="do"))
        )
    )
    action = ScriptedModel(lambda r: fmt(Action(text="move down")))
    agent = MemoryAgent(ctx, v0, RoleModels(memory=memory, action=action))
    run(agent, obs("Start."))
    d = run(agent, obs(), result(obs()))
    assert [(t.phase, t.role) for t in d.turns] == [
        ("log", "memory"),
        ("plan", "memory"),
        ("plan", "action"),
    ]
    assert d.action == "move down"


def test_stuck_warning_after_window(ctx, scaffold_copy):
    toml = scaffold_copy / "scaffold.toml"
    toml.write_text(toml.read_text().replace("window = 2", "window = 4"))
    prompts: list[str] = []

    def policy(r):
        prompts.append(r.messages[1].content)
        return fmt(Done()) if len(r.messages) == 2 else fmt(Action(text="noop"))

    scaffold = load_scaffold(scaffold_copy)
    agent = MemoryAgent(ctx, scaffold, RoleModels.single(ScriptedModel(policy)))
    window = scaffold.manifest.stuck.window
    assert window == 4
    events = []
    for _ in range(window + 1):
        events.append(run(agent, obs("same view"), result(obs("same view"))).events)
    assert not any(e for e in events[: window - 1])
    assert events[window - 1] == [f"stuck: observation unchanged for {window} steps"]
    assert f"({window + 1} steps unchanged)" in prompts[-2]


def test_scaffold_choices_drive_the_agent(ctx, scaffold_copy):
    toml = scaffold_copy / "scaffold.toml"
    text = toml.read_text().replace("max_rounds = 5", "max_rounds = 2")
    text = text.replace('fallback_action = ""', 'fallback_action = "do"')
    text = text.replace("stop_on_empty = true", "stop_on_empty = false")
    text = text.replace("at_first_step = false", "at_first_step = true")
    text = text.replace(
        "max_calls_per_round = 6\nprompt", 'max_calls_per_round = 6\nstop = ["<<"]\nprompt'
    )
    toml.write_text(text)
    (scaffold_copy / "hooks.py").write_text(
        "def analyze(observation, history):\n    return f'ANALYSIS seen={len(history)}'\n"
    )
    s = load_scaffold(scaffold_copy)
    model = ScriptedModel(lambda r: "nothing useful")
    agent = MemoryAgent(ctx, s, RoleModels.single(model))
    d = run(agent, obs())
    assert len(d.turns) == 4 and d.fallback and d.action == "do"
    assert any("LOG did not say DONE within 2 rounds" in e for e in d.events)
    assert [r.stop for r in model.calls] == [[], [], ["<<"], ["<<"]]  # PLAN's stop strings only
    assert "ANALYSIS seen=0" in model.calls[2].messages[-1].content
