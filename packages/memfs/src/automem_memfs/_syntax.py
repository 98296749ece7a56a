"""The public face of the op syntaxes: parse model text into calls, format calls back, and the
op reference a prompt shows the model (as text, or as tool schemas for native tool use)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from automem_memfs._json_calls import call_from_tool, format_json, json_spans, parse_json
from automem_memfs._ops import OP_TYPES, Call, ParseError, op_kind
from automem_memfs._pipe_calls import format_pipe, parse_pipe, pipe_spans

SYNTAXES = ("pipe", "json")
# Older names still read: "tags" was the pipe syntax's name before the meta-LLM's `<tool>` tags
# (automem_agent.meta) made it ambiguous.
SYNTAX_ALIASES = {"tags": "pipe"}
CONTROL_CALLS = ("done", "action")

# kind -> (what it does, pipe examples, json example args)
_HELP: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "read": (
        "show a file with line numbers, a line range, or (empty path) list all files",
        ("<|READ|>notes.md<|END|>", "<|READ|>notes.md|10-20<|END|>", "<|READ|><|END|>"),
        {"path": "notes.md", "start": 10, "end": 20},
    ),
    "tail": (
        "show the last N lines of a file",
        ("<|TAIL|>notes.md|5<|END|>",),
        {"path": "notes.md", "n": 5},
    ),
    "search": (
        "find lines containing a keyword (any case) in all files or one file; /.../ is a regex",
        (
            "<|SEARCH|>diamond<|END|>",
            "<|SEARCH|>notes.md|diamond<|END|>",
            "<|SEARCH|>/^\\(1\\d,/<|END|>",
        ),
        {"pattern": "diamond", "path": "notes.md"},
    ),
    "count": (
        "count a file's lines, or the lines containing a keyword",
        ("<|COUNT|>notes.md<|END|>", "<|COUNT|>notes.md|diamond<|END|>"),
        {"path": "notes.md", "pattern": "diamond"},
    ),
    "create": (
        "create a new file (never overwrites)",
        ("<|CREATE|>plan.md|text<|END|>",),
        {"path": "plan.md", "content": "text"},
    ),
    "append": (
        "add lines at the end of a file (created if missing)",
        ("<|APPEND|>notes.md|text<|END|>",),
        {"path": "notes.md", "content": "text"},
    ),
    "write": (
        "replace a file's whole content",
        ("<|WRITE|>notes.md|new content<|END|>",),
        {"path": "notes.md", "content": "new content"},
    ),
    "str_replace": (
        "replace text that occurs exactly once in a file",
        ("<|STR_REPLACE|>notes.md|old text<|WITH|>new text<|END|>",),
        {"path": "notes.md", "old": "old text", "new": "new text"},
    ),
    "insert": (
        "insert lines after line N (0 = at the top)",
        ("<|INSERT|>notes.md|3|text<|END|>",),
        {"path": "notes.md", "line": 3, "content": "text"},
    ),
    "delete": ("delete a file", ("<|DELETE|>old.md<|END|>",), {"path": "old.md"}),
    "rename": (
        "rename or move a file (never overwrites)",
        ("<|RENAME|>old.md|new.md<|END|>",),
        {"path": "old.md", "new_path": "new.md"},
    ),
    "done": ("finish this phase", ("<|DONE|>",), {}),
    "action": ("commit one game action", ("<|ACTION|>move west<|END|>",), {"text": "move west"}),
}


def _syntax_name(syntax: str) -> str:
    """`syntax` by its current name; ValueError if it names no syntax."""
    name = SYNTAX_ALIASES.get(syntax, syntax)
    if name not in SYNTAXES:
        raise ValueError(f"unknown syntax {syntax!r}; choose one of {SYNTAXES}")
    return name


def parse_calls(text: str, syntax: str = "pipe") -> list[Call]:
    """The calls in a model's text, in order. Never raises on model text: a malformed or
    unknown call becomes a `ParseError` whose message tells the model how to fix it. Text
    with no calls gives `[]`. Raises ValueError only for an unknown `syntax`."""
    syntax = _syntax_name(syntax)
    if not isinstance(text, str):
        return []
    return parse_pipe(text) if syntax == "pipe" else parse_json(text)


def strip_calls(text: str, kinds: Iterable[str], syntax: str = "pipe") -> str:
    """`text` without its calls of `kinds` (e.g. `["action"]`), cut out exactly where
    `parse_calls` finds them; all other text, calls included, is kept verbatim. A JSON list
    that mixes kinds is written again without the removed ones."""
    syntax = _syntax_name(syntax)
    wanted = set(kinds)

    def cut(call: Call) -> bool:
        return not isinstance(call, ParseError) and op_kind(call) in wanted

    pieces: list[str] = []
    last = 0
    if syntax == "pipe":
        spans = [(start, end, "") for call, start, end in pipe_spans(text) if cut(call)]
    else:
        spans = []
        for calls, start, end in json_spans(text):
            kept = [c for c in calls if not cut(c)]
            if len(kept) < len(calls):
                shown = (c.raw if isinstance(c, ParseError) else format_json(c) for c in kept)
                spans.append((start, end, ", ".join(shown)))
    for start, end, replacement in spans:
        pieces.append(text[last:start])
        if replacement:
            pieces.append(f"[{replacement}]")
        last = end
    pieces.append(text[last:])
    return "".join(pieces)


def format_call(call: Call, syntax: str = "pipe") -> str:
    """The text a model would write for `call`; `parse_calls(format_call(c)) == [c]`.

    Raises ValueError for a ParseError, or a value the pipe syntax cannot carry (a text
    containing `<|END|>`, a path with `|`, a Search with a non-default max_results...).
    """
    syntax = _syntax_name(syntax)
    return format_pipe(call) if syntax == "pipe" else format_json(call)


def example(kind: str, syntax: str = "pipe") -> str:
    """One example call of `kind` in `syntax`."""
    _, pipe, args = _HELP[kind]
    if _syntax_name(syntax) == "pipe":
        return pipe[0]
    body = {"tool": kind, "args": args} if args else {"tool": kind}
    return msgspec.json.encode(body).decode()


def _kinds(ops: Iterable[str] | None, include: Iterable[str]) -> list[str]:
    kinds = list(OP_TYPES) if ops is None else list(ops)
    kinds += [c for c in include if c not in kinds]
    for k in kinds:
        if k not in _HELP:
            raise ValueError(f"unknown op {k!r}; known: {', '.join(_HELP)}")
    return kinds


def syntax_help(
    ops: Iterable[str] | None = None, syntax: str = "pipe", *, include: Iterable[str] = ()
) -> str:
    """The op reference for a prompt: one line per op with an example.

    `ops` are op kinds (default: every memory op, in a fixed order); `include` adds control
    calls, "done" and/or "action".
    """
    syntax = _syntax_name(syntax)
    lines = []
    for k in _kinds(ops, include):
        what, pipe, _ = _HELP[k]
        shown = ", ".join(pipe) if syntax == "pipe" else example(k, "json")
        lines.append(f"{shown}  - {what}")
    return "\n".join(lines)


def tool_schemas(
    ops: Iterable[str] | None = None, *, include: Iterable[str] = ()
) -> list[dict[str, Any]]:
    """Native tool definitions (`name`, `description`, `input_schema`) for the given ops, for
    backends that support tool use; decode a tool call with `call_from_tool(name, input)`."""
    out = []
    for k in _kinds(ops, include):
        if k == "done":
            schema: dict[str, Any] = {"type": "object", "properties": {}}
        elif k == "action":
            schema = {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            }
        else:
            cls = OP_TYPES[k]
            full = msgspec.json.schema(cls)
            schema = dict(full["$defs"][cls.__name__]) if "$defs" in full else dict(full)
            schema.pop("title", None)
            props = dict(schema.get("properties", {}))
            props.pop("op", None)
            schema["properties"] = props
            schema["required"] = [r for r in schema.get("required", []) if r != "op"]
        out.append({"name": k, "description": _HELP[k][0], "input_schema": schema})
    return out


__all__ = ["call_from_tool", "example", "format_call", "parse_calls", "syntax_help", "tool_schemas"]
