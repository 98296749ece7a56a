"""Token prices for the cost ledger, in US dollars per million tokens (input, output).

Prices are matched by model-name prefix after any `anthropic:` spec prefix; an unknown model
(local SmolLM2, a vLLM server) has no price and is reported in tokens only.
"""

from __future__ import annotations

# Anthropic list prices (standard tier, no caching). Longer prefixes must come first.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-haiku": (0.25, 1.25),
}


def price_for(model: str) -> tuple[float, float] | None:
    """(input, output) dollars per million tokens for a model spec or name, or None if unknown."""
    name = model.split(":", 1)[1] if model.startswith("anthropic:") else model
    for prefix in sorted(PRICES_PER_MTOK, key=len, reverse=True):
        if name.startswith(prefix):
            return PRICES_PER_MTOK[prefix]
    return None


# Anthropic bills prompt-cache reads at a tenth of the input price and 5-minute cache writes at
# 1.25 times it.
CACHE_READ_FACTOR = 0.1
CACHE_WRITE_FACTOR = 1.25


def cost_of(
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
) -> float | None:
    """Dollars for this many tokens, or None when the model's price is unknown.
    `input_tokens` counts every prompt token; the cache reads and writes among them are priced
    at their own rates, so a cached re-read does not count at full weight."""
    price = price_for(model)
    if price is None:
        return None
    fresh = max(0, input_tokens - cache_read_tokens - cache_write_tokens)
    prompt = fresh + cache_read_tokens * CACHE_READ_FACTOR + cache_write_tokens * CACHE_WRITE_FACTOR
    return (prompt * price[0] + output_tokens * price[1]) / 1_000_000
