"""Line arithmetic and line matching shared by the store and its reference model in tests.

A file's lines are its text split on `\\n`; a final newline ends the last line rather than
starting an empty one. Substring matching ignores case; regex matching uses Python `re` syntax
(run by the `regex` package, which can stop a search at a deadline), is case-sensitive (write
`(?i)` to ignore case) and, like grep, matches within one line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import regex


def split_lines(text: str) -> list[str]:
    """The lines of `text` (no line endings); `""` has none."""
    if not text:
        return []
    parts = text.split("\n")
    if parts[-1] == "":
        parts.pop()
    return parts


def count_lines(text: str) -> int:
    """`len(split_lines(text))`, without building the list."""
    n = text.count("\n")
    return n + 1 if text and text[-1] != "\n" else n


def join_lines(lines: list[str]) -> str:
    """Text whose lines are `lines`, each ending in a newline."""
    return "".join(line + "\n" for line in lines)


def number_lines(
    header: str, lines: list[str], start: int, end: int, *, limit: int, rest: str, width: int = 0
) -> str:
    """`header`, then lines `start`..`end` (1-based, inclusive) as `N<tab>line`, N right-aligned
    in `width` columns. Once the text would pass `limit` characters it stops (after at least one
    line) with a note that ends in `rest` (a template of `{next}` and `{end}`, e.g. "Read lines
    {next}-{end} with a line range"); a line longer than `limit` is cut."""
    out = [header]
    used = len(header)
    for i in range(start, end + 1):
        row = f"{str(i).rjust(width)}\t{lines[i - 1]}"
        if used + len(row) + 1 > limit and i > start:
            hint = rest.format(next=i, end=end)
            out.append(
                f"[cut at {limit:,} characters: showed lines {start}-{i - 1} of {len(lines)}. "
                f"{hint} to see the rest.]"
            )
            break
        if len(row) > limit:
            row = row[:limit] + " [line cut]"
        out.append(row)
        used += len(row) + 1
    return "\n".join(out)


def clip(line: str, limit: int) -> str:
    return line if len(line) <= limit else line[: max(limit - 3, 1)] + "..."


def plural(n: int, word: str = "line") -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def fmt_bytes(n: int) -> str:
    return f"{n:,} B"


class RegexTimeout(Exception):
    """A regex search ran past its deadline (a pattern that backtracks exponentially)."""


class Matcher:
    """Finds the lines of a text that match one pattern.

    A regex is compiled by the `regex` package (V0, `re`-compatible) and every search step gets
    the time left until `deadline` (a `time.monotonic()` value), so a pattern that backtracks
    exponentially raises `RegexTimeout` instead of hanging. Literal patterns run through `re` on
    an escaped pattern, which is linear. Raises `regex.error` on construction if a regex does
    not compile.
    """

    __slots__ = ("_literal", "_rx", "deadline", "pattern", "regex")

    def __init__(self, pattern: str, *, regex: bool = False, deadline: float | None = None) -> None:
        self.pattern = pattern
        self.regex = regex
        self.deadline = deadline
        self._literal: str | None = None
        self._rx = None
        if regex:
            self._rx = _compile(pattern)
        else:
            # A literal matches as re.IGNORECASE would. On ASCII text with an ASCII pattern that
            # is the same as comparing lower(), which is much faster; elsewhere ('ſ' vs 's')
            # lower() disagrees with re, so the regex decides.
            self._rx = re.compile(re.escape(pattern), re.IGNORECASE | re.MULTILINE)
            if pattern.isascii():
                self._literal = pattern.lower()

    def _search(self, rx, text: str, pos: int):
        if not self.regex:
            return rx.search(text, pos)
        left = None
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise RegexTimeout(self.pattern)
        try:
            return rx.search(text, pos, timeout=left)
        except TimeoutError:
            raise RegexTimeout(self.pattern) from None

    def iter_lines(self, text: str, lowered: str | None = None) -> Iterator[tuple[int, str]]:
        """(1-based line number, line text) for each matching line, in order.

        `lowered` may pass a cached `text.lower()` when `text` is ASCII.
        """
        if not self.regex and "\n" in self.pattern:
            return
        if self._literal is not None and text.isascii():
            yield from self._iter_literal(text, lowered if lowered is not None else text.lower())
        else:
            yield from self._iter_regex(text)

    def _iter_literal(self, text: str, low: str) -> Iterator[tuple[int, str]]:
        p = self._literal
        assert p is not None
        n = len(text)
        pos = lineno_at = 0
        lineno = 1
        while (i := low.find(p, pos)) >= 0:
            ls = low.rfind("\n", 0, i) + 1
            le = low.find("\n", i)
            if le < 0:
                le = n
            if ls == n:  # an empty pattern "matching" after the final newline
                return
            lineno += low.count("\n", lineno_at, ls)
            lineno_at = ls
            yield lineno, text[ls:le]
            pos = le + 1
            if pos > n:
                return

    def _iter_regex(self, text: str) -> Iterator[tuple[int, str]]:
        rx = self._rx
        assert rx is not None
        n = len(text)
        pos = lineno_at = 0
        lineno = 1
        while pos <= n and (m := self._search(rx, text, pos)) is not None:
            s = m.start()
            ls = text.rfind("\n", 0, s) + 1
            if ls == n and (n == 0 or text[-1] == "\n"):
                return
            le = text.find("\n", s)
            if le < 0:
                le = n
            line = text[ls:le]
            if (m.end() > le or s == le) and self._search(rx, line, 0) is None:
                pos = le + 1  # the match spanned lines; grep semantics say this line did not
                continue
            lineno += text.count("\n", lineno_at, ls)
            lineno_at = ls
            yield lineno, line
            pos = le + 1


def _compile(pattern: str):
    return regex.compile(pattern, regex.MULTILINE | regex.VERSION0)


RegexError = regex.error  # what a pattern that does not compile raises
