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


def cost_of(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """Dollars for this many tokens, or None when the model's price is unknown."""
    price = price_for(model)
    if price is None:
        return None
    return (input_tokens * price[0] + output_tokens * price[1]) / 1_000_000
