"""API keys come from the environment and are scrubbed from any text we raise or log."""

from __future__ import annotations

import os


def env_key(var: str | None) -> str | None:
    """The key in environment variable `var` (None if unset, empty or no variable named)."""
    return (os.environ.get(var) or None) if var else None


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with every non-trivial secret replaced by `***`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
