"""One retry policy for the HTTP backends: exponential backoff with jitter on rate limits, 5xx
and timeouts, honouring the server's Retry-After. SDK-side retries are disabled so this policy
is the only one, and a test can see every delay."""

from __future__ import annotations

import asyncio
import random
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from automem_agent._chat import ModelUnavailable

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})


class RetryableError(Exception):
    """One attempt failed in a way worth retrying (`retry_after` in seconds if the server said)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (numeric form), if present."""
    for key, scale in (("retry-after-ms", 1e-3), ("retry-after", 1.0)):
        value = headers.get(key)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue  # an HTTP date: fall back to our own backoff
    return None


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How often and how long to retry. Attempt n (1-based) that fails waits
    `min(max_delay, base_delay * multiplier**(n-1))`, scaled by a random factor in
    `[1 - jitter, 1 + jitter]`, or the server's Retry-After (capped at `max_retry_after`)."""

    max_attempts: int = 6
    base_delay: float = 1.0
    multiplier: float = 2.0
    max_delay: float = 60.0
    jitter: float = 0.25
    max_retry_after: float = 120.0
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or not 0 <= self.jitter < 1:
            raise ValueError(f"bad retry policy: {self!r}")

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt `attempt` (1-based)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * self.multiplier ** (attempt - 1))
        return backoff * random.uniform(1 - self.jitter, 1 + self.jitter)

    async def run(self, attempt: Callable[[], Awaitable[T]], *, what: str) -> T:
        """Call `attempt` until it returns, retrying `RetryableError`s; after the last attempt
        raise `ModelUnavailable` saying what failed. Other exceptions pass straight through."""
        for n in range(1, self.max_attempts + 1):
            try:
                return await attempt()
            except RetryableError as exc:
                if n == self.max_attempts:
                    raise ModelUnavailable(
                        f"{what}: gave up after {n} attempts; last error: {exc.reason}"
                    ) from None
                await self.sleep(self.delay(n, exc.retry_after))
        raise AssertionError("unreachable")


class LoopLocal(Generic[T]):
    """One object per running event loop (semaphores and HTTP clients bind to a loop, and
    callers such as tests may run several loops over the life of one model)."""

    def __init__(self, factory: Callable[[], T]):
        self._factory = factory
        self._per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        value = self._per_loop.get(loop)
        if value is None:
            value = self._per_loop[loop] = self._factory()
        return value

    def pop(self) -> T | None:
        """Remove and return the current loop's object, if any."""
        return self._per_loop.pop(asyncio.get_running_loop(), None)
