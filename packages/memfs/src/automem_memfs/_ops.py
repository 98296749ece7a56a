"""The memory operations a model can ask for, and what each returns.

Ops are frozen msgspec Structs in one tagged union, so a trace line decodes back into the same
types. `Done` and `Action` are not memory ops but control calls that share the model's syntax.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec


# Subclasses repeat frozen= and kw_only=: msgspec inherits them, but type checkers read each
# class statement on its own (dataclass_transform).
class _Op(msgspec.Struct, frozen=True, kw_only=True, tag_field="op"):
    read_only: ClassVar[bool] = False


class Read(_Op, tag="read", frozen=True, kw_only=True):
    """A whole file, lines `start..end` (1-based, inclusive), or a listing if `path` is a directory."""

    path: str = ""
    start: int | None = None
    end: int | None = None
    read_only: ClassVar[bool] = True


class Tail(_Op, tag="tail", frozen=True, kw_only=True):
    """The last `n` lines of a file."""

    path: str
    n: int = 10
    read_only: ClassVar[bool] = True


class Search(_Op, tag="search", frozen=True, kw_only=True):
    """Lines matching `pattern` in one file (`path`) or across all files (`path=None`)."""

    pattern: str
    path: str | None = None
    regex: bool = False
    max_results: int = 20
    read_only: ClassVar[bool] = True


class Count(_Op, tag="count", frozen=True, kw_only=True):
    """Number of lines in a file, or of lines matching `pattern`."""

    path: str
    pattern: str | None = None
    read_only: ClassVar[bool] = True


class Create(_Op, tag="create", frozen=True, kw_only=True):
    """A new file; refuses to overwrite an existing one."""

    path: str
    content: str = ""


class Append(_Op, tag="append", frozen=True, kw_only=True):
    """Adds `content` as one or more lines at the end of a file (created if missing)."""

    path: str
    content: str


class Write(_Op, tag="write", frozen=True, kw_only=True):
    """Replaces a file's whole content (created if missing)."""

    path: str
    content: str


class StrReplace(_Op, tag="str_replace", frozen=True, kw_only=True):
    """Replaces `old` with `new`; `old` must occur exactly once."""

    path: str
    old: str
    new: str = ""


class Insert(_Op, tag="insert", frozen=True, kw_only=True):
    """Inserts `content` after line `line` (0 = at the top)."""

    path: str
    line: int
    content: str


class Delete(_Op, tag="delete", frozen=True, kw_only=True):
    """Removes a file or an empty directory."""

    path: str


class Rename(_Op, tag="rename", frozen=True, kw_only=True):
    """Moves a file to `new_path`; refuses to overwrite."""

    path: str
    new_path: str


Op = Read | Tail | Search | Count | Create | Append | Write | StrReplace | Insert | Delete | Rename

OP_TYPES: dict[str, type[_Op]] = {
    t.__struct_config__.tag: t  # type: ignore[misc]
    for t in (Read, Tail, Search, Count, Create, Append, Write, StrReplace, Insert, Delete, Rename)
}
READ_ONLY_OPS = frozenset(k for k, t in OP_TYPES.items() if t.read_only)
WRITE_OPS = frozenset(OP_TYPES) - READ_ONLY_OPS


def op_kind(op: Call) -> str:
    """The tag of an op or other call, e.g. `"search"`, `"done"`."""
    return op.__struct_config__.tag  # type: ignore[return-value]


class Done(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="done"):
    """The model ends its LOG phase."""


class Action(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="action"):
    """The model commits one world action (free text, validated by the env)."""

    text: str


class ParseError(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", tag="parse_error"):
    """A call the parser could not turn into an op. `message` is written for the model."""

    message: str
    raw: str = ""


Call = Op | Done | Action | ParseError


class OpResult(msgspec.Struct, frozen=True, kw_only=True):
    """What an op did. `text` is the short plain-text message the model sees."""

    op: str
    ok: bool
    text: str
    path: str | None = None
    bytes_written: int = 0
    error: str | None = None  # machine-readable error class when not ok, e.g. "not_found", "limit"
