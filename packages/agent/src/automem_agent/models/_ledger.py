"""Token accounting per role: how many calls, tokens and seconds each `purpose` used."""

from __future__ import annotations

import threading
import time

import msgspec

from automem_agent._chat import ChatModel, ChatRequest, ChatResponse, ModelUnavailable


class UsageTotals(msgspec.Struct, kw_only=True):
    """Running totals for one purpose (mutable; read a copy through `TokenLedger.summary`)."""

    calls: int = 0
    failures: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0


class TokenLedger:
    """Thread-safe totals of calls, failures, input/output tokens and latency per purpose."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[str, UsageTotals] = {}

    def record(self, purpose: str, response: ChatResponse) -> None:
        with self._lock:
            t = self._totals.setdefault(purpose, UsageTotals())
            t.calls += 1
            t.input_tokens += response.input_tokens
            t.output_tokens += response.output_tokens
            t.latency_s += response.latency_s

    def record_failure(self, purpose: str, latency_s: float = 0.0) -> None:
        with self._lock:
            t = self._totals.setdefault(purpose, UsageTotals())
            t.failures += 1
            t.latency_s += latency_s

    def summary(self) -> dict[str, dict[str, float | int]]:
        """`{purpose: {calls, failures, input_tokens, output_tokens, latency_s}}` plus a
        `"total"` row; plain data, ready for JSON."""
        with self._lock:
            rows = {p: msgspec.structs.asdict(t) for p, t in sorted(self._totals.items())}
        total = UsageTotals()
        for row in rows.values():
            for key, value in row.items():
                setattr(total, key, getattr(total, key) + value)
        rows["total"] = msgspec.structs.asdict(total)
        return rows

    def __repr__(self) -> str:
        return f"TokenLedger({self.summary()['total']})"


class MeteredModel:
    """Wraps a model and records every call (and every `ModelUnavailable`) in a ledger under
    `request.purpose`. Responses pass through unchanged."""

    def __init__(self, inner: ChatModel, ledger: TokenLedger | None = None):
        self.inner = inner
        self.ledger = ledger if ledger is not None else TokenLedger()
        self.name = inner.name
        self.supports_tools = inner.supports_tools
        self.supports_grammar = getattr(inner, "supports_grammar", False)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        start = time.perf_counter()
        try:
            response = await self.inner.complete(request)
        except ModelUnavailable:
            self.ledger.record_failure(request.purpose, time.perf_counter() - start)
            raise
        self.ledger.record(request.purpose, response)
        return response

    def __repr__(self) -> str:
        return f"MeteredModel(inner={self.inner!r})"
