"""Atomic file writes for run directories: a reader, or a run resumed after `kill -9`, sees
either the old file or the whole new one, never a torn write."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes via a temporary file in the same directory and `os.replace`, so readers (and a
    resumed run) see either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, value: Any) -> None:
    """JSON for Structs and plain values, indented for people reading the run directory."""
    data = json.dumps(json.loads(_encoder.encode(value)), indent=2, sort_keys=False)
    write_text_atomic(path, data + "\n")
