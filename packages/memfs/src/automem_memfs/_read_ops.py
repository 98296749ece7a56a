"""`ReadOps`: the read-only ops of `MemoryStore`: read (file, line range or listing), tail, search
and count."""

from __future__ import annotations

import stat
import time

from automem_memfs import _fsio
from automem_memfs._errors import MemfsError
from automem_memfs._ops import Count, OpResult, Read, Search, Tail
from automem_memfs._paths import normalize_path
from automem_memfs._store_base import StoreBase, _Entry
from automem_memfs._text import (
    Matcher,
    RegexError,
    RegexTimeout,
    clip,
    number_lines,
    plural,
    split_lines,
)

MAX_PATTERN_CHARS = 500


class ReadOps(StoreBase):
    """Handlers for the ops that never change memory."""

    def _target(self, path: str, *, allow_root: bool) -> tuple[str, _Entry | None]:
        """(rel, entry) for a file, or (rel, None) for a directory (or the root)."""
        rel = normalize_path(path, self.limits, allow_root=allow_root)
        if rel == "":
            return rel, None
        with _fsio.Parent(self._fd, rel) as p:
            if stat.S_ISDIR(self._existing(p, rel).st_mode):
                return rel, None
            return rel, self._load(p)

    def _numbered(self, header: str, lines: list[str], start: int, end: int) -> str:
        return number_lines(
            header,
            lines,
            start,
            end,
            limit=self.limits.max_read_chars,
            rest="Read lines {next}-{end} with a line range",
        )

    def _listing(self, rel: str) -> OpResult:
        files = self._all(rel)
        where = self._show(rel) + "/" if rel else (self._prefix or "memory root")
        if not files:
            text = f"{where} is empty." if rel else "Memory is empty: no files yet."
            return OpResult(op="read", ok=True, text=text, path=rel)
        total = sum(e.nbytes for _, e in files)
        rows = [f"Directory {where} ({plural(len(files), 'file')}, {total:,} B):"]
        used = len(rows[0])
        for i, (r, e) in enumerate(files):
            row = f"{self._show(r)}  {plural(e.lines)}  {e.nbytes:,} B"
            if used + len(row) > self.limits.max_read_chars:
                rows.append(f"[{len(files) - i} more files not shown; list a subdirectory]")
                break
            rows.append(row)
            used += len(row) + 1
        return OpResult(op="read", ok=True, text="\n".join(rows), path=rel)

    def _op_read(self, op: Read) -> OpResult:
        rel, e = self._target(op.path, allow_root=True)
        if e is None:
            return self._listing(rel)
        show = self._show(rel)
        lines = split_lines(e.text or "")
        n = len(lines)
        start = 1 if op.start is None else op.start
        end = n if op.end is None or op.end == -1 else op.end
        if n == 0:
            return OpResult(op="read", ok=True, text=f"{show} is empty (0 lines).", path=rel)
        if start < 1 or start > n:
            raise MemfsError(
                f"Line {start} is out of range: {show} has {n} lines (1-{n}).", code="bad_range"
            )
        if end < start:
            raise MemfsError(
                f"Bad line range {start}-{end}: the end must not be before the start.",
                code="bad_range",
            )
        end = min(end, n)
        if start == 1 and end == n:
            header = f"{show} ({n} lines, {e.nbytes:,} B):"
        else:
            header = f"{show} lines {start}-{end} of {n}:"
        return OpResult(
            op="read", ok=True, text=self._numbered(header, lines, start, end), path=rel
        )

    def _op_tail(self, op: Tail) -> OpResult:
        if op.n < 1:
            raise MemfsError("tail needs a line count of at least 1.", code="bad_args")
        rel, e = self._target(op.path, allow_root=False)
        if e is None:
            raise MemfsError(f"{self._show(rel)} is a directory; tail reads a file.", code="is_dir")
        lines = split_lines(e.text or "")
        n = len(lines)
        show = self._show(rel)
        if n == 0:
            return OpResult(op="tail", ok=True, text=f"{show} is empty (0 lines).", path=rel)
        start = max(n - op.n + 1, 1)
        header = f"Last {n - start + 1} lines of {show} (lines {start}-{n} of {n}):"
        return OpResult(op="tail", ok=True, text=self._numbered(header, lines, start, n), path=rel)

    def _matcher(self, pattern: str, regex: bool) -> Matcher:
        if not pattern:
            raise MemfsError("The search pattern is empty; give a keyword.", code="bad_args")
        if len(pattern) > MAX_PATTERN_CHARS:
            raise MemfsError(
                f"The pattern is longer than {MAX_PATTERN_CHARS} characters; shorten it.",
                code="bad_args",
            )
        try:
            return Matcher(pattern, regex=regex)
        except RegexError as e:
            raise MemfsError(
                f"Invalid regex {pattern!r}: {e}. Fix it, or search for plain text instead.",
                code="bad_regex",
            ) from None

    def _scope(self, path: str | None) -> tuple[str, list[tuple[str, _Entry]]]:
        if path is None:
            return "", self._all()
        rel, e = self._target(path, allow_root=True)
        return rel, ([(rel, e)] if e is not None else self._all(rel))

    def _too_slow(self, pattern: str) -> MemfsError:
        return MemfsError(
            f"The regex /{pattern}/ was too expensive: the search ran past "
            f"{self.limits.regex_timeout_ms:,} ms and was stopped. Avoid nested repetition such "
            "as (a+)+ or (a|aa)*, anchor the pattern, or search for plain text instead.",
            code="regex_timeout",
        )

    def _op_search(self, op: Search) -> OpResult:
        m = self._matcher(op.pattern, op.regex)
        try:
            return self._search(op, m)
        except RegexTimeout:
            raise self._too_slow(op.pattern) from None

    def _search(self, op: Search, m: Matcher) -> OpResult:
        cap = max(op.max_results, 1)
        rel, files = self._scope(op.path)
        m.deadline = time.monotonic() + self.limits.regex_timeout_ms / 1000
        single = op.path is not None and len(files) == 1 and files[0][0] == rel and rel != ""
        width = self.limits.max_line_chars
        hits: list[str] = []
        total = 0
        nfiles = 0
        for r, e in files:
            found = False
            for ln, line in m.iter_lines(e.text or "", e.lower):
                total += 1
                found = True
                if len(hits) < cap:
                    row = clip(line, width)
                    hits.append(f"{ln}: {row}" if single else f"{self._show(r)}:{ln}: {row}")
            nfiles += found
        what = f"regex /{op.pattern}/" if op.regex else repr(op.pattern)
        where = self._show(rel) if single else f"{plural(nfiles, 'file')} ({len(files)} searched)"
        if total == 0:
            where = self._show(rel) if single else plural(len(files), "file")
            text = f"No lines match {what} in {where}."
        else:
            text = f"{plural(total, 'matching line')} for {what} in {where}:\n" + "\n".join(hits)
            if total > len(hits):
                text += (
                    f"\n[{total - len(hits)} more matching lines not shown; use a more specific "
                    "pattern or search one file.]"
                )
        return OpResult(op="search", ok=True, text=text, path=rel or None)

    def _op_count(self, op: Count) -> OpResult:
        m = self._matcher(op.pattern, False) if op.pattern is not None else None
        rel, e = self._target(op.path, allow_root=True)
        files = [(rel, e)] if e is not None else self._all(rel)
        where = self._show(rel) if e is not None else plural(len(files), "file")
        lines = sum(x.lines for _, x in files)
        if m is None:
            text = f"{where} has {plural(lines)}."
            if e is None:
                text = f"{self._show(rel) or 'Memory'} has {where}, {plural(lines)}."
        else:
            hits = sum(1 for _, x in files for _ in m.iter_lines(x.text or "", x.lower))
            text = f"{hits} of {lines} lines in {where} match {op.pattern!r}."
        return OpResult(op="count", ok=True, text=text, path=rel or None)
