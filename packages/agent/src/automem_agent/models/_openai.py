"""OpenAI-compatible chat completions over HTTP (what `vllm serve` exposes).

The request's `adapter` becomes the `model` field, so one vLLM server started with
`--enable-lora --lora-modules memory=/path` serves the base model and the specialist.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from automem_agent._chat import ChatMessage, ChatRequest, ChatResponse, ModelUnavailable
from automem_agent.models._imports import require
from automem_agent.models._retry import (
    RETRYABLE_STATUS,
    LoopLocal,
    RetryableError,
    RetryPolicy,
    parse_retry_after,
)
from automem_agent.models._secrets import env_key, remember_key_env, scrub
from automem_agent.models._text import message_text


class RequestRejected(ModelUnavailable):
    """The server refused this request itself (HTTP 4xx): retrying elsewhere will not help."""


def _message_json(message: ChatMessage) -> dict[str, str]:
    # Chat templates and served open models get tool traffic as text.
    return {"role": message.role, "content": message_text(message)}


class OpenAICompatModel:
    """A chat model behind an OpenAI-compatible `/v1/chat/completions` endpoint.

    `adapter_models` maps a request's adapter to a served model name (default: the adapter
    name itself). The key, if any, comes from environment variable `api_key_env` only.
    At most `max_concurrency` requests are in flight per event loop; failures are retried by
    `retry` and end in `ModelUnavailable`.
    """

    supports_tools = False
    supports_grammar = True  # sent as vLLM's `structured_outputs.grammar`

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = "OPENAI_API_KEY",
        adapter_models: dict[str, str] | None = None,
        timeout: float = 300.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 32,
        name: str | None = None,
    ):
        require("httpx", "openai", backend="openai")
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = name or model
        self.adapter_models = dict(adapter_models or {})
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.max_concurrency = max_concurrency
        self._api_key_env = api_key_env
        remember_key_env(api_key_env)  # so traces, memory and logs redact it
        self._semaphores = LoopLocal(lambda: asyncio.Semaphore(max_concurrency))
        self._clients = LoopLocal(self._new_client)

    def _new_client(self):
        import httpx

        headers = {"content-type": "application/json"}
        key = env_key(self._api_key_env)
        if key:
            headers["authorization"] = f"Bearer {key}"
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=self.timeout)

    def served_model(self, adapter: str | None) -> str:
        """The `model` field sent for a request with this adapter."""
        if adapter is None:
            return self.model
        return self.adapter_models.get(adapter, adapter)

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body sent for `request`."""
        body: dict[str, Any] = {
            "model": self.served_model(request.adapter),
            "messages": [_message_json(m) for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.grammar:
            # vLLM's structured outputs (v0.12+; the older `guided_grammar` field was removed).
            body["structured_outputs"] = {"grammar": request.grammar}
        return body

    async def complete(self, request: ChatRequest) -> ChatResponse:
        body = self.payload(request)
        async with self._semaphores.get():
            return await self.retry.run(
                lambda: self._attempt(body), what=f"{self.name} at {self.base_url}"
            )

    async def _attempt(self, body: dict[str, Any]) -> ChatResponse:
        import httpx

        key = env_key(self._api_key_env)
        start = time.perf_counter()
        try:
            resp = await self._clients.get().post("/chat/completions", json=body)
        except httpx.TimeoutException:
            raise RetryableError(f"timed out after {self.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise RetryableError(scrub(f"connection error: {exc!r}", key)) from None
        latency = time.perf_counter() - start
        if resp.status_code in RETRYABLE_STATUS:
            raise RetryableError(
                scrub(f"HTTP {resp.status_code}: {resp.text[:200]}", key),
                parse_retry_after(resp.headers),
            )
        if resp.status_code >= 400:
            raise RequestRejected(
                scrub(f"{self.name}: HTTP {resp.status_code}: {resp.text[:500]}", key)
            )
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise RetryableError(scrub(f"malformed response: {resp.text[:200]}", key)) from None
        usage = data.get("usage") or {}
        return ChatResponse(
            text=text,
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            latency_s=latency,
            model=data.get("model") or body["model"],
            finish_reason=choice.get("finish_reason") or "",
        )

    async def aclose(self) -> None:
        """Close this event loop's HTTP client (others close with their loops)."""
        client = self._clients.pop()
        if client is not None:
            await client.aclose()

    def __repr__(self) -> str:
        return f"OpenAICompatModel(base_url={self.base_url!r}, model={self.model!r})"


def load_openai(rest: str, **options):
    """Loader for `openai:http://host:port/v1#<model>`; several comma-separated URLs are
    replicas of one model, balanced with failover (`BalancedModel`)."""
    urls, sep, model = rest.partition("#")
    endpoints = [u.strip() for u in urls.split(",") if u.strip()]
    if not sep or not endpoints or not model:
        raise ValueError(
            f"openai spec needs a URL and a model: openai:<url>[,<url>...]#<model>, got {rest!r}"
        )
    if len(endpoints) == 1:
        return OpenAICompatModel(endpoints[0], model, **options)
    from automem_agent.models._balanced import BalancedModel

    cooldown = options.pop("cooldown_s", 30.0)
    # A dead replica should cost seconds, not the single-endpoint minute of backoff: the
    # other replicas are the retry.
    options.setdefault("retry", RetryPolicy(max_attempts=3, max_delay=4.0))
    return BalancedModel(
        [OpenAICompatModel(url, model, **options) for url in endpoints], cooldown_s=cooldown
    )
