"""What the runner needs from an agent, and what an agent is told about its episode."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from automem_envs import EpisodeSpec, Observation, StepResult

from automem_agent._chat import ChatMessage, ChatModel, ChatRequest, ChatResponse
from automem_agent._trace_records import HookRecord, LLMTurn


@dataclass(frozen=True)
class EpisodeContext:
    """Facts about one episode, handed to the agent factory before the first step."""

    spec: EpisodeSpec
    instructions: str
    actions: list[str]
    default_action: str
    memory_dir: Path  # where the agent keeps this episode's memory (it may ignore it)


@dataclass(frozen=True)
class AgentInfo:
    """How an agent describes itself in the trace header."""

    agent: str  # "memory" or "history"
    scaffold_name: str = ""
    scaffold_hash: str = ""
    models: dict[str, str] = field(default_factory=dict)  # role -> model name (no secrets)
    adapters: dict[str, str | None] = field(default_factory=dict)
    initial_memory_chars: int = 0  # memory size before the first step (growth is measured from it)


@dataclass
class Decision:
    """One step's outcome on the agent's side: the action to run and how it was reached."""

    action: str
    turns: list[LLMTurn]
    fallback: bool = False
    op_counts: dict[str, int] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)
    memory_bytes: int = 0
    memory_chars: int = 0
    memory_snapshot: str | None = None
    memory_diff: dict[str, Any] | None = None
    hooks: HookRecord | None = None  # what the scaffold's code produced this step


class Agent(Protocol):
    """An agent plays one episode. `previous` is the result of the last step (None at first).

    `act` raises only for infrastructure failures (e.g. `ModelUnavailable`); model mistakes
    are handled inside and end in some action."""

    info: AgentInfo

    async def act(self, observation: Observation, previous: StepResult | None) -> Decision: ...

    def close(self) -> None: ...


AgentFactory = Callable[[EpisodeContext], Agent]


@dataclass(frozen=True)
class RoleModels:
    """Which model answers which role. The `memory` role answers LOG turns and PLAN's memory
    consultation; the `action` role commits the world action. With one model and one adapter
    for both, the agent runs in single-model mode."""

    memory: ChatModel
    action: ChatModel | None = None  # None = the memory model
    memory_adapter: str | None = None
    action_adapter: str | None = None

    @classmethod
    def single(cls, model: ChatModel, adapter: str | None = None) -> RoleModels:
        return cls(memory=model, memory_adapter=adapter, action_adapter=adapter)

    @classmethod
    def from_specs(
        cls,
        memory: str,
        action: str | None = None,
        *,
        memory_adapter: str | None = None,
        action_adapter: str | None = None,
        **options: Any,
    ) -> RoleModels:
        """Loads models from `load_model` spec strings; a spec used by both roles is loaded
        once and shared (so one local model can serve both roles with different adapters)."""
        from automem_agent.models import load_model

        memory_model = load_model(memory, **options)
        action_model = memory_model if action in (None, memory) else load_model(action, **options)
        return cls(
            memory=memory_model,
            action=action_model,
            memory_adapter=memory_adapter,
            action_adapter=action_adapter,
        )

    @property
    def action_model(self) -> ChatModel:
        return self.action if self.action is not None else self.memory

    @property
    def two_model(self) -> bool:
        """True when the action role is answered differently from the memory role."""
        return self.action_model is not self.memory or self.action_adapter != self.memory_adapter

    def model(self, role: str) -> tuple[ChatModel, str | None]:
        if role == "action":
            return self.action_model, self.action_adapter
        return self.memory, self.memory_adapter

    def names(self) -> dict[str, str]:
        """Model names per role for trace headers, with anything credential-like removed."""
        return {"memory": scrub(self.memory.name), "action": scrub(self.action_model.name)}

    def adapters(self) -> dict[str, str | None]:
        return {"memory": self.memory_adapter, "action": self.action_adapter}


async def ask(
    models: RoleModels,
    role: str,
    messages: list[ChatMessage],
    *,
    max_tokens: int,
    purpose: str,
    temperature: float = 0.0,
    stop: list[str] | None = None,
    grammar: str | None = None,
) -> tuple[ChatResponse, ChatRequest]:
    """Sends the conversation to the model serving `role` (under `grammar`, if given)."""
    model, adapter = models.model(role)
    request = ChatRequest(
        messages=list(messages),
        max_tokens=max_tokens,
        temperature=temperature,
        adapter=adapter,
        purpose=purpose,
        stop=list(stop or []),
        grammar=grammar,
    )
    return await model.complete(request), request


_USERINFO = re.compile(r"//[^/@\s]*@")
_SECRET_PARAM = re.compile(r"(?i)\b(api[_-]?key|key|token|secret|password)=[^&#\s]*")
_KEY_LIKE = re.compile(r"\b(sk-[A-Za-z0-9_\-]{8,}|[A-Za-z0-9_\-]{40,})\b")


def scrub(text: str) -> str:
    """`text` without URL credentials, secret query parameters or key-looking tokens."""
    text = _USERINFO.sub("//", text)
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    return _KEY_LIKE.sub("***", text)


def message_dicts(messages: list[ChatMessage]) -> list[dict[str, str]]:
    """The trace's plain form of a conversation."""
    return [{"role": m.role, "content": m.content} for m in messages]
