"""The chat-model seam: typed requests and responses, and the protocol every backend meets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol, runtime_checkable

import msgspec

Role = Literal["system", "user", "assistant"]


class ToolSpec(msgspec.Struct, frozen=True, kw_only=True):
    """A tool offered to the model: a name, a description and a JSON schema for its input."""

    name: str
    description: str
    input_schema: dict[str, Any]


class ToolCall(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    name: str
    input: dict[str, Any]


class ToolResult(msgspec.Struct, frozen=True, kw_only=True):
    call_id: str
    content: str
    is_error: bool = False


class ChatMessage(msgspec.Struct, frozen=True, kw_only=True):
    """A message. Native tool use rides along: an assistant message may carry `tool_calls`,
    and the user message after it the matching `tool_results`."""

    role: Role
    content: str
    tool_calls: list[ToolCall] = []
    tool_results: list[ToolResult] = []


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
    tools: list[ToolSpec] = []  # honoured natively by backends with `supports_tools`; others ignore
    # A GBNF grammar the reply must follow (grammar-constrained decoding). Only backends with
    # `supports_grammar = True` take it; the agent refuses a grammar scaffold on any other.
    grammar: str | None = None


class ChatResponse(msgspec.Struct, frozen=True, kw_only=True):
    """A reply. `input_tokens` counts every prompt token read; of those, `cache_read_tokens`
    came from the provider's prompt cache and `cache_write_tokens` were written to it (billed
    at a discount and a premium respectively)."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    latency_s: float = 0.0
    model: str = ""
    finish_reason: str = ""  # "stop", "length", "tool_use", ...
    tool_calls: list[ToolCall] = []


@runtime_checkable
class ChatModel(Protocol):
    """Anything that can complete a chat. Backends raise `ModelUnavailable` only after retries."""

    name: str
    supports_tools: bool  # True if `ChatRequest.tools` is used natively (Anthropic)
    # Backends may also set `supports_grammar = True` when they enforce `ChatRequest.grammar`.

    async def complete(self, request: ChatRequest) -> ChatResponse: ...


class ModelUnavailable(RuntimeError):
    """The backend could not answer after its retries (infrastructure, not a model mistake)."""


def shared_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    """How many leading items two sequences have in common: two prompts' tokens (an engine's
    prefix cache), two turns' messages (a trace stores each prompt once per step)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
