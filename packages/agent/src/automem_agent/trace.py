"""Episode traces: write them as JSON Lines while an episode runs, read them back into types.

A trace file holds one `TraceHeader` line, one `StepRecord` line per step (flushed as it is
written) and, once the episode ends, one `EpisodeSummary` line. A file without a summary is a
run that was cut off. Loop 1 and Loop 2 read traces only through this module.

Memory is recorded as per-step diffs (`StepRecord.memory_diff`): path -> the file's new text,
`{"append": text}` when the file only grew at its end, or None when it was deleted. Step 0's
diff starts from an empty directory, so `memory_at(trace, k)` rebuilds memory after any step.

Prompts are recorded once per step: a step's rounds extend one conversation, so each turn is
written without the messages it shares with the turn before it (`LLMTurn.shared`), and
`read_trace` (or `expand_step`, for a line decoded by hand) gives every turn its whole prompt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from automem_agent._jsonl import JsonlError, JsonlWriter, iter_jsonl
from automem_agent._trace_records import (
    TRUNCATED_REASONS,
    EpisodeSummary,
    LLMTurn,
    StepRecord,
    TraceHeader,
    TraceRecord,
    compact_step,
    expand_step,
)
from automem_agent.models._secrets import redactor

__all__ = [
    "TRUNCATED_REASONS",
    "EpisodeSummary",
    "LLMTurn",
    "StepRecord",
    "Trace",
    "TraceError",
    "TraceHeader",
    "TraceRecord",
    "TraceWriter",
    "apply_memory_diff",
    "expand_step",
    "iter_traces",
    "memory_at",
    "read_trace",
    "trace_status",
]

_decoder = msgspec.json.Decoder(TraceRecord)


class TraceError(JsonlError):
    """A trace file that cannot be read: no header, or a damaged line before the last one."""


class Trace(msgspec.Struct, frozen=True, kw_only=True):
    """One episode read back. `summary` is None when the run was cut off before the end;
    `truncated` is True when the last line was cut mid-write (a crash) and was dropped."""

    path: str
    header: TraceHeader
    steps: list[StepRecord]
    summary: EpisodeSummary | None = None
    truncated: bool = False

    @property
    def finished(self) -> bool:
        """True when the episode closed with a summary (finished or errored)."""
        return self.summary is not None

    def turns(self, *, phase: str | None = None, role: str | None = None) -> Iterator[LLMTurn]:
        """Every LLM turn in step order, optionally only one phase and/or role."""
        for step in self.steps:
            for turn in step.turns:
                if (phase is None or turn.phase == phase) and (role is None or turn.role == role):
                    yield turn


class TraceWriter:
    """Appends records to one trace file, flushing after each (and fsyncing if asked), so a
    killed run leaves every completed step on disk. Steps are written compact (`compact_step`).
    Every line passes through the configured backends' key redactor first: a model server may
    echo the key in what it returns."""

    def __init__(self, path: str | os.PathLike[str], header: TraceHeader, *, fsync: bool = False):
        self.path = Path(path)
        self._writer = JsonlWriter(
            self.path, fsync=fsync, truncate=True, scrub=redactor().scrub_bytes
        )
        self.write(header)

    def write(self, record: TraceHeader | StepRecord | EpisodeSummary) -> None:
        self._writer.write(compact_step(record) if isinstance(record, StepRecord) else record)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> TraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_trace(path: str | os.PathLike[str]) -> Trace:
    """Decodes a trace file. A torn last line is dropped (the writer was killed mid-line; see
    `automem_agent.read_jsonl`); damage anywhere else, or a missing header, raises `TraceError`
    naming the file and line."""
    path = Path(path)
    header: TraceHeader | None = None
    steps: list[StepRecord] = []
    summary: EpisodeSummary | None = None
    torn: list[int] = []
    try:
        for number, _, _, record in iter_jsonl(path, decoder=_decoder, torn=torn):
            if isinstance(record, TraceHeader):
                if header is not None or number != 1:
                    raise TraceError(f"{path}:{number}: a header may only be the first line")
                header = record
            elif header is None:
                raise TraceError(f"{path}:{number}: the first line must be a header")
            elif isinstance(record, StepRecord):
                try:
                    steps.append(expand_step(record))
                except ValueError as exc:
                    raise TraceError(f"{path}:{number}: {exc}") from None
            else:
                summary = record
    except JsonlError as exc:
        raise TraceError(str(exc)) from None
    if header is None:
        raise TraceError(f"{path}: empty trace (no header)")
    return Trace(path=str(path), header=header, steps=steps, summary=summary, truncated=bool(torn))


def trace_status(path: str | os.PathLike[str]) -> EpisodeSummary | None:
    """The summary closing a trace, or None if the file is missing, unreadable or unfinished.
    Reads only the file's tail, so resuming a large run stays cheap."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            block = min(size, 1 << 16)
            f.seek(size - block)
            tail = f.read()
    except OSError:
        return None
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        record = _decoder.decode(last)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return record if isinstance(record, EpisodeSummary) else None


def iter_traces(
    directory: str | os.PathLike[str], *, finished_only: bool = False
) -> Iterator[Trace]:
    """Every `*.jsonl` trace under `directory` (recursively), in sorted path order."""
    for path in sorted(Path(directory).rglob("*.jsonl")):
        trace = read_trace(path)
        if trace.finished or not finished_only:
            yield trace


def apply_memory_diff(files: dict[str, str], diff: dict[str, Any] | None) -> None:
    """Applies one step's `memory_diff` to a path -> text mapping, in place."""
    for path, change in (diff or {}).items():
        if change is None:
            files.pop(path, None)
        elif isinstance(change, dict):
            files[path] = files.get(path, "") + change["append"]
        else:
            files[path] = change


def memory_at(trace: Trace, step: int) -> dict[str, str]:
    """The memory directory's files (path -> text) right after step `step` (-1 gives {})."""
    files: dict[str, str] = {}
    for record in trace.steps:
        if record.step > step:
            break
        apply_memory_diff(files, record.memory_diff)
    return files
