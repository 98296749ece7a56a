"""Dry runs: a scaffold's hooks and agent program on a recorded episode, without a model.

A reviewer can see what a candidate's code would have produced at the steps of a trace before
the candidate is evaluated. The env is played again from the trace's seed with the recorded
executed actions, so the program sees real observations (text and structured fields); each
step also shows it the recorded previous turns and memory. The code runs in its usual sandboxed
hook worker. Nothing is written: upkeep ops and verdicts are reported, not applied.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec
from automem_envs import EpisodeSpec

from automem_agent._episode_hooks import episode_hooks
from automem_agent._memory_agent import _turn_view
from automem_agent._program import ActionRecord, EpisodeInfo, StepUpdate
from automem_agent._scaffold import Scaffold
from automem_agent.trace import Trace, apply_memory_diff


class ReplayStep(msgspec.Struct, frozen=True, kw_only=True):
    """What the scaffold's code produced at one recorded step. `verdict` is the program's
    answer to the action the episode really took: "accept", "reject: <message>" or
    "replace: <action>" ("" without a program)."""

    step: int
    observation: str  # the observation text after format_observation
    analysis: str = ""
    variables: dict[str, str] = {}
    notices: list[str] = []
    upkeep: list[str] = []  # memory op texts upkeep returned (not applied)
    repaired_action: str = ""  # repair_action on the recorded action, when it changed it
    verdict: str = ""
    events: list[str] = []


def replay_hooks(
    scaffold: Scaffold,
    trace: Trace,
    *,
    start: int = 0,
    stop: int | None = None,
    env_options: dict[str, Any] | None = None,
) -> list[ReplayStep]:
    """Runs `scaffold`'s code over the recorded steps of `trace` and returns its outputs for
    steps `start` to `stop - 1`. Earlier steps are fed too, so a stateful program arrives at
    `start` in the state the episode would have given it. Stops early (with an event on the
    last step) if the replayed env diverges from the recorded observations."""
    from automem_envs import make_from_spec

    h = trace.header
    spec = EpisodeSpec(env_id=h.env_id, seed=h.seed, max_steps=h.max_steps)
    env = make_from_spec(spec, **(env_options or {}))
    m = scaffold.manifest
    out: list[ReplayStep] = []
    try:
        observation = env.reset()
        hooks = episode_hooks(
            scaffold.hooks,
            EpisodeInfo(
                env_id=h.env_id,
                seed=h.seed,
                max_steps=h.max_steps,
                actions=list(env.actions),
                default_action=env.default_action,
                instructions=env.instructions,
            ),
            m.observation_history,
        )
        history: deque[Any] = deque(maxlen=m.observation_history)
        memory: dict[str, str] = {}
        previous = None
        try:
            for record in trace.steps:
                k = record.step
                if stop is not None and k >= stop:
                    break
                events: list[str] = []
                if observation.text != record.observation:
                    events.append(f"replay diverged from the trace at step {k}; stopped")
                    out.append(ReplayStep(step=k, observation="", events=events))
                    break
                last = None
                if previous is not None:
                    last = ActionRecord(
                        step=previous.step,
                        action=previous.action,
                        executed=previous.executed_action,
                        valid=previous.valid_action,
                        reward=previous.reward,
                        progression=previous.progression,
                        message=observation.message,
                    )
                update = StepUpdate(
                    step=k,
                    observation=observation,
                    last=last,
                    turns=[_turn_view(t) for t in previous.turns] if previous else [],
                )
                upkeep = hooks.begin(update, dict(memory), events)
                formatted = hooks.format_observation(observation, h.env_id, events)
                analysis = hooks.analyze(observation, list(history), events)
                produced = hooks.observe(dict(memory), events)
                repaired = hooks.repair_action(record.action, list(env.actions), events)
                verdict = hooks.check_action(record.action, events)
                history.append(observation)
                if k >= start:
                    out.append(
                        ReplayStep(
                            step=k,
                            observation=formatted,
                            analysis=analysis,
                            variables=dict(produced.variables) if produced else {},
                            notices=list(produced.notices) if produced else [],
                            upkeep=upkeep,
                            repaired_action=repaired if repaired != record.action else "",
                            verdict=_verdict_text(verdict, hooks.has_program),
                            events=events,
                        )
                    )
                apply_memory_diff(memory, record.memory_diff)
                result = env.step(record.executed_action)
                observation, previous = result.observation, record
        finally:
            hooks.close()
    finally:
        env.close()
    return out


def _verdict_text(verdict: Any, has_program: bool) -> str:
    if verdict is None:
        return "accept" if has_program else ""
    if not verdict.ok:
        return f"reject: {verdict.message}"
    if verdict.action:
        return f"replace: {verdict.action}"
    return "accept"
