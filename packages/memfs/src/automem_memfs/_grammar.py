"""A GBNF grammar for one reply in the pipe syntax, compiled from what the reply may contain.

Grammar-constrained decoding (llama.cpp's GBNF; vLLM accepts the same text as its structured
output `grammar`) makes every reply parse: only the phase's ops, only known memory files (or a
new name for a write), only the env's actions, and the reply ends with DONE or one ACTION.

    call_grammar(ops=["search", "append"], end="done", files=["log.md"], writable=["log.md"])

Free-text fields exclude `<`, `|`, `{` and newlines, so no field can hold an end marker or an
op tag, and each is capped in length so a reply fits its token budget.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from automem_memfs._pipe_calls import PIPE_NAME

GRAMMAR_OPS = (
    "read",
    "tail",
    "search",
    "count",
    "create",
    "append",
    "write",
    "str_replace",
    "insert",
    "delete",
    "rename",
)
_NEEDS_FILE = {"read", "tail", "count", "str_replace", "insert", "delete"}
_WRITES = {"append", "write", "str_replace", "insert", "delete", "rename"}


def _lit(text: str) -> str:
    return json.dumps(text)  # a GBNF string literal uses JSON's escapes


def _alts(values: Sequence[str]) -> str:
    return " | ".join(_lit(v) for v in values)


def _op_rule(kind: str, files: bool, writable: bool) -> str:
    tag = _lit(f"<|{PIPE_NAME[kind]}|>")
    end = '"<|END|>"'
    if kind == "read":
        return f"{tag} path {end}"
    if kind == "tail":
        return f'{tag} path "|" [1-9] [0-9]? {end}'
    if kind == "search":
        scope = '(path "|")? ' if files else ""
        return f"{tag} {scope}word {end}"
    if kind == "count":
        return f'{tag} path ("|" word)? {end}'
    if kind == "create":
        return f'{tag} newpath "|" text {end}'
    if kind in ("append", "write"):
        target = "wpath | newpath" if writable else "newpath"
        return f'{tag} ({target}) "|" text {end}'
    if kind == "str_replace":
        return f'{tag} wpath "|" text "<|WITH|>" text {end}'
    if kind == "insert":
        return f'{tag} wpath "|" [0-9] [0-9]? "|" text {end}'
    if kind == "delete":
        return f"{tag} wpath {end}"
    assert kind == "rename"
    return f'{tag} wpath "|" newpath {end}'


def call_grammar(
    *,
    ops: Sequence[str],
    end: Literal["done", "action"],
    files: Sequence[str] = (),
    writable: Sequence[str] = (),
    actions: Sequence[str] = (),
    min_calls: int = 0,
    max_calls: int = 2,
    text_chars: int = 100,
    word_chars: int = 32,
) -> str:
    """GBNF for a reply of `min_calls`..`max_calls` op calls, then `<|DONE|>` or one ACTION.

    `files` are the memory files a read may name; `writable` the ones a write may change (a
    write may also name a new `*.md` file). `actions` is the env's action list (required when
    `end="action"`). Ops that need an existing file are left out while there is none.
    Raises ValueError for an unknown op or an empty action list.
    """
    unknown = [k for k in ops if k not in GRAMMAR_OPS]
    if unknown:
        raise ValueError(f"no grammar for op(s) {unknown}; known: {', '.join(GRAMMAR_OPS)}")
    if end == "action" and not actions:
        raise ValueError("an ACTION grammar needs the env's action list")
    if not 0 <= min_calls <= max_calls:
        raise ValueError(f"need 0 <= min_calls <= max_calls, got {min_calls}, {max_calls}")
    usable = [
        k
        for k in dict.fromkeys(ops)
        if (files or k not in _NEEDS_FILE)
        and (writable or k not in ("str_replace", "insert", "delete", "rename"))
    ]
    if not usable:
        max_calls = min_calls = 0
    closing = '"<|DONE|>"' if end == "done" else '"<|ACTION|>" act "<|END|>"'
    rules = []
    if max_calls:
        rules.append(f"root ::= (call sep){{{min_calls},{max_calls}}} {closing}")
        rules.append("sep ::= [\\n]?")
        rules.append("call ::= " + " | ".join(f"op-{k.replace('_', '-')}" for k in usable))
        for k in usable:
            rules.append(f"op-{k.replace('_', '-')} ::= {_op_rule(k, bool(files), bool(writable))}")
    else:
        rules.append(f"root ::= {closing}")
    if files:
        rules.append(f"path ::= {_alts(files)}")
    if writable:
        rules.append(f"wpath ::= {_alts(writable)}")
    if any(k in _WRITES | {"create"} for k in usable):
        rules.append('newpath ::= [a-z] [a-z0-9_-]{0,23} ".md"')
    rules.append(f"text ::= [^<|{{\\n]{{1,{text_chars}}}")
    rules.append(f"word ::= [a-zA-Z0-9] [a-zA-Z0-9 _-]{{0,{word_chars - 1}}}")
    if end == "action":
        rules.append(f"act ::= {_alts(actions)}")
    return "\n".join(rules) + "\n"
