"""The viewer's data: one JSON payload per page, built from the run directory on request.

Nothing is copied or precomputed up front. The run page reads only small records and each
trace's tail; an episode's index is built when it is first opened; a step is one line read at
its byte offset plus the memory replayed from the nearest checkpoint.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from pathlib import Path
from typing import Any

import msgspec
from automem_agent.trace import apply_memory_diff

from automem_view import _layout
from automem_view._index import IndexCache, StepRow, TraceIndex

STUCK_MIN_STEPS = 5  # identical observations in a row that count as a stuck span
FIND_KINDS = ("errors", "invalid", "fallback", "truncated", "events", "text")
_MEMORY_DIR_LIMIT = 4 << 20  # bytes of a final memory directory shown when a trace has no diffs
_encoder = msgspec.json.Encoder()


class ViewError(LookupError):
    """A request for something the run does not have (bad episode id, step out of range)."""


class RunViewer:
    """Answers the viewer's requests for one run directory, read in place."""

    def __init__(self, run_dir: str | Path):
        self.run = Path(run_dir).resolve()
        if not self.run.is_dir():
            raise ViewError(f"run directory not found: {run_dir}")
        self.cache = IndexCache()

    # -- run page -------------------------------------------------------------------------
    def run_page(self) -> dict[str, Any]:
        notices: list[str] = []
        episodes, plots = _layout.scan(self.run)
        rows = _layout.iterations(self.run, notices)
        ledger = self.run / "trials.jsonl"
        trials = _layout.read_records(ledger, notices, self.run)
        config = next(
            (
                (self.run / n).read_text(encoding="utf-8", errors="replace")
                for n in ("config.toml", "config.json")
                if (self.run / n).is_file()
            ),
            None,
        )
        summary = _layout.read_json(self.run / "summary.json", notices, self.run)
        if not episodes and not rows and not trials:
            notices.append(
                "no traces, iterations or trials found here: is this a run directory? "
                "(expected iterations/NNN/, eval/<env>/<seed>.jsonl or trials.jsonl)"
            )
        listed = []
        for ref in episodes:
            info = _layout.tail_status(self.run / ref.id)
            if info.get("torn"):
                notices.append(f"{ref.id}: the last line is incomplete (cut off or being written)")
            listed.append({**msgspec.to_builtins(ref), **info})
        return {
            "run": str(self.run),
            "name": self.run.name,
            "notices": notices,
            "summary": summary if isinstance(summary, dict) else None,
            "config": config,
            "iterations": rows,
            "lineage": _layout.lineage(self.run, rows, notices) if rows else [],
            "trials": trials,
            "episodes": listed,
            "plots": plots,
            "files": _layout.run_files(self.run),
        }

    # -- episode page ---------------------------------------------------------------------
    def _ref(self, ep: str) -> tuple[_layout.EpisodeRef, TraceIndex]:
        path = (self.run / ep).resolve()
        if not path.is_relative_to(self.run) or path.suffix != ".jsonl" or not path.is_file():
            raise ViewError(f"no trace {ep!r} in this run")
        ref = _layout.episode_ref(path.relative_to(self.run).as_posix())
        if ref is None:
            ref = _layout.EpisodeRef(id=ep, section="", env="?", seed=0, partial=False)
        return ref, self.cache.get(path)

    def _episode_notices(self, ref: _layout.EpisodeRef, index: TraceIndex) -> list[str]:
        notices = list(index.notices)
        if index.header is None and not index.offsets:
            notices.append("the trace is empty: the episode has not written its header yet")
        if index.torn_tail:
            notices.append(
                f"the last line is incomplete ({index.torn_tail} bytes): the run was killed "
                "mid-write or is still writing it; it is not shown"
            )
        if index.summary is None and index.offsets:
            notices.append("no summary line: the episode was cut off or is still running")
        if index.rows and not index.has_diffs:
            notices.append(
                "this trace predates per-step memory diffs (older version): memory is shown "
                "as the final memory directory, not as it stood at each step"
            )
        if not ref.partial and not ref.memory_dir(self.run).is_dir():
            notices.append(
                f"memory directory {ref.memory_dir(self.run).relative_to(self.run)} is missing"
                + ("; memory is rebuilt from the trace's diffs" if index.has_diffs else "")
            )
        return notices

    def episode(self, ep: str) -> dict[str, Any]:
        ref, index = self._ref(ep)
        rows = index.rows
        kinds = sorted({k for r in rows for k in r.op_counts})
        siblings = [
            e.id
            for e in _layout.scan(self.run)[0]
            if e.env == ref.env and e.seed == ref.seed and e.id != ref.id
        ]
        return {
            "episode": msgspec.to_builtins(ref),
            "notices": self._episode_notices(ref, index),
            "header": index.header,
            "summary": index.summary,
            "steps": len(rows),
            "timeline": {
                "step": [r.step for r in rows],
                "progression": [r.progression for r in rows],
                "memory_bytes": [r.memory_bytes for r in rows],
                "ops": {k: [r.op_counts.get(k, 0) for r in rows] for k in kinds},
                "invalid": [i for i, r in enumerate(rows) if not r.valid],
                "flags": [_flags(r, rows[i - 1] if i else None) for i, r in enumerate(rows)],
                "stuck": stuck_spans(rows),
            },
            "compare_with": siblings,
        }

    def steps(self, ep: str, offset: int = 0, limit: int = 100) -> dict[str, Any]:
        _ref, index = self._ref(ep)
        offset = max(0, offset)
        page = index.rows[offset : offset + max(1, min(limit, 1000))]
        return {"offset": offset, "total": len(index.rows), "rows": msgspec.to_builtins(page)}

    def step(self, ep: str, n: int) -> bytes:
        """Step `n` (its step number) as JSON: the record verbatim, the memory after it and the
        changed files' text before it. Encoded here so the record is passed through unparsed."""
        ref, index = self._ref(ep)
        position = index.row_at(n)
        if position is None:
            raise ViewError(f"{ep} has no step {n} (it has {len(index.rows)} steps)")
        row = index.rows[position]
        line = index.read_line(row.line)
        notices: list[str] = []
        before: dict[str, str] = {}
        if index.has_diffs:
            with index.lock:
                previous = index.memory_after(position - 1) if position else {}
            diff = json.loads(line).get("memory_diff") or {}
            memory = dict(previous)
            try:
                apply_memory_diff(memory, diff)
            except (KeyError, TypeError):
                notices.append("this step's memory diff is malformed; memory shown before it")
            before = {p: previous[p] for p in diff if p in previous}
        else:
            memory = self._final_memory(ref, notices)
        payload = {
            "episode": ref.id,
            "position": position,
            "total": len(index.rows),
            "prev": index.rows[position - 1].step if position else None,
            "next": index.rows[position + 1].step if position + 1 < len(index.rows) else None,
            "record": msgspec.Raw(line),
            "memory": memory,
            "before": before,
            "notices": notices,
        }
        return _encoder.encode(payload)

    def _final_memory(self, ref: _layout.EpisodeRef, notices: list[str]) -> dict[str, str]:
        root = ref.memory_dir(self.run)
        files: dict[str, str] = {}
        total = 0
        for path in sorted(root.rglob("*")) if root.is_dir() else []:
            if path.is_file():
                total += path.stat().st_size
                if total > _MEMORY_DIR_LIMIT:
                    notices.append("the final memory directory is too large to show whole")
                    break
                rel = path.relative_to(root).as_posix()
                files[rel] = path.read_text(encoding="utf-8", errors="replace")
        if files:
            notices.append("memory shown is the episode's final memory directory")
        return files

    # -- filters and search ---------------------------------------------------------------
    def find(self, kind: str, q: str = "", ep: str | None = None, limit: int = 500) -> dict:
        if kind not in FIND_KINDS:
            raise ViewError(f"unknown filter {kind!r}; one of {', '.join(FIND_KINDS)}")
        ids = [ep] if ep else [e.id for e in _layout.scan(self.run)[0]]
        hits: list[dict[str, Any]] = []
        more = False
        pattern = _text_pattern(q) if kind == "text" else None
        if kind == "text" and pattern is None:
            return {"kind": kind, "q": q, "hits": [], "more": False}
        for ep_id in ids:
            _ref, index = self._ref(ep_id)
            found = (
                _text_hits(index, pattern, q)
                if pattern is not None
                else _row_hits(index.rows, kind)
            )
            for step, text in found:
                if len(hits) >= limit:
                    more = True
                    break
                hits.append({"episode": ep_id, "step": step, "text": text})
            if more:
                break
        return {"kind": kind, "q": q, "hits": hits, "more": more}

    def file(self, rel: str) -> Path:
        """A file of the run (plots, reviews, diffs), refusing paths that leave it."""
        path = (self.run / rel).resolve()
        if not path.is_relative_to(self.run) or not path.is_file():
            raise ViewError(f"no file {rel!r} in this run")
        return path


def _flags(row: StepRow, previous: StepRow | None) -> str:
    """One letter per notable thing at a step (the timeline marks and "next event" use them):
    e error, i invalid action, f fallback, t truncated reply, h harness event, p progress."""
    out = ""
    if row.errors:
        out += "e"
    if not row.valid:
        out += "i"
    if row.fallback:
        out += "f"
    if row.truncated:
        out += "t"
    if row.events:
        out += "h"
    if row.progression > (previous.progression if previous else 0.0):
        out += "p"
    return out


def stuck_spans(rows: list[StepRow]) -> list[list[int]]:
    """[first, last] step numbers of runs of an unchanged observation, or steps the harness
    marked stuck, merged where they touch."""
    spans: list[list[int]] = []
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i].obs_hash != rows[start].obs_hash:
            if i - start >= STUCK_MIN_STEPS:
                spans.append([rows[start].step, rows[i - 1].step])
            start = i
    for r in rows:
        if any(e.lower().startswith("stuck") for e in r.events):
            spans.append([r.step, r.step])
    spans.sort()
    merged: list[list[int]] = []
    for span in spans:
        if merged and span[0] <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], span[1])
        else:
            merged.append(span)
    return merged


def _row_hits(rows: list[StepRow], kind: str) -> list[tuple[int, str]]:
    out = []
    for r in rows:
        if kind == "errors" and r.errors:
            out.append((r.step, "; ".join(r.errors)))
        elif kind == "invalid" and not r.valid:
            out.append((r.step, f"{r.action!r} -> {r.executed_action!r}"))
        elif kind == "fallback" and r.fallback:
            out.append((r.step, f"fallback ran {r.executed_action!r}"))
        elif kind == "truncated" and r.truncated:
            out.append((r.step, f"{r.truncated} reply(s) cut at the token limit"))
        elif kind == "events" and r.events:
            out.append((r.step, "; ".join(r.events)))
    return out


def _text_pattern(q: str) -> re.Pattern[bytes] | None:
    """The query as it appears inside a JSON string (quotes and newlines escaped), any case."""
    if not q:
        return None
    escaped = json.dumps(q, ensure_ascii=False)[1:-1].encode()
    return re.compile(re.escape(escaped), re.IGNORECASE)


def _text_hits(index: TraceIndex, pattern: re.Pattern[bytes], q: str) -> list[tuple[int, str]]:
    data = index.path.read_bytes()[: index.scanned_to]
    step_of_line = {r.line: r.step for r in index.rows}
    out: list[tuple[int, str]] = []
    seen: set[int] = set()
    for match in pattern.finditer(data):
        line = bisect_right(index.offsets, match.start()) - 1
        if line in seen:
            continue
        seen.add(line)
        record = data[index.offsets[line] : index.ends[line]]
        out.append(
            (
                step_of_line.get(line, -1),
                _where(record, q) or _raw_snippet(data, index, line, match),
            )
        )
    return out


def _where(record: bytes, q: str) -> str | None:
    """ "field: ...text..." for the first string field of a record that holds `q` (any case)."""
    try:
        value = json.loads(record)
    except ValueError:
        return None
    needle = q.casefold()
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        name, item = stack.pop(0)
        if isinstance(item, str):
            at = item.casefold().find(needle)
            if at >= 0:
                start, end = max(0, at - 70), at + len(q) + 70
                text = item[start:end].replace("\n", " ⏎ ")
                return f"{name}: {'…' if start else ''}{text}{'…' if end < len(item) else ''}"
        elif isinstance(item, dict):
            stack.extend((f"{name}.{k}" if name else k, v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{name}[{i}]", v) for i, v in enumerate(item))
    return None


def _raw_snippet(data: bytes, index: TraceIndex, line: int, match: re.Match[bytes]) -> str:
    start = max(index.offsets[line], match.start() - 60)
    snippet = data[start : min(index.ends[line], match.end() + 60)]
    return snippet.decode("utf-8", errors="replace")
