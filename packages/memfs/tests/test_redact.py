"""The redaction list: no write stores a listed secret, in any common encoding."""

from __future__ import annotations

import base64
import json
import logging
import re
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from automem_memfs import (
    Append,
    Create,
    Insert,
    MemoryStore,
    Redactor,
    Rename,
    StrReplace,
    Write,
)

KEY = "sk-ant-api03-Zx9/yy+q=w p&o"


def encodings(secret: str) -> list[str]:
    raw = secret.encode()
    out = [
        secret,
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(secret, safe="")),
        quote_plus(secret),
        raw.hex(),
    ]
    for prefix in (b"", b"B", b"Be", b"Bearer "):  # every base64 alignment
        out.append(base64.b64encode(prefix + raw).decode())
        out.append(base64.urlsafe_b64encode(prefix + raw).decode())
    return out


@pytest.mark.parametrize("form", encodings(KEY))
def test_every_encoding_is_replaced(form: str) -> None:
    r = Redactor([KEY])
    out = r.scrub(f"before {form} after")
    assert "[redacted]" in out and out.startswith("before ") and out.endswith(" after")
    # nothing long enough to rebuild the key is left
    assert not any(len(piece) > 4 and piece in form for piece in out.split("[redacted]")[1:2])
    assert r.scrub_bytes(f"x{form}y".encode()).count(b"[redacted]") == 1


def test_short_and_missing_secrets_change_nothing() -> None:
    assert not Redactor([None, "", "abc"])
    assert Redactor(["abc"]).scrub("abc abc") == "abc abc"
    assert "sk-" not in repr(Redactor([KEY]))


def test_every_write_op_stores_the_secret_redacted(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "mem", redact=[KEY])
    b64 = base64.b64encode(KEY.encode()).decode()
    assert store.apply(Create(path="a.md", content=f"key {KEY}\n")).ok
    assert store.apply(Append(path="a.md", content=f"b64 {b64}")).ok
    assert store.apply(Write(path="b.md", content=f"url {quote(KEY, safe='')}\n")).ok
    assert store.apply(Insert(path="b.md", line=0, content=f"top {KEY}")).ok
    assert store.apply(StrReplace(path="b.md", old="url", new=f"URL {KEY}")).ok
    assert store.apply(Rename(path="b.md", new_path=f"{KEY[:12]}x.md")).ok  # short: not a secret
    src = tmp_path / "seed"
    src.mkdir()
    (src / "seed.md").write_text(f"seeded {KEY}\n")
    store.import_tree(src)
    snap = store.snapshot()
    store.restore(snap)
    for path in (tmp_path / "mem").rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "[redacted]" in text
            for form in encodings(KEY):
                assert form not in text, (form, path)


def test_a_redactor_is_a_logging_filter(caplog) -> None:
    log = logging.getLogger("automem.redact-test")
    handler = logging.StreamHandler()
    redactor = Redactor([KEY])
    caplog.handler.addFilter(redactor)
    try:
        log.error("key %s and %s", KEY, base64.b64encode(KEY.encode()).decode())
        try:
            raise ValueError(KEY)
        except ValueError:
            log.exception("failed")
    finally:
        caplog.handler.removeFilter(redactor)
        handler.close()
    assert KEY not in caplog.text and "[redacted]" in caplog.text
