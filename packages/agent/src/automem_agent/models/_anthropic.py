"""Anthropic Messages API through the official SDK, with native tool use.

System messages go to `system=`; `ToolSpec`s, assistant `tool_calls` and user `tool_results`
map to `tools`, `tool_use` and `tool_result` blocks and back. The SDK's own retries are off:
our `RetryPolicy` decides, so every delay is visible and testable.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from automem_agent._chat import ChatMessage, ChatRequest, ChatResponse, ModelUnavailable, ToolCall
from automem_agent.models._imports import require
from automem_agent.models._retry import (
    RETRYABLE_STATUS,
    LoopLocal,
    RetryableError,
    RetryPolicy,
    parse_retry_after,
)
from automem_agent.models._secrets import env_key, scrub

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_use",
}


def _blocks(message: ChatMessage) -> str | list[dict[str, Any]]:
    if not message.tool_calls and not message.tool_results:
        return message.content
    blocks: list[dict[str, Any]] = [
        {
            "type": "tool_result",
            "tool_use_id": r.call_id,
            "content": r.content,
            "is_error": r.is_error,
        }
        for r in message.tool_results  # results must lead the user turn
    ]
    if message.content:
        blocks.append({"type": "text", "text": message.content})
    blocks += [
        {"type": "tool_use", "id": c.id, "name": c.name, "input": c.input}
        for c in message.tool_calls
    ]
    return blocks


def to_anthropic(request: ChatRequest, model: str, *, prompt_cache: bool = False) -> dict[str, Any]:
    """The keyword arguments for `messages.create` that express `request`.

    `request.temperature` is not sent: the Messages API of SDK 2.x has no sampling knobs.
    `request.adapter` has no meaning here and is ignored.
    """
    system = "\n\n".join(m.content for m in request.messages if m.role == "system")
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": [
            {"role": m.role, "content": _blocks(m)} for m in request.messages if m.role != "system"
        ],
    }
    if system:
        kwargs["system"] = system
    if prompt_cache:
        # Marks the last cacheable block, so a growing conversation re-reads its prefix cheaply.
        kwargs["cache_control"] = {"type": "ephemeral"}
    if request.stop:
        kwargs["stop_sequences"] = list(request.stop)
    if request.tools:
        kwargs["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.input_schema}
            for t in request.tools
        ]
    return kwargs


class AnthropicModel:
    """Claude through `anthropic.AsyncAnthropic`. The key is read from `api_key_env`
    (default ANTHROPIC_API_KEY) and nowhere else, and never appears in reprs or errors.
    `http_client` (an `httpx2.AsyncClient` or a factory for one) replaces the SDK's transport.
    `prompt_cache` asks the API to cache the prompt prefix (top-level `cache_control`)."""

    supports_tools = True

    def __init__(
        self,
        model: str,
        *,
        api_key_env: str = "ANTHROPIC_API_KEY",
        base_url: str | None = None,
        timeout: float = 600.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        http_client: Any = None,
        prompt_cache: bool = True,
        name: str | None = None,
    ):
        require("anthropic", "anthropic", backend="anthropic")
        if not env_key(api_key_env):
            raise ValueError(
                f"the anthropic backend reads its key from ${api_key_env}, which is unset"
            )
        self.model = model
        self.name = name or model
        self.base_url = base_url
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self.prompt_cache = prompt_cache
        self._api_key_env = api_key_env
        self._http_client = http_client
        self._semaphores = LoopLocal(lambda: asyncio.Semaphore(max_concurrency))
        self._clients = LoopLocal(self._new_client)

    def _new_client(self):
        import anthropic

        http_client = self._http_client
        if callable(http_client) and not hasattr(http_client, "send"):
            http_client = http_client()
        return anthropic.AsyncAnthropic(
            api_key=env_key(self._api_key_env),
            base_url=self.base_url,
            timeout=self.timeout,
            max_retries=0,  # RetryPolicy is the one retry loop
            http_client=http_client,
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        kwargs = to_anthropic(request, self.model, prompt_cache=self.prompt_cache)
        async with self._semaphores.get():
            return await self.retry.run(
                lambda: self._attempt(kwargs), what=f"anthropic {self.model}"
            )

    async def _attempt(self, kwargs: dict[str, Any]) -> ChatResponse:
        import anthropic

        key = env_key(self._api_key_env)
        start = time.perf_counter()
        try:
            message = await self._clients.get().messages.create(**kwargs)
        except anthropic.APITimeoutError:
            raise RetryableError(f"timed out after {self.timeout:g} s") from None
        except anthropic.APIConnectionError as exc:
            raise RetryableError(scrub(f"connection error: {exc}", key)) from None
        except anthropic.APIStatusError as exc:
            detail = scrub(f"HTTP {exc.status_code}: {exc.message}", key)
            if exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500:
                raise RetryableError(detail, parse_retry_after(exc.response.headers)) from None
            raise ModelUnavailable(f"{self.name}: {detail}") from None
        text = "".join(b.text for b in message.content if b.type == "text")
        calls = [
            ToolCall(id=b.id, name=b.name, input=dict(b.input))
            for b in message.content
            if b.type == "tool_use"
        ]
        return ChatResponse(
            text=text,
            # All prompt tokens, cached or not: the ledger counts what the model read.
            input_tokens=message.usage.input_tokens
            + (message.usage.cache_read_input_tokens or 0)
            + (message.usage.cache_creation_input_tokens or 0),
            output_tokens=message.usage.output_tokens,
            cache_read_tokens=message.usage.cache_read_input_tokens or 0,
            cache_write_tokens=message.usage.cache_creation_input_tokens or 0,
            latency_s=time.perf_counter() - start,
            model=message.model,
            finish_reason=_FINISH.get(message.stop_reason or "", message.stop_reason or ""),
            tool_calls=calls,
        )

    def __repr__(self) -> str:
        return f"AnthropicModel(model={self.model!r}, key_from=${self._api_key_env})"


def load_anthropic(rest: str, **options) -> AnthropicModel:
    """Loader for `anthropic:<model>`."""
    if not rest:
        raise ValueError("anthropic spec needs a model: anthropic:<model>")
    return AnthropicModel(rest, **options)
