"""API keys come from the environment and are scrubbed from any text we store, raise or log.

A backend names the environment variable its key lives in; `env_key` reads it and remembers the
name. `redactor()` covers those keys, and any variable whose name says it holds one
(`*API_KEY`, `*TOKEN`, `*SECRET*`, `*PASSWORD*`), in the encodings memfs's `Redactor` knows
(plain, base64, URL-encoding, hex, JSON escapes): traces, memory files, logs and errors pass
through it, since a model server may echo the key back.
"""

from __future__ import annotations

import functools
import logging
import os
import re

from automem_memfs import Redactor

_KEY_VARS: set[str] = set()
_KEY_NAME = re.compile(r"API_?KEY$|TOKEN$|SECRET|PASSWORD", re.IGNORECASE)


def remember_key_env(var: str | None) -> None:
    """Notes that a configured backend reads its key from `var`, so the key is redacted."""
    if var:
        _KEY_VARS.add(var)


def env_key(var: str | None) -> str | None:
    """The key in environment variable `var` (None if unset, empty or no variable named)."""
    remember_key_env(var)
    return (os.environ.get(var) or None) if var else None


def configured_secrets() -> tuple[str, ...]:
    """The values of the key variables backends were configured with, and of any variable
    whose name says it holds a key."""
    names = _KEY_VARS | {n for n in os.environ if _KEY_NAME.search(n)}
    return tuple(sorted({v for n in names if (v := os.environ.get(n))}))


@functools.lru_cache(maxsize=8)
def _redactor_for(secrets: tuple[str, ...]) -> Redactor:
    return Redactor(secrets)


def redactor(*extra: str | None) -> Redactor:
    """A `Redactor` for the configured secrets (and `extra`)."""
    return _redactor_for(tuple(sorted({*configured_secrets(), *(s for s in extra if s)})))


def scrub(text: str, *secrets: str | None) -> str:
    """`text` with `secrets` and every configured secret replaced, in any common encoding."""
    return redactor(*secrets).scrub(text)


_log_factory_installed = False


def redact_logging() -> None:
    """Makes every log record created from now on carry no configured secret (idempotent)."""
    global _log_factory_installed
    if _log_factory_installed:
        return
    _log_factory_installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        redactor().filter(record)
        return record

    logging.setLogRecordFactory(factory)
