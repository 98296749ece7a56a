"""Several OpenAI-compatible endpoints (vLLM replicas) behind one `ChatModel`.

`openai:http://h1:8000/v1,http://h2:8000/v1#Qwen/Qwen2.5-32B-Instruct` names two replicas of
one model. Each request goes to the healthy endpoint with the fewest requests in flight. An
endpoint whose request fails after its own retries is set aside for `cooldown_s`, and the
request is tried on the others; it fails (`ModelUnavailable`) only when every endpoint did.
A request the server rejects (HTTP 4xx: too long, bad adapter) is not retried elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from automem_agent._chat import ChatRequest, ChatResponse, ModelUnavailable
from automem_agent.models._openai import OpenAICompatModel, RequestRejected


class BalancedModel:
    """Least-loaded routing with failover over `endpoints` (all serving the same model)."""

    supports_tools = False
    supports_grammar = True

    def __init__(self, endpoints: Sequence[OpenAICompatModel], *, cooldown_s: float = 30.0):
        if len(endpoints) < 2:
            raise ValueError("BalancedModel needs at least two endpoints")
        self.endpoints = list(endpoints)
        self.name = endpoints[0].name
        self.cooldown_s = cooldown_s
        self.in_flight = [0] * len(self.endpoints)
        self.served = [0] * len(self.endpoints)  # answered requests per endpoint
        self._down_until = [0.0] * len(self.endpoints)

    def _order(self) -> list[int]:
        """Healthy endpoints by load, then those cooling down (tried last, not skipped)."""
        now = time.monotonic()
        return sorted(
            range(len(self.endpoints)),
            key=lambda i: (self._down_until[i] > now, self.in_flight[i], self.served[i]),
        )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        errors: list[str] = []
        for i in self._order():
            endpoint = self.endpoints[i]
            self.in_flight[i] += 1
            try:
                response = await endpoint.complete(request)
            except RequestRejected:
                raise
            except ModelUnavailable as exc:
                self._down_until[i] = time.monotonic() + self.cooldown_s
                errors.append(f"{endpoint.base_url}: {exc}")
                continue
            finally:
                self.in_flight[i] -= 1
            self._down_until[i] = 0.0
            self.served[i] += 1
            return response
        raise ModelUnavailable(f"every endpoint of {self.name} failed: " + " | ".join(errors))

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.aclose()

    def __repr__(self) -> str:
        urls = ", ".join(e.base_url for e in self.endpoints)
        return f"BalancedModel({self.name!r}, endpoints=[{urls}])"
