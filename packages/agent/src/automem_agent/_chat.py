"""The chat-model seam: typed requests and responses, and the protocol every backend meets."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

Role = Literal["system", "user", "assistant"]


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    role: Role
    content: str


class ChatRequest(msgspec.Struct, frozen=True, kw_only=True):
    """One completion request.

    `adapter` names a LoRA adapter (None = base model): a vLLM `--lora-modules` name or a PEFT
    adapter loaded by the local backend. `purpose` is the agent role asking (`memory`, `action`,
    `meta`, ...) and is used only for token accounting and traces.
    """

    messages: list[ChatMessage]
    max_tokens: int = 512
    temperature: float = 0.0
    stop: list[str] = []
    adapter: str | None = None
    purpose: str = "memory"


class ChatResponse(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    model: str = ""
    finish_reason: str = ""  # "stop", "length", ...


@runtime_checkable
class ChatModel(Protocol):
    """Anything that can complete a chat. Backends raise `ModelUnavailable` only after retries."""

    name: str

    async def complete(self, request: ChatRequest) -> ChatResponse: ...


class ModelUnavailable(RuntimeError):
    """The backend could not answer after its retries (infrastructure, not a model mistake)."""
