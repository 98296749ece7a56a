"""The meta-LLM's tools over the review workspace, built on `automem-memfs` stores.

The workspace has two roots: `bundle/` (read-only: traces, summary, final memories, the
incumbent scaffold) and `candidate/` (the writable copy of the scaffold being revised). Every
path goes through a memfs store, so `..`, absolute paths and symlinks are refused; a write aimed
anywhere but `candidate/` is refused, reported to the model and counted in `escapes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from automem_agent.meta import Tool, ToolError
from automem_memfs import Limits, MemoryStore
from automem_memfs._ops import (
    Count,
    Create,
    Delete,
    Insert,
    Op,
    Read,
    Rename,
    Search,
    StrReplace,
    Tail,
    Write,
)

# The bundle holds whole traces: allow big files, deep trees and many files, but keep each
# result small enough for a prompt.
BUNDLE_LIMITS = Limits(
    max_file_bytes=512 * 2**20,
    max_total_bytes=4 * 2**30,
    max_files=100_000,
    max_depth=8,
    max_read_chars=12_000,
    max_line_chars=400,
)
CANDIDATE_LIMITS = Limits(
    max_file_bytes=256 * 1024,
    max_total_bytes=4 * 2**20,
    max_files=200,
    max_depth=6,
    max_read_chars=12_000,
    max_line_chars=400,
)
MAX_READ_LINES = 200
MAX_GREP_RESULTS = 50
ROOTS = ("bundle", "candidate")

Validator = Callable[[], "str | Awaitable[str]"]


def _schema(required: list[str], **props: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in props.items()},
        "required": required,
    }


class ReviewWorkspace:
    """Routes tool calls to the read-only bundle store or the writable candidate store."""

    def __init__(self, bundle_dir: Path, candidate_dir: Path):
        self.bundle = MemoryStore(bundle_dir, limits=BUNDLE_LIMITS, read_only=True)
        self.candidate = MemoryStore(candidate_dir, limits=CANDIDATE_LIMITS)
        # Results then name paths exactly as the model must write them.
        self.bundle._prefix = "bundle/"
        self.candidate._prefix = "candidate/"
        self.escapes: list[str] = []  # write paths refused because they left candidate/
        self.writes = 0

    def _split(self, path: Any, *, writing: bool = False) -> tuple[MemoryStore, str]:
        """The store a path belongs to and the path inside it. A path without a root prefix is
        looked up in bundle/ then candidate/ for reads, and means candidate/ for writes."""
        if not isinstance(path, str):
            raise ToolError(
                "path must be a string like 'bundle/summary.md' or 'candidate/scaffold.toml'"
            )
        clean = path.strip()
        while clean.startswith("./"):
            clean = clean[2:]
        head, _, rest = clean.partition("/")
        if head == "candidate":
            return self.candidate, rest
        if head == "bundle":
            if writing:
                self.escapes.append(path)
                raise ToolError(
                    f"refused: bundle/ is read-only; write under candidate/ (got {path!r})"
                )
            return self.bundle, rest
        if writing:
            return self.candidate, clean
        for store in (self.bundle, self.candidate):
            if (store.root / clean).exists():
                return store, clean
        raise ToolError(f"no file {path!r}; paths start with bundle/ or candidate/ (try list)")

    def _apply(self, store: MemoryStore, op: Op, *, writing: bool = False) -> str:
        result = store.apply(op)
        if not result.ok:
            if writing and result.error == "sandbox":
                self.escapes.append(str(getattr(op, "path", "")))
                raise ToolError(
                    f"refused: writes are limited to your scaffold copy under candidate/. {result.text}"
                )
            raise ToolError(result.text)
        if writing:
            self.writes += 1
        return result.text

    # read-only tools -------------------------------------------------------------------
    def list(self, args: dict[str, Any]) -> str:
        path = str(args.get("path", "") or "").strip().strip("/")
        if path in ("", "."):
            return (
                "bundle/     read-only: summary.md, traces/, memory/, scaffold/ (the incumbent)\n"
                "candidate/  your writable copy of the scaffold"
            )
        store, rel = self._split(path)
        return self._apply(store, Read(path=rel))

    def read(self, args: dict[str, Any]) -> str:
        store, rel = self._split(args.get("path"))
        start, end = args.get("start"), args.get("end")
        if start is not None or end is not None:
            start = max(1, int(start or 1))
            end = int(end) if end is not None else start + MAX_READ_LINES - 1
            end = min(end, start + MAX_READ_LINES - 1)
            return self._apply(store, Read(path=rel, start=start, end=end))
        return self._apply(store, Read(path=rel))

    def tail(self, args: dict[str, Any]) -> str:
        store, rel = self._split(args.get("path"))
        n = min(int(args.get("n", 40) or 40), MAX_READ_LINES)
        return self._apply(store, Tail(path=rel, n=n))

    def grep(self, args: dict[str, Any]) -> str:
        pattern = args.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ToolError("grep needs a non-empty 'pattern'")
        path = args.get("path") or "bundle"
        store, rel = self._split(path)
        cap = min(
            int(args.get("max_results", MAX_GREP_RESULTS) or MAX_GREP_RESULTS), MAX_GREP_RESULTS
        )
        op = Search(
            pattern=pattern, path=rel or None, regex=bool(args.get("regex", False)), max_results=cap
        )
        return self._apply(store, op)

    def count(self, args: dict[str, Any]) -> str:
        store, rel = self._split(args.get("path"))
        return self._apply(store, Count(path=rel, pattern=args.get("pattern")))

    # write tools (candidate/ only) -----------------------------------------------------
    def _w(self, args: dict[str, Any], key: str = "path") -> tuple[MemoryStore, str]:
        return self._split(args.get(key), writing=True)

    def write_file(self, args: dict[str, Any]) -> str:
        store, rel = self._w(args)
        return self._apply(
            store, Write(path=rel, content=str(args.get("content", ""))), writing=True
        )

    def create_file(self, args: dict[str, Any]) -> str:
        store, rel = self._w(args)
        return self._apply(
            store, Create(path=rel, content=str(args.get("content", ""))), writing=True
        )

    def str_replace(self, args: dict[str, Any]) -> str:
        store, rel = self._w(args)
        op = StrReplace(path=rel, old=str(args.get("old", "")), new=str(args.get("new", "")))
        return self._apply(store, op, writing=True)

    def insert(self, args: dict[str, Any]) -> str:
        store, rel = self._w(args)
        op = Insert(path=rel, line=int(args.get("line", 0)), content=str(args.get("content", "")))
        return self._apply(store, op, writing=True)

    def delete(self, args: dict[str, Any]) -> str:
        store, rel = self._w(args)
        return self._apply(store, Delete(path=rel), writing=True)

    def rename(self, args: dict[str, Any]) -> str:
        store, rel = self._w(args)
        _, new_rel = self._w(args, "new_path")
        return self._apply(store, Rename(path=rel, new_path=new_rel), writing=True)

    def tools(self, validator: Validator | None = None) -> list[Tool]:
        """The tool list for a `ToolSession`; `validator` adds a `validate` tool."""
        s = _schema
        tools = [
            Tool(
                name="list",
                description="List a directory ('' for the roots, e.g. bundle/traces).",
                input_schema=s([], path="string"),
                handler=self.list,
            ),
            Tool(
                name="read",
                description=f"Read a file, or lines start..end (at most {MAX_READ_LINES}).",
                input_schema=s(["path"], path="string", start="integer", end="integer"),
                handler=self.read,
            ),
            Tool(
                name="tail",
                description="The last n lines of a file.",
                input_schema=s(["path"], path="string", n="integer"),
                handler=self.tail,
            ),
            Tool(
                name="grep",
                description=f"Lines matching pattern (regex if regex=true) in a file or folder; at most {MAX_GREP_RESULTS} hits.",
                input_schema=s(
                    ["pattern"],
                    pattern="string",
                    path="string",
                    regex="boolean",
                    max_results="integer",
                ),
                handler=self.grep,
            ),
            Tool(
                name="count",
                description="Number of lines in a file, or of lines matching pattern.",
                input_schema=s(["path"], path="string", pattern="string"),
                handler=self.count,
            ),
            Tool(
                name="write_file",
                description="Replace a candidate/ file's whole content (creates it).",
                input_schema=s(["path", "content"], path="string", content="string"),
                handler=self.write_file,
            ),
            Tool(
                name="create_file",
                description="Create a new candidate/ file.",
                input_schema=s(["path", "content"], path="string", content="string"),
                handler=self.create_file,
            ),
            Tool(
                name="str_replace",
                description="Replace text that occurs exactly once in a candidate/ file.",
                input_schema=s(["path", "old", "new"], path="string", old="string", new="string"),
                handler=self.str_replace,
            ),
            Tool(
                name="insert",
                description="Insert content after line `line` (0 = top) of a candidate/ file.",
                input_schema=s(
                    ["path", "line", "content"], path="string", line="integer", content="string"
                ),
                handler=self.insert,
            ),
            Tool(
                name="delete",
                description="Delete a candidate/ file.",
                input_schema=s(["path"], path="string"),
                handler=self.delete,
            ),
            Tool(
                name="rename",
                description="Move a candidate/ file to new_path (also under candidate/).",
                input_schema=s(["path", "new_path"], path="string", new_path="string"),
                handler=self.rename,
            ),
        ]
        if validator is not None:
            tools.append(
                Tool(
                    name="validate",
                    description="Check the candidate now: manifest loads, hooks.py imports, a smoke episode runs.",
                    input_schema=s([]),
                    handler=lambda _args: validator(),
                )
            )
        return tools
