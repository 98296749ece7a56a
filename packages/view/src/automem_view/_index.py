"""A lazy index over one trace file: byte offsets of its lines and a light row per step.

The index is built the first time an episode is opened and kept while the file's size and
mtime stay the same. A file that only grew (a run still being written) is indexed from where the
last scan stopped, so reloading a live episode costs only its new lines.
"""

from __future__ import annotations

import gc
import hashlib
import os
import threading
from bisect import bisect_right
from pathlib import Path
from typing import Any

import msgspec
from automem_agent.trace import EpisodeSummary, TraceHeader, apply_memory_diff

# finish reasons that mean the reply was cut at the token limit (OpenAI, Anthropic, llama.cpp)
TRUNCATED_REASONS = frozenset({"length", "max_tokens", "max_output_tokens"})
CHECKPOINT_EVERY = 100  # steps between cached memory states (bounds one step's replay)


# Fields other versions may shape differently are typed `Any` and turned into text in `_row`,
# so one new or changed field never makes a whole trace unreadable.
class _TurnLite(msgspec.Struct):
    phase: str = ""
    role: str = ""
    error: Any = None
    finish_reason: Any = None
    input_tokens: int = 0
    output_tokens: int = 0


class _StepLite(msgspec.Struct):
    """The fields of a step line that the timeline and the filters need (the rest is skipped)."""

    type: str = ""
    step: int = -1
    observation: str = ""
    turns: list[_TurnLite] = []
    action: str = ""
    executed_action: str = ""
    valid_action: bool = True
    fallback: bool = False
    reward: float = 0.0
    progression: float = 0.0
    memory_bytes: int = 0
    op_counts: dict[str, Any] = {}
    events: list[Any] = []


class _DiffOnly(msgspec.Struct):
    memory_diff: dict[str, Any] | None = None


_lite = msgspec.json.Decoder(_StepLite)
_diff_only = msgspec.json.Decoder(_DiffOnly)
_header_decoder = msgspec.json.Decoder(TraceHeader)
_summary_decoder = msgspec.json.Decoder(EpisodeSummary)


class StepRow(msgspec.Struct, frozen=True, kw_only=True):
    """One step as the episode page lists it."""

    step: int
    line: int  # line number in the file (0 is the header)
    action: str
    executed_action: str
    valid: bool
    fallback: bool
    progression: float
    reward: float
    memory_bytes: int
    op_counts: dict[str, int]
    events: list[str]
    errors: list[str]
    truncated: int  # turns whose reply hit the token limit
    tokens: int
    turns: int
    obs_head: str
    obs_hash: str


def _row(lite: _StepLite, line: int) -> StepRow:
    errors = [_text(t.error) for t in lite.turns if t.error]
    return StepRow(
        step=lite.step,
        line=line,
        action=lite.action,
        executed_action=lite.executed_action,
        valid=lite.valid_action,
        fallback=lite.fallback,
        progression=lite.progression,
        reward=lite.reward,
        memory_bytes=lite.memory_bytes,
        op_counts={k: v for k, v in lite.op_counts.items() if isinstance(v, int)},
        events=[_text(e) for e in lite.events],
        errors=errors,
        truncated=sum(1 for t in lite.turns if _text(t.finish_reason) in TRUNCATED_REASONS),
        tokens=sum(t.input_tokens + t.output_tokens for t in lite.turns),
        turns=len(lite.turns),
        obs_head=lite.observation.lstrip()[:120].split("\n", 1)[0],
        obs_hash=hashlib.blake2b(lite.observation.encode(), digest_size=8).hexdigest(),
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else msgspec.json.encode(value).decode()


class TraceIndex:
    """Offsets, header, summary and step rows of one trace; `refresh()` catches up with the file."""

    def __init__(self, path: Path):
        self.path = path
        self.lock = threading.Lock()
        self._key: tuple[int, int, int] | None = None
        self._reset()

    def _reset(self) -> None:
        self.offsets: list[int] = []  # start of every complete line
        self.ends: list[int] = []
        self.scanned_to = 0
        self.header: dict[str, Any] | None = None
        self.summary: dict[str, Any] | None = None
        self.rows: list[StepRow] = []
        self.notices: list[str] = []
        self.torn_tail = 0  # bytes after the last newline
        self.has_diffs = False
        self._checkpoints: dict[int, dict[str, str]] = {}

    def refresh(self) -> TraceIndex:
        """Brings the index up to date with the file (cheap when nothing changed)."""
        st = os.stat(self.path)
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        if key == self._key:
            return self
        if self._key is not None and (st.st_ino != self._key[2] or st.st_size < self.scanned_to):
            self._reset()  # replaced or rewritten: start over
        self._key = key
        with open(self.path, "rb") as f:
            f.seek(self.scanned_to)
            data = f.read()
        start = 0
        collect = gc.isenabled()
        gc.disable()  # thousands of small records, none cyclic: collection passes only cost time
        try:
            while True:
                nl = data.find(b"\n", start)
                if nl < 0:
                    break
                self._add_line(data[start:nl], self.scanned_to + start, self.scanned_to + nl)
                start = nl + 1
        finally:
            if collect:
                gc.enable()
        self.scanned_to += start
        self.torn_tail = len(data) - start
        return self

    def _add_line(self, line: bytes, begin: int, end: int) -> None:
        number = len(self.offsets)
        self.offsets.append(begin)
        self.ends.append(end)
        if number == 0:
            if not _is_step(line):
                self.header = _decode_header(line, self.notices)
                return
            self.notices.append("the trace has no header line (older version); shown without one")
        try:
            lite = _lite.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            self.notices.append(f"line {number + 1} could not be read ({exc}); it is skipped")
            return
        if lite.type == "summary":
            self.summary = _decode_summary(line, self.notices)
        elif lite.type == "step" or (not lite.type and lite.step >= 0):
            self.rows.append(_row(lite, number))
            if not self.has_diffs and b'"memory_diff"' in line:
                self.has_diffs = True

    def read_line(self, number: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(self.offsets[number])
            return f.read(self.ends[number] - self.offsets[number])

    def row_at(self, step: int) -> int | None:
        """The position in `rows` of step `step` (steps are written in order)."""
        i = bisect_right(self.rows, step, key=lambda r: r.step) - 1
        return i if i >= 0 and self.rows[i].step == step else None

    def memory_after(self, position: int) -> dict[str, str]:
        """The memory files right after the step at `rows[position]`, replayed from the
        nearest cached checkpoint."""
        base = (position // CHECKPOINT_EVERY) * CHECKPOINT_EVERY
        while base > 0 and base - 1 not in self._checkpoints:
            base -= CHECKPOINT_EVERY
        files = dict(self._checkpoints.get(base - 1, {}))
        with open(self.path, "rb") as f:
            for i in range(base, position + 1):
                row = self.rows[i]
                f.seek(self.offsets[row.line])
                line = f.read(self.ends[row.line] - self.offsets[row.line])
                try:
                    apply_memory_diff(files, _diff_only.decode(line).memory_diff)
                except (msgspec.DecodeError, msgspec.ValidationError, KeyError, TypeError):
                    continue  # a damaged diff was already reported when indexing
                if i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                    self._checkpoints[i] = dict(files)
        return files


def _is_step(line: bytes) -> bool:
    try:
        return _lite.decode(line).type == "step"
    except (msgspec.DecodeError, msgspec.ValidationError):
        return False


def _decode_header(line: bytes, notices: list[str]) -> dict[str, Any] | None:
    try:
        return msgspec.to_builtins(_header_decoder.decode(line))
    except msgspec.ValidationError as exc:
        try:
            raw = msgspec.json.decode(line)
        except msgspec.DecodeError:
            raw = None
        if isinstance(raw, dict):
            notices.append(f"the header is from an older trace format ({exc}); shown as written")
            return raw
        notices.append(f"the first line is not a trace header ({exc})")
    except msgspec.DecodeError as exc:
        notices.append(f"the first line is not a trace header ({exc})")
    return None


def _decode_summary(line: bytes, notices: list[str]) -> dict[str, Any] | None:
    try:
        return msgspec.to_builtins(_summary_decoder.decode(line))
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        notices.append(f"the summary line is from an older format ({exc}); shown as written")
        raw = msgspec.json.decode(line)
        return raw if isinstance(raw, dict) else None


class IndexCache:
    """One `TraceIndex` per trace path, shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: dict[Path, TraceIndex] = {}

    def get(self, path: Path) -> TraceIndex:
        with self._lock:
            index = self._by_path.get(path)
            if index is None:
                index = self._by_path[path] = TraceIndex(path)
        with index.lock:
            index.refresh()
        return index
