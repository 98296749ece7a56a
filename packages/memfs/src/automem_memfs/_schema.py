"""Per-file rules a scaffold declares for its memory files, and how the store applies them.

A `Schema` is a list of `FileRule`s; the first rule whose glob matches a path governs that file.
It decodes from a plain dict or a TOML table, so a scaffold can keep it in its manifest:

    [[rules]]
    pattern = "map.md"
    keyed_by = '^\\((-?\\d+), ?(-?\\d+)\\)'
    max_lines = 200
    description = "one line per map location: (x, y) what is there"
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from typing import Any

import msgspec

from automem_memfs._text import join_lines, split_lines


class FileRule(msgspec.Struct, frozen=True, kw_only=True):
    """Rules for the files whose relative path matches `pattern` (fnmatch glob; `*` also
    matches `/`).

    - `keyed_by`: a regex whose captures (or whole match, if it has no groups) key a line;
      appending a line whose key is already present replaces that line instead of adding one.
    - `max_lines`: a write that would leave more lines is refused.
    - `line_pattern`: every non-blank line must match this regex (`re.search`).
    - `read_only`: the model cannot change, create, rename or delete the file.
    """

    pattern: str
    keyed_by: str | None = None
    max_lines: int | None = None
    line_pattern: str | None = None
    read_only: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        for name in ("keyed_by", "line_pattern"):
            value = getattr(self, name)
            if value is not None:
                try:
                    re.compile(value)
                except re.error as e:
                    raise ValueError(f"FileRule {self.pattern!r}: bad {name} regex: {e}") from None
        if self.max_lines is not None and self.max_lines < 0:
            raise ValueError(f"FileRule {self.pattern!r}: max_lines must be >= 0")

    def matches(self, path: str) -> bool:
        return fnmatch.fnmatchcase(path, self.pattern)

    @property
    def constrains_content(self) -> bool:
        return self.keyed_by is not None or self.max_lines is not None or bool(self.line_pattern)

    def check(self, path: str, text: str) -> str | None:
        """Why `text` may not be the content of `path` (a message for the model), or None."""
        if self.max_lines is None and not self.line_pattern:
            return None
        lines = split_lines(text)
        if self.max_lines is not None and len(lines) > self.max_lines:
            return (
                f"{path} would have {len(lines)} lines; its schema allows at most "
                f"{self.max_lines}. Compact it first: merge or drop stale lines with "
                "str_replace or write."
            )
        if self.line_pattern:
            rx = re.compile(self.line_pattern)
            for i, line in enumerate(lines, 1):
                if line.strip() and rx.search(line) is None:
                    shown = line if len(line) <= 80 else line[:77] + "..."
                    hint = f" ({self.description})" if self.description else ""
                    return (
                        f"Line {i} of {path}, {shown!r}, does not match the required line "
                        f"pattern {self.line_pattern!r}{hint}. Rewrite it to fit."
                    )
        return None

    def line_key(self, line: str) -> tuple[str, ...] | None:
        if self.keyed_by is None:
            return None
        m = re.search(self.keyed_by, line)
        if m is None:
            return None
        return tuple(g or "" for g in m.groups()) or (m.group(0),)

    def merge(self, text: str, added: list[str]) -> tuple[str, list[str]]:
        """`text` with `added` lines appended, each replacing the line with the same key.

        Returns the new text and the replaced lines' keys, shown as text.
        """
        lines = split_lines(text)
        where: dict[tuple[str, ...], int] = {}
        for i, line in enumerate(lines):
            k = self.line_key(line)
            if k is not None:
                where.setdefault(k, i)
        replaced: list[str] = []
        for line in added:
            k = self.line_key(line)
            if k is not None and k in where:
                lines[where[k]] = line
                replaced.append(", ".join(k))
            else:
                lines.append(line)
                if k is not None:
                    where[k] = len(lines) - 1
        return join_lines(lines), replaced


class Schema(msgspec.Struct, frozen=True, kw_only=True):
    """The scaffold's rules for memory files; the first matching rule governs a file."""

    rules: list[FileRule] = []

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schema:
        """From a plain dict such as a parsed TOML table; raises msgspec.ValidationError."""
        return msgspec.convert(data, cls)

    @classmethod
    def from_toml(cls, text: str) -> Schema:
        return cls.from_dict(tomllib.loads(text))

    def rule_for(self, path: str) -> FileRule | None:
        for rule in self.rules:
            if rule.matches(path):
                return rule
        return None

    def describe(self) -> str:
        """A short text for prompts that explains the rules the store enforces."""
        if not self.rules:
            return ""
        out = ["Memory file rules:"]
        for r in self.rules:
            bits = []
            if r.description:
                bits.append(r.description.rstrip("."))
            if r.read_only:
                bits.append("read-only")
            if r.keyed_by:
                bits.append(
                    f"one line per key (key = regex {r.keyed_by!r}); appending a line with an "
                    "existing key replaces that line"
                )
            if r.max_lines is not None:
                bits.append(f"at most {r.max_lines} lines")
            if r.line_pattern:
                bits.append(f"every line matches {r.line_pattern!r}")
            out.append(f"- {r.pattern}: " + ("; ".join(bits) or "no constraints") + ".")
        return "\n".join(out)
