"""Keeping secrets (API keys) out of memory files, traces and logs.

What a model server sends back is untrusted: a broken or hostile server may echo the request's
`Authorization` header in a completion or an error body, and from there the key would reach
memory, traces and logs. A `Redactor` replaces every listed secret, and the forms it commonly
travels in, with a mark.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

MARK = "[redacted]"
MIN_SECRET_CHARS = 8  # shorter values would blank ordinary words


def _base64_cores(secret: bytes) -> set[str]:
    """The base64 characters that encode only `secret`'s bytes, for each of the three
    alignments it can have inside a longer encoded string (standard and URL-safe alphabets)."""
    out: set[str] = set()
    n = len(secret)
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + secret).decode()
        first = -(-8 * k // 6)  # the first character with no bit of the padding before it
        last = 8 * (k + n) // 6  # characters before this one hold no bit from after it
        core = enc[first:last]
        out.update((core, core.replace("+", "-").replace("/", "_")))
    return out


def variants(secret: str) -> set[str]:
    """`secret` as it may appear in text: plain, JSON-escaped, URL-encoded (either hex case,
    `+` for spaces), hex, and base64 (standard or URL-safe, at any alignment)."""
    raw = secret.encode()
    pct = quote(secret, safe="")
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=True)[1:-1],
        pct,
        re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), pct),
        quote_plus(secret, safe=""),
        quote(secret),
        raw.hex(),
        raw.hex().upper(),
        *_base64_cores(raw),
    }
    return {f for f in forms if len(f) >= MIN_SECRET_CHARS}


class Redactor:
    """Replaces the listed secrets, in all their `variants`, with `mark` ("[redacted]").

    Secrets shorter than 8 characters are ignored. An empty redactor is falsy and changes
    nothing. It can also serve as a `logging` filter: `handler.addFilter(redactor)` rewrites
    each record's message (and exception text) before it is written.
    """

    def __init__(self, secrets: Iterable[str | None] = (), *, mark: str = MARK) -> None:
        self.mark = mark
        kept = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_CHARS})
        self._secrets = tuple(kept)
        forms = sorted({v for s in kept for v in variants(s)}, key=lambda v: (-len(v), v))
        self._rx = re.compile("|".join(map(re.escape, forms))) if forms else None
        self._rxb = re.compile(b"|".join(re.escape(f.encode()) for f in forms)) if forms else None
        self._markb = mark.encode()

    def __bool__(self) -> bool:
        return self._rx is not None

    def __repr__(self) -> str:  # never the secrets themselves
        return f"Redactor({len(self._secrets)} secrets)"

    def with_secrets(self, secrets: Iterable[str | None]) -> Redactor:
        """A redactor for these secrets and this one's."""
        return Redactor([*self._secrets, *secrets], mark=self.mark)

    def scrub(self, text: str) -> str:
        """`text` with every listed secret replaced."""
        if self._rx is None or not text:
            return text
        return self._rx.sub(self.mark, text)

    def scrub_bytes(self, data: bytes) -> bytes:
        """`data` (UTF-8 text, e.g. a JSON line) with every listed secret replaced."""
        if self._rxb is None or not data:
            return data
        return self._rxb.sub(self._markb, data)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrites a log record so that what its handler writes holds no secret."""
        if self._rx is None:
            return True
        record.msg = self.scrub(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.scrub(record.stack_info)
        return True
