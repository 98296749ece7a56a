"""JSON Lines on disk, with one rule for every reader and writer in AutoMem.

A record is on disk once its newline is. The bytes after the last newline, when they do not
parse, are a torn tail (a writer killed mid-line): a reader skips them, counts them in
`JsonlFile.torn_bytes` and logs one warning. A line that does not parse anywhere else is
damage, and raises `JsonlError` naming the file and the line. A writer that finds a torn tail
cuts it off before appending, so a new record always starts its own line and never merges into
the fragment (which a later reader would then take for damage in the middle of the file).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Generic, NamedTuple, TypeVar

import msgspec

from automem_agent._files import write_bytes_atomic

T = TypeVar("T")
log = logging.getLogger("automem_agent.jsonl")
_encoder = msgspec.json.Encoder()
_any = msgspec.json.Decoder()


class JsonlError(ValueError):
    """A JSON Lines file damaged before its last line, or holding a record of the wrong shape;
    the message starts with `path:line:`."""


class JsonlLine(NamedTuple, Generic[T]):
    """One record with where it sits: its 1-based line number and byte range (newline excluded)."""

    number: int
    start: int
    end: int
    record: T


@dataclass(frozen=True)
class JsonlFile(Generic[T]):
    """Every record of a file; `torn_bytes` > 0 when a torn last line was skipped."""

    path: Path
    records: list[T]
    torn_bytes: int = 0

    @property
    def torn(self) -> bool:
        return self.torn_bytes > 0

    @property
    def notice(self) -> str | None:
        """One line for a log or a report when a torn tail was skipped (None otherwise)."""
        return torn_notice(self.path, self.torn_bytes) if self.torn_bytes else None


def torn_notice(path: str | os.PathLike[str], torn_bytes: int) -> str:
    """The one wording every reader uses for a skipped torn tail."""
    return (
        f"{path}: the last line is incomplete ({torn_bytes} bytes, a writer was killed "
        "mid-line); it was skipped"
    )


def _decoder_for(type_: Any) -> msgspec.json.Decoder[Any]:
    return _any if type_ is Any else msgspec.json.Decoder(type_)


def iter_jsonl(
    path: str | os.PathLike[str],
    type_: type[T] | Any = Any,
    *,
    decoder: msgspec.json.Decoder[T] | None = None,
    torn: list[int] | None = None,
) -> Iterator[JsonlLine[T]]:
    """Streams the records of `path` (decoded as `type_`, or by `decoder`) with their line
    numbers and byte offsets. A torn last line is skipped and logged, and its size appended to
    `torn` when given; damage before it raises `JsonlError`. Blank lines are skipped."""
    decode = (decoder or _decoder_for(type_)).decode
    position = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, 1):
            start, position = position, position + len(line)
            complete = line.endswith(b"\n")
            body = line[:-1] if complete else line
            if not body.strip():
                continue
            try:
                record = decode(body)
            except msgspec.ValidationError as exc:  # (a DecodeError subclass: caught first)
                raise JsonlError(f"{path}:{number}: {exc}") from None
            except msgspec.DecodeError as exc:
                if complete:
                    raise JsonlError(f"{path}:{number}: not a JSON record ({exc})") from None
                log.warning(torn_notice(path, len(body)))
                if torn is not None:
                    torn.append(len(body))
                return
            yield JsonlLine(number, start, start + len(body), record)


def read_jsonl(
    path: str | os.PathLike[str],
    type_: type[T] | Any = Any,
    *,
    decoder: msgspec.json.Decoder[T] | None = None,
    missing_ok: bool = False,
) -> JsonlFile[T]:
    """Every record of `path` at once (see `iter_jsonl` for the rules). With `missing_ok`, a
    file that does not exist reads as empty."""
    torn: list[int] = []
    try:
        records = [x.record for x in iter_jsonl(path, type_, decoder=decoder, torn=torn)]
    except FileNotFoundError:
        if not missing_ok:
            raise
        records = []
    return JsonlFile(path=Path(path), records=records, torn_bytes=sum(torn))


def encode_line(record: Any) -> bytes:
    """One record as a JSON line, newline included (msgspec Structs, dicts, lists...)."""
    return _encoder.encode(record) + b"\n"


def _repair_tail(f: Any, path: Path) -> None:
    """Before appending through `f` (opened "r+b"): cut a torn tail off, or end a complete last
    record that lacks only its newline, so the next write starts a line of its own."""
    size = f.seek(0, os.SEEK_END)
    if size == 0:
        return
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return
    block = min(size, 1 << 20)
    while True:  # find the last newline (a record longer than a block needs a longer look)
        f.seek(size - block)
        tail = f.read(block)
        cut = tail.rfind(b"\n")
        if cut >= 0 or block == size:
            break
        block = min(size, block * 4)
    fragment = tail[cut + 1 :]
    try:
        _any.decode(fragment)
    except msgspec.DecodeError:
        log.warning(f"{path}: cut off an incomplete last line ({len(fragment)} bytes) to append")
        f.truncate(size - len(fragment))
        f.seek(0, os.SEEK_END)
        return
    f.seek(0, os.SEEK_END)
    f.write(b"\n")


class JsonlWriter:
    """Appends records to one file, flushing each line (and fsyncing if asked), so a killed run
    leaves every finished record on disk. Opening repairs a torn tail first (see the module).
    `scrub` maps each encoded line before it is written (e.g. a secret redactor)."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        fsync: bool = False,
        truncate: bool = False,
        scrub: Any = None,
    ):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fsync = fsync
        self._scrub = scrub
        self._file: BinaryIO
        if truncate or not self.path.exists():
            self._file = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        else:
            self._file = open(self.path, "r+b")  # noqa: SIM115 - closed in close()
            _repair_tail(self._file, self.path)

    def write(self, record: Any) -> None:
        """Writes one record as a line, then flushes it to the OS."""
        line = encode_line(record)
        self._file.write(self._scrub(line) if self._scrub else line)
        self._file.flush()
        if self._fsync:
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def append_jsonl(path: str | os.PathLike[str], *records: Any, fsync: bool = False) -> None:
    """Appends `records` to `path` (created if missing), one line each, after repairing a torn
    tail. Each call opens and closes the file, so it suits ledgers and logs, not hot loops."""
    with JsonlWriter(path, fsync=fsync) as w:
        for record in records:
            w.write(record)


def write_jsonl(path: str | os.PathLike[str], records: Iterable[Any]) -> int:
    """Replaces `path` atomically with `records`, one line each; returns how many."""
    lines = [encode_line(r) for r in records]
    write_bytes_atomic(Path(path), b"".join(lines))
    return len(lines)
