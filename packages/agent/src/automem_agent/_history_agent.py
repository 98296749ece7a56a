"""The baseline: BALROG's naive agent. No memory; the last N observation/action pairs in context."""

from __future__ import annotations

from collections import deque

from automem_envs import Observation, StepResult, env_family
from automem_memfs import Action

from automem_agent._agent import (
    AgentFactory,
    AgentInfo,
    Decision,
    EpisodeContext,
    RoleModels,
    ask,
    message_dicts,
)
from automem_agent._chat import ChatMessage
from automem_agent._syntax import parse, phase_syntax
from automem_agent._trace_records import LLMTurn

_SYSTEM = """You are playing {family} ({env_id}).
{instructions}

Valid actions: {actions}
Each turn you see the current observation. Reply with exactly one action.
{syntax}"""


class HistoryAgent:
    """Answers each step with one call to the action model, seeing the system prompt, the last
    `history` observation/action pairs as alternating user/assistant messages, and the current
    observation. The reply's ACTION call is the action; a reply without one is taken as plain
    text (its first non-empty line), and the env validates it like any other action."""

    def __init__(
        self,
        ctx: EpisodeContext,
        models: RoleModels,
        *,
        history: int = 16,
        syntax: str = "pipe",
        max_tokens: int = 64,
    ):
        self.ctx = ctx
        self.models = models
        self.max_tokens = max_tokens
        self.syntax = syntax
        model, adapter = models.model("action")
        self.info = AgentInfo(
            agent="history", models={"action": model.name}, adapters={"action": adapter}
        )
        self._pairs: deque[tuple[str, str]] = deque(maxlen=history)
        self._system = _SYSTEM.format(
            family=env_family(ctx.spec.env_id),
            env_id=ctx.spec.env_id,
            instructions=ctx.instructions.strip(),
            actions=", ".join(ctx.actions),
            syntax=phase_syntax([], syntax, end="action"),
        )

    async def act(self, observation: Observation, previous: StepResult | None) -> Decision:
        messages = [ChatMessage(role="system", content=self._system)]
        for obs_text, reply in self._pairs:
            messages.append(ChatMessage(role="user", content=obs_text))
            messages.append(ChatMessage(role="assistant", content=reply))
        messages.append(ChatMessage(role="user", content=observation.text))
        response, request = await ask(
            self.models, "action", messages, max_tokens=self.max_tokens, purpose="action"
        )
        calls = parse(response.text, self.syntax)
        action = next((c.text.strip() for c in calls if isinstance(c, Action)), None)
        events: list[str] = []
        error = None
        if action is None:
            action = next((ln.strip() for ln in response.text.splitlines() if ln.strip()), "")
            error = "no ACTION call; the reply's first line was used as the action"
        fallback = not action
        if fallback:
            action = self.ctx.default_action
            events.append(f"empty reply: fallback {action!r}")
        self._pairs.append((observation.text, _action_message(action, self.syntax)))
        turn = LLMTurn(
            phase="act",
            role="action",
            round=1,
            messages=message_dicts(request.messages),
            response=response.text,
            calls=calls,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            latency_s=response.latency_s,
            error=error,
            model=response.model,
            adapter=request.adapter,
        )
        return Decision(action=action, turns=[turn], fallback=fallback, events=events)

    def close(self) -> None:
        pass


def _action_message(action: str, syntax: str) -> str:
    # Past turns are shown in the canonical syntax, so the model sees clean examples of it.
    from automem_memfs import format_call

    return format_call(Action(text=action), syntax=syntax)


def history_agent_factory(models: RoleModels, *, history: int = 16) -> AgentFactory:
    """An agent factory for `run_suite` that plays every episode with a `HistoryAgent`."""

    def factory(ctx: EpisodeContext) -> HistoryAgent:
        return HistoryAgent(ctx, models, history=history)

    return factory
