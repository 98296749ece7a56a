"""The JSON syntax: `{"tool": "search", "args": {...}}` objects (or a list of them) in model text.

Also accepted: `{"name": ..., "input": ...}` (Anthropic tool use), `{"name": ..., "arguments":
"<json>"}` and `{"function": {...}}` (OpenAI), and the flat msgspec form `{"op": "search", ...}`.
Code fences are stripped; common argument aliases (`file`, `query`, `old_str`, ...) are mapped.
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from automem_memfs._ops import OP_TYPES, Action, Call, Done, ParseError, op_kind

_FENCE = re.compile(r"```[A-Za-z0-9_-]*+\s*+(.*?)```", re.DOTALL)  # possessive: no backtracking
# A call nests three or four levels deep. Deeper values are not tried: the C decoder recurses
# (RecursionError) and retrying it at every bracket of a deep run is quadratic.
MAX_DEPTH = 64
_DECODER = json.JSONDecoder()
_NAME_ALIASES = {
    "view": "read", "cat": "read", "open": "read", "list": "read", "ls": "read",
    "grep": "search", "find": "search", "add": "append", "overwrite": "write",
    "replace": "str_replace", "strreplace": "str_replace", "edit": "str_replace",
    "remove": "delete", "rm": "delete", "move": "rename", "mv": "rename", "act": "action",
    "memory_read": "read", "memory_search": "search",
}  # fmt: skip
_ARG_ALIASES = {
    "file": "path", "filename": "path", "file_path": "path", "old_path": "path", "dir": "path",
    "query": "pattern", "keyword": "pattern", "regexp": "pattern",
    "file_text": "content", "insert_text": "content",
    "old_str": "old", "old_text": "old", "new_str": "new", "new_text": "new",
    "insert_line": "line", "line_number": "line", "after_line": "line",
    "to": "new_path", "dest": "new_path", "destination": "new_path",
    "lines": "n", "count": "n", "limit": "max_results",
}  # fmt: skip


def _objects(text: str) -> tuple[list[Any], bool]:
    """JSON values found in `text` (fenced blocks first) and whether anything looked like JSON."""
    blocks = _FENCE.findall(text) or [text]
    found: list[Any] = []
    tried = False
    for block in blocks:
        too_deep = _too_deep(block)
        i = 0
        while (j := _next_brace(block, i)) >= 0:
            tried = True
            if j in too_deep:
                i = j + 1
                continue
            try:
                value, end = _DECODER.raw_decode(block, j)
            except (ValueError, RecursionError):
                i = j + 1
                continue
            found.append(value)
            i = end
    return found, tried


def _too_deep(s: str) -> set[int]:
    """Positions of `{`/`[` with brackets nested more than MAX_DEPTH levels inside them
    (brackets inside strings count too: a rough bound, found in one linear pass)."""
    stack: list[int] = []
    deep: set[int] = set()
    for m in _BRACKET.finditer(s):
        if m[0] in "{[":
            stack.append(m.start())
            if len(stack) > MAX_DEPTH:
                deep.add(stack[-MAX_DEPTH - 1])
        elif stack:
            stack.pop()
    return deep


_BRACKET = re.compile(r"[\[\]{}]")


_OPENING = re.compile(r"[\[{]")


def _next_brace(s: str, i: int) -> int:
    m = _OPENING.search(s, i)
    return m.start() if m is not None else -1


def json_spans(text: str) -> list[tuple[list[Call], int, int]]:
    """Each JSON value in `text` (fences are not special here) with its calls and its
    `text[start:end]` span, in order; values that hold no call are left out."""
    too_deep = _too_deep(text)
    out: list[tuple[list[Call], int, int]] = []
    i = 0
    while (j := _next_brace(text, i)) >= 0:
        if j in too_deep:
            i = j + 1
            continue
        try:
            value, end = _DECODER.raw_decode(text, j)
        except (ValueError, RecursionError):
            i = j + 1
            continue
        items = value if isinstance(value, list) else [value]
        out.append(([call_from_dict(item) for item in items], j, end))
        i = end
    return out


def parse_json(text: str) -> list[Call]:
    """Every call in `text`, in order. Never raises; bad calls become ParseError values.

    Linear in the text up to a factor of MAX_DEPTH: deeper brackets are not decoded.
    """
    values, tried = _objects(text)
    calls: list[Call] = []
    for v in values:
        items = v if isinstance(v, list) else [v]
        for item in items:
            calls.append(call_from_dict(item))
    if tried and not calls:
        calls.append(
            ParseError(
                message='Could not read the JSON call. Write one object like {"tool": "read", "args": {"path": "notes.md"}}.',
                raw=text[:500],
            )
        )
    return calls


def call_from_dict(d: Any) -> Call:
    """One call from a decoded JSON object in any accepted shape."""
    raw = json.dumps(d, ensure_ascii=False)[:500] if not isinstance(d, str) else d[:500]
    if not isinstance(d, dict):
        return ParseError(
            message=f"Expected a JSON object for a call, got {type(d).__name__}.", raw=raw
        )
    if isinstance(d.get("function"), dict):
        d = d["function"]
    name = next(
        (d[k] for k in ("tool", "name", "op", "command") if isinstance(d.get(k), str)), None
    )
    if name is None:
        if isinstance(d.get("action"), str):
            return Action(text=d["action"].strip())
        return ParseError(
            message='A call needs a "tool" name, e.g. {"tool": "read", "args": {"path": "notes.md"}}.',
            raw=raw,
        )
    args: Any = next((d[k] for k in ("args", "input", "arguments", "parameters") if k in d), None)
    if args is None:
        args = {
            k: v for k, v in d.items() if k not in ("tool", "name", "op", "command", "type", "id")
        }
    if isinstance(args, str):
        try:
            if _too_deep(args):
                raise ValueError("nested too deeply")
            args = json.loads(args) if args.strip() else {}
        except (ValueError, RecursionError):
            return ParseError(message=f"The arguments of {name} are not valid JSON.", raw=raw)
    if not isinstance(args, dict):
        return ParseError(message=f"The arguments of {name} must be a JSON object.", raw=raw)
    return call_from_tool(name, args, raw=raw)


def call_from_tool(name: str, args: dict[str, Any], *, raw: str = "") -> Call:
    """The call for a native tool-use request `name(args)`; never raises."""
    kind = name.strip().lower().replace("-", "_")
    kind = _NAME_ALIASES.get(kind, kind)
    if kind == "done":
        return Done()
    if kind == "action":
        text = next(
            (args[k] for k in ("text", "action", "command") if isinstance(args.get(k), str)), ""
        )
        return (
            Action(text=text.strip())
            if text.strip()
            else ParseError(message="action needs its text.", raw=raw)
        )
    cls = OP_TYPES.get(kind)
    if cls is None:
        known = ", ".join([*OP_TYPES, "done", "action"])
        return ParseError(message=f"Unknown tool {name!r}. Known tools: {known}.", raw=raw)
    fields = {f.name for f in msgspec.structs.fields(cls)}
    clean: dict[str, Any] = {}
    for k, v in args.items():
        key = k if k in fields else _ARG_ALIASES.get(k, k)
        if key == "text" and "text" not in fields:
            key = "pattern" if "pattern" in fields else "content"
        if key == "view_range" and isinstance(v, list) and len(v) == 2:
            clean["start"], clean["end"] = v
            continue
        if key in fields:
            clean[key] = v
    try:
        return msgspec.convert(clean, cls, strict=False)  # type: ignore[return-value]
    except msgspec.ValidationError as e:
        return ParseError(
            message=f"{kind} call not understood: {e}. Write it as {_example(kind)}", raw=raw
        )


def _example(kind: str) -> str:
    from automem_memfs._syntax import example  # lazy: the help table imports this module

    return example(kind, "json")


def format_json(call: Call) -> str:
    """The JSON text for `call`; `parse_json` reads it back as the same call."""
    if isinstance(call, Done):
        return '{"tool": "done"}'
    if isinstance(call, Action):
        return json.dumps({"tool": "action", "args": {"text": call.text}}, ensure_ascii=False)
    if isinstance(call, ParseError):
        raise ValueError("a ParseError has no JSON form")
    args = {
        f.name: getattr(call, f.name)
        for f in msgspec.structs.fields(call)
        if getattr(call, f.name) != f.default
    }
    return json.dumps({"tool": op_kind(call), "args": args}, ensure_ascii=False)
