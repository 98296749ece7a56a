"""Serving Anthropic's memory tool (`memory_20250818`) from a `MemoryStore`.

Claude sends commands (view, create, str_replace, insert, delete, rename) on paths under
`/memories`; `AnthropicMemoryAdapter.execute` runs each against the store and returns the text
for the tool result. memfs does not import `anthropic`: commands may be plain dicts or the SDK's
`BetaMemoryTool20250818*Command` objects (anything with `model_dump()` or the same attributes).
"""

from __future__ import annotations

import stat
from typing import Any

from automem_memfs._errors import MemfsError
from automem_memfs._memory_store import MemoryStore
from automem_memfs._ops import Create, Delete, Insert, Op, OpResult, Read, Rename, StrReplace
from automem_memfs._paths import normalize_path
from automem_memfs._text import number_lines, plural

ROOT = "/memories"
TOOL_PARAM = {"type": "memory_20250818", "name": "memory"}
_FIELDS = ("command", "path", "file_text", "old_str", "new_str", "insert_line", "insert_text",
           "view_range", "old_path", "new_path")  # fmt: skip
_NUMBER_WIDTH = 6  # the reference numbers lines right-aligned in six columns
_MAX_LINE_NUMBER = 10**9


class _BadCommand(Exception):
    """A command field of the wrong type or value; becomes an error string."""


def _as_dict(command: Any) -> dict[str, Any]:
    if isinstance(command, dict):
        return command
    if hasattr(command, "model_dump"):
        return command.model_dump()
    return {k: getattr(command, k) for k in _FIELDS if hasattr(command, k)}


def _text(cmd: dict[str, Any], field: str) -> str:
    value = cmd.get(field)
    if value is None:
        raise _BadCommand(f"{field} is missing")
    if not isinstance(value, str):
        raise _BadCommand(f"{field} must be a string, got {type(value).__name__}")
    return value


def _line_number(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        shown = repr(value) if isinstance(value, float) else type(value).__name__
        raise _BadCommand(f"{field} must be an integer, got {shown}")
    if abs(value) > _MAX_LINE_NUMBER:
        raise _BadCommand(f"{field} {value} is out of range")
    return value


class AnthropicMemoryAdapter:
    """Executes memory-tool commands against `store`; every outcome is a string for Claude.

    What is stored, and whether a command is accepted, matches the anthropic SDK's reference
    `BetaLocalFilesystemMemoryTool`: `insert` puts `insert_text` (trailing newlines dropped) in
    as one line and ends the file with a newline; `view` numbers the text split on newlines (a
    final newline shows an empty last line, an empty file shows line 1), and `view_range`
    `[start, end]` clamps `start` below 1 to 1, takes `end` -1 as the last line and reads other
    values as a Python slice end (so `[1, -2]` leaves out the last two); `str_replace` with an
    empty `old_str` fills an empty file; `/memories/d/` and `/memories/./d` name `d`; deleting
    a directory deletes everything in it, hidden files included, or nothing; a directory left
    empty stays (the store's own ops remove it).

    Stricter than the reference, for safety: the store's sandbox refuses `..`, names starting
    with `.`, control and bidi characters, backslashes, symlinks and hard-linked files (a hard
    link may be a file outside memory), and names with leading or trailing spaces (the
    reference creates `"a.md "`, which reads like `a.md`); a path must be `/memories` or start
    with `/memories/` (the reference also takes `/memoriesX`); the store's limits (file size,
    total size, file count, depth) apply; `view` refuses a file that is not UTF-8 (as the
    reference does) and cuts long output at `Limits.max_read_chars` with a note saying which
    range to view next; a field of the wrong type (`file_text=5`, `insert_line=inf`) comes back
    as an error string, as does any refusal, never an exception; a refused command leaves no
    directory behind (the reference's `rename` of a missing file creates the new parent).

    `tool_param` is the tool definition to send in a request's `tools`.
    """

    tool_param = TOOL_PARAM

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def execute(self, command: Any) -> str:
        """Runs one command. Never raises for a bad command: errors start with "Error:"."""
        try:
            cmd = _as_dict(command)
        except Exception as e:  # an object we cannot read is still the caller's bad input
            return f"Error: cannot read the command: {e}"
        name = cmd.get("command") if isinstance(cmd, dict) else None
        handler = getattr(self, f"_cmd_{name}", None) if isinstance(name, str) else None
        if handler is None:
            return f"Error: unknown command {name!r}; use view, create, str_replace, insert, delete or rename."
        store = self.store
        saved, store._prefix = store._prefix, ROOT + "/"
        store._keep_empty_dirs = True
        try:
            return handler(cmd)
        except MemfsError as e:
            return f"Error: {e}"
        except _BadCommand as e:
            return f"Error: malformed {name} command: {e}."
        finally:
            store._prefix = saved
            store._keep_empty_dirs = False

    def __call__(self, command: Any) -> str:
        return self.execute(command)

    # -- paths -----------------------------------------------------------------------------
    def _rel(self, cmd: dict[str, Any], field: str = "path") -> str:
        """The store path for a `/memories/...` path ("" for `/memories` itself)."""
        path = _text(cmd, field)
        if path != path.strip():
            raise MemfsError(
                f"the path {path!r} starts or ends with whitespace; write it without spaces "
                "around it",
                code="sandbox",
            )
        if path != ROOT and not path.startswith(ROOT + "/"):
            raise MemfsError(f"every path must start with {ROOT}/ (got {path!r})", code="sandbox")
        rest = path[len(ROOT) :]
        for name in rest.split("/"):
            if name != name.strip():
                raise MemfsError(
                    f"the name {name!r} in {path!r} starts or ends with spaces, so it would "
                    "read like another name; names may not",
                    code="sandbox",
                )
        return normalize_path(rest.lstrip("/"), self.store.limits, allow_root=True)

    def _run(self, op: Op) -> str:
        r: OpResult = self.store.apply(op)
        return r.text if r.ok else f"Error: {r.text}"

    def _tally(self, kind: str, ok: bool) -> None:
        """Counts a command the adapter serves itself in the store's stats, as apply would."""
        self.store._counts[kind] += 1
        self.store._errors += not ok

    # -- commands --------------------------------------------------------------------------
    def _cmd_view(self, cmd: dict[str, Any]) -> str:
        rng = cmd.get("view_range")
        if rng is not None:
            if not (isinstance(rng, list | tuple) and len(rng) == 2):
                raise _BadCommand("view_range must be [start, end] (end -1 means to the end)")
            rng = (_line_number(rng[0], "view_range start"), _line_number(rng[1], "view_range end"))
        path = _text(cmd, "path")
        rel = self._rel(cmd)
        try:
            rel, entry = self.store._target(rel, allow_root=True)
        except MemfsError:
            self._tally("read", False)
            raise
        if entry is None:
            return self._run(Read(path=rel))  # a directory: the store's listing
        ok = not entry.undecodable
        self._tally("read", ok)
        if not ok:
            raise MemfsError(
                f"{path} is not valid UTF-8 text; it cannot be shown.", code="not_utf8"
            )
        return self._numbered(path, (entry.text or "").split("\n"), rng)

    def _numbered(self, path: str, lines: list[str], rng: tuple[int, int] | None) -> str:
        # The reference slices `lines[start - 1 : end]` (end -1: to the end), so a negative end
        # counts from the end; the shown lines are numbered by their place in the file.
        shown = range(len(lines))
        if rng is not None:
            shown = shown[max(1, rng[0]) - 1 : len(lines) if rng[1] == -1 else rng[1]]
        return number_lines(
            f"Here's the content of {path} with line numbers:",
            lines,
            shown.start + 1,
            shown.start + len(shown),
            limit=self.store.limits.max_read_chars,
            rest="View with view_range [{next}, -1]",
            width=_NUMBER_WIDTH,
        )

    def _cmd_create(self, cmd: dict[str, Any]) -> str:
        text = _text(cmd, "file_text")
        return self._run(Create(path=self._rel(cmd), content=text))

    def _cmd_str_replace(self, cmd: dict[str, Any]) -> str:
        old, new = _text(cmd, "old_str"), _text(cmd, "new_str")
        return self._run(StrReplace(path=self._rel(cmd), old=old, new=new))

    def _cmd_insert(self, cmd: dict[str, Any]) -> str:
        line = _line_number(cmd.get("insert_line"), "insert_line")
        text = _text(cmd, "insert_text")
        return self._run(Insert(path=self._rel(cmd), line=line, content=text))

    def _cmd_delete(self, cmd: dict[str, Any]) -> str:
        rel = self._rel(cmd)
        if rel == "":
            self._tally("delete", False)
            return f"Error: refusing to delete {ROOT} itself; delete the files in it."
        st = self.store._absent(rel)
        if st is None or not stat.S_ISDIR(st.st_mode):
            return self._run(Delete(path=rel))
        try:
            n = self.store._delete_tree(rel)
        except MemfsError:
            self._tally("delete", False)
            raise
        self._tally("delete", True)
        return f"Deleted {ROOT}/{rel}/ and the {plural(n, 'file')} in it."

    def _cmd_rename(self, cmd: dict[str, Any]) -> str:
        op = Rename(path=self._rel(cmd, "old_path"), new_path=self._rel(cmd, "new_path"))
        return self._run(op)
