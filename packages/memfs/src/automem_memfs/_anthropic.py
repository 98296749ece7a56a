"""Serving Anthropic's memory tool (`memory_20250818`) from a `MemoryStore`.

Claude sends commands (view, create, str_replace, insert, delete, rename) on paths under
`/memories`; `AnthropicMemoryAdapter.execute` runs each against the store and returns the text
for the tool result. memfs does not import `anthropic`: commands may be plain dicts or the SDK's
`BetaMemoryTool20250818*Command` objects (anything with `model_dump()` or the same attributes).
"""

from __future__ import annotations

from typing import Any

from automem_memfs._errors import MemfsError
from automem_memfs._ops import Create, Delete, Insert, Op, OpResult, Read, Rename, StrReplace
from automem_memfs._text import plural
from automem_memfs._writes import MemoryStore

ROOT = "/memories"
TOOL_PARAM = {"type": "memory_20250818", "name": "memory"}
_FIELDS = ("command", "path", "file_text", "old_str", "new_str", "insert_line", "insert_text",
           "view_range", "old_path", "new_path")  # fmt: skip


def _as_dict(command: Any) -> dict[str, Any]:
    if isinstance(command, dict):
        return command
    if hasattr(command, "model_dump"):
        return command.model_dump()
    return {k: getattr(command, k) for k in _FIELDS if hasattr(command, k)}


class AnthropicMemoryAdapter:
    """Executes memory-tool commands against `store`; every outcome is a string for Claude.

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
        name = cmd.get("command")
        handler = getattr(self, f"_cmd_{name}", None) if isinstance(name, str) else None
        if handler is None:
            return f"Error: unknown command {name!r}; use view, create, str_replace, insert, delete or rename."
        store = self.store
        saved, store._prefix = store._prefix, ROOT + "/"
        try:
            return handler(cmd)
        except MemfsError as e:
            return f"Error: {e}"
        except (KeyError, TypeError, ValueError) as e:
            return f"Error: malformed {name} command ({type(e).__name__}: {e})."
        finally:
            store._prefix = saved

    def __call__(self, command: Any) -> str:
        return self.execute(command)

    # -- commands --------------------------------------------------------------------------
    @staticmethod
    def _rel(path: Any) -> str:
        if not isinstance(path, str):
            raise MemfsError(f"path must be a string under {ROOT}")
        p = path.strip()
        if p != ROOT and not p.startswith(ROOT + "/"):
            raise MemfsError(f"every path must start with {ROOT}/ (got {path!r})", code="sandbox")
        return p[len(ROOT) :].lstrip("/")

    def _run(self, op: Op) -> str:
        r: OpResult = self.store.apply(op)
        return r.text if r.ok else f"Error: {r.text}"

    def _cmd_view(self, cmd: dict[str, Any]) -> str:
        rel = self._rel(cmd["path"])
        rng = cmd.get("view_range")
        if rng:
            if not (isinstance(rng, list | tuple) and len(rng) == 2):
                return "Error: view_range must be [start, end] (end -1 means to the end)."
            start, end = int(rng[0]), int(rng[1])
            return self._run(Read(path=rel, start=start, end=None if end == -1 else end))
        return self._run(Read(path=rel))

    def _cmd_create(self, cmd: dict[str, Any]) -> str:
        return self._run(Create(path=self._rel(cmd["path"]), content=cmd.get("file_text") or ""))

    def _cmd_str_replace(self, cmd: dict[str, Any]) -> str:
        op = StrReplace(
            path=self._rel(cmd["path"]), old=cmd["old_str"], new=cmd.get("new_str") or ""
        )
        return self._run(op)

    def _cmd_insert(self, cmd: dict[str, Any]) -> str:
        op = Insert(
            path=self._rel(cmd["path"]), line=int(cmd["insert_line"]), content=cmd["insert_text"]
        )
        return self._run(op)

    def _cmd_delete(self, cmd: dict[str, Any]) -> str:
        rel = self._rel(cmd["path"])
        if rel == "":
            return f"Error: refusing to delete {ROOT} itself; delete the files in it."
        inside = [p for p in self.store.paths() if p.startswith(rel + "/")]
        for p in inside:  # the memory tool deletes directories with their contents
            r = self.store.apply(Delete(path=p))
            if not r.ok:
                return f"Error: {r.text}"
        if inside and not self.store.exists(rel):
            return f"Deleted {ROOT}/{rel}/ and the {plural(len(inside), 'file')} in it."
        return self._run(Delete(path=rel))

    def _cmd_rename(self, cmd: dict[str, Any]) -> str:
        op = Rename(path=self._rel(cmd["old_path"]), new_path=self._rel(cmd["new_path"]))
        return self._run(op)
