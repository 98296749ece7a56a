"""The pipe syntax (`syntax="pipe"`, formerly "tags"): `<|OP|>arg|arg<|END|>` calls inside free
model text.

Grammar (case-insensitive names; text outside calls is ignored):

    <|READ|>path<|END|>            <|READ|>path|10-20<|END|>      <|READ|><|END|> (list all)
    <|TAIL|>path|5<|END|>          <|COUNT|>path<|END|>           <|COUNT|>path|keyword<|END|>
    <|SEARCH|>keyword<|END|>       <|SEARCH|>path|keyword<|END|>  <|SEARCH|>/regex/<|END|>
    <|CREATE|>path|text<|END|>     <|APPEND|>path|text<|END|>     <|WRITE|>path|text<|END|>
    <|STR_REPLACE|>path|old<|WITH|>new<|END|>                     <|INSERT|>path|3|text<|END|>
    <|DELETE|>path<|END|>          <|RENAME|>path|new path<|END|>
    <|DONE|>                       <|ACTION|>move west<|END|>

A text field runs to the end marker, so it may hold `|` and newlines; one newline right after
its `|` is dropped so a model can start multi-line text on a new line. Tolerated slips: one `|`
missing from a tag (`<SEARCH|>`, `<|SEARCH>`), a stray `}` (`<|END}>`, `<|END|}`, `{|END|}`), any case,
whitespace around fields, `</APPEND>`-style closers, and a missing final `<|END|>` (the call
then runs to the next tag or the end of the text).
"""

from __future__ import annotations

import re

import msgspec

from automem_memfs._ops import (
    Action,
    Append,
    Call,
    Count,
    Create,
    Delete,
    Done,
    Insert,
    ParseError,
    Read,
    Rename,
    Search,
    StrReplace,
    Tail,
    Write,
    op_kind,
)

ALIASES: dict[str, str] = {
    "READ": "read", "VIEW": "read", "CAT": "read", "OPEN": "read",
    "LIST": "list", "LS": "list",
    "TAIL": "tail",
    "SEARCH": "search", "GREP": "search", "FIND": "search",
    "COUNT": "count",
    "CREATE": "create",
    "APPEND": "append", "ADD": "append",
    "WRITE": "write", "OVERWRITE": "write",
    "STR_REPLACE": "str_replace", "STRREPLACE": "str_replace", "REPLACE": "str_replace",
    "EDIT": "str_replace",
    "INSERT": "insert",
    "DELETE": "delete", "REMOVE": "delete", "RM": "delete",
    "RENAME": "rename", "MOVE": "rename", "MV": "rename",
    "DONE": "done",
    "ACTION": "action", "ACT": "action",
}  # fmt: skip
PIPE_NAME = {
    "read": "READ", "tail": "TAIL", "search": "SEARCH", "count": "COUNT", "create": "CREATE",
    "append": "APPEND", "write": "WRITE", "str_replace": "STR_REPLACE", "insert": "INSERT",
    "delete": "DELETE", "rename": "RENAME", "done": "DONE", "action": "ACTION",
}  # fmt: skip
_NAMES = "|".join(sorted(ALIASES, key=len, reverse=True))
# Every whitespace run is possessive (`\s*+`): with plain `\s*` around an optional `|`, a
# failed match backtracks over each way to split a run of spaces, which is quadratic on text
# like "<" + 30,000 spaces. Possessive runs make each match attempt linear.
_CLOSE = r"(?P<close>\|?\s*+\}?\s*+>|\|?\s*+\}|\|)"
OPEN = re.compile(r"<\s*+(?P<lp>\|)?\s*+(?P<name>[A-Za-z][A-Za-z_]*+)\s*+" + _CLOSE)
END = re.compile(
    r"[<{]\s*+\|?\s*+(?:END|/\s*+(?:" + _NAMES + r"))(?![A-Za-z_])\s*+\|?\s*+\}?\s*+>?",
    re.IGNORECASE,
)
WITH = re.compile(r"<\s*+\|?\s*+WITH(?![A-Za-z_])\s*+\|?\s*+\}?\s*+>", re.IGNORECASE)
_RANGE = re.compile(r"^\s*+(\d++)?\s*+(?:(-|:|\.\.|,|to)\s*+(\d++)?)?\s*+$", re.IGNORECASE)
_MARKERS = ("END", "WITH")
_WS = re.compile(r"\s*+")
DEFAULT_MAX_RESULTS = next(
    f.default for f in msgspec.structs.fields(Search) if f.name == "max_results"
)


def _opener(m: re.Match[str]) -> str | None:
    """The opener's upper-case name if it counts as a tag (it has at least one `|`)."""
    if not (m["lp"] or "|" in m["close"]):
        return None
    return m["name"].upper()


def _next_opener(text: str, pos: int, stop: int) -> int:
    """Start of the first known op tag in text[pos:stop], or `stop`."""
    for m in OPEN.finditer(text, pos, stop):
        name = _opener(m)
        if name in ALIASES:
            return m.start()
    return stop


def _help(kind: str) -> str:
    from automem_memfs._syntax import example  # lazy: the help table imports this module

    return example(kind, "pipe")


def _err(kind: str, why: str, raw: str) -> ParseError:
    return ParseError(
        message=f"{PIPE_NAME.get(kind, kind.upper())} call not understood: {why}. Write it as {_help(kind)}",
        raw=raw,
    )


def _text_field(s: str) -> str:
    return s[1:] if s.startswith("\n") else s


def _int(s: str) -> int | None:
    s = s.strip()
    return int(s) if re.fullmatch(r"[+-]?\d{1,9}", s) else None


class _EndFinder:
    """`END.search(text, pos)` for non-decreasing `pos`, in linear time overall.

    Each call would otherwise rescan to the next end marker (or to the end of the text when
    there is none), which is quadratic on a text with many openers and no `<|END|>`.
    """

    __slots__ = ("_from", "_match", "_text")

    def __init__(self, text: str) -> None:
        self._text = text
        self._from = -1  # the position of the last real search
        self._match: re.Match[str] | None = None

    def search(self, pos: int) -> re.Match[str] | None:
        m = self._match
        if self._from >= 0 and pos >= self._from and (m is None or m.start() >= pos):
            return m  # the last search covered pos..: same answer
        self._from = pos
        self._match = END.search(self._text, pos)
        return self._match


def parse_pipe(text: str) -> list[Call]:
    """Every call in `text`, in order. Never raises; bad calls become ParseError values.

    Runs in time linear in the text: model text can be long and adversarial.
    """
    return [call for call, _, _ in pipe_spans(text)]


def pipe_spans(text: str) -> list[tuple[Call, int, int]]:
    """`parse_pipe`, with each call's `text[start:end]` span (its tags included)."""
    calls: list[tuple[Call, int, int]] = []
    pos = 0
    n = len(text)
    ends = _EndFinder(text)
    while (m := OPEN.search(text, pos)) is not None:
        name = _opener(m)
        if name is None or name in _MARKERS:
            pos = m.start() + 1 if name is None else m.end()
            continue
        kind = ALIASES.get(name)
        if kind is None and not (m["name"].isupper() and len(name) > 1):
            pos = m.end()  # a chat-template token such as <|im_end|>: not ours
            continue
        if kind == "done":
            pos = m.end()
            if (e := END.match(text, _WS.match(text, pos).end())) is not None:  # type: ignore[union-attr]
                pos = e.end()  # a model that closes DONE with <|END|> too
            calls.append((Done(), m.start(), pos))
            continue
        start = m.end()
        e = ends.search(start)
        stop = e.start() if e is not None else n
        nxt = _next_opener(text, start, stop)
        if nxt < stop:
            body, pos = text[start:nxt].rstrip(), nxt
        elif e is not None:
            body, pos = text[start:stop], e.end()
        else:
            body, pos = text[start:].rstrip(), n
        raw = text[m.start() : pos]
        if kind is None:
            known = ", ".join(sorted(set(PIPE_NAME.values())))
            error = ParseError(message=f"Unknown op <|{name}|>. Known ops: {known}.", raw=raw)
            calls.append((error, m.start(), pos))
            continue
        calls.append((_build(kind, body, raw), m.start(), pos))
    return calls


def _build(kind: str, body: str, raw: str) -> Call:
    if kind in ("read", "list"):
        path, sep, rng = body.partition("|")
        if not sep or kind == "list":
            return Read(path=body.strip() if kind == "list" else path.strip())
        rm = _RANGE.match(rng)
        if rm is None or not (rm[1] or rm[3]):
            return _err("read", f"the line range {rng.strip()!r} is not like 10-20", raw)
        start = int(rm[1]) if rm[1] else None
        end = int(rm[3]) if rm[3] else (None if rm[2] else start)
        return Read(path=path.strip(), start=start, end=end)
    if kind == "str_replace":
        w = WITH.search(body)
        if w is None:
            return _err(kind, "the old and new text must be separated by <|WITH|>", raw)
        path, sep, old = body[: w.start()].partition("|")
        if not sep or not path.strip():
            return _err(kind, "it needs a path, the old text and the new text", raw)
        return StrReplace(path=path.strip(), old=_text_field(old), new=_text_field(body[w.end() :]))
    if kind == "action":
        act = body.strip()
        return Action(text=act) if act else _err(kind, "the action is empty", raw)
    if kind == "search":
        whole = body.strip()
        if len(whole) >= 2 and whole[0] == "/" and whole[-1] == "/":
            return Search(pattern=whole[1:-1], regex=True)
        path, sep, pat = body.partition("|")
        path, pat = (path.strip(), pat.strip()) if sep else ("", path.strip())
        if not pat:
            return _err(kind, "the keyword is empty", raw)
        regex = len(pat) >= 2 and pat[0] == "/" and pat[-1] == "/"
        if regex:
            pat = pat[1:-1]
        p = None if path in ("", "*", ".", "/", "all") else path
        return Search(pattern=pat, path=p, regex=regex)
    head, sep, rest = body.partition("|")
    path = head.strip()
    if not path:
        return _err(kind, "the path is missing", raw)
    if kind == "tail":
        if not sep:
            return Tail(path=path)
        k = _int(rest)
        return (
            Tail(path=path, n=k)
            if k is not None
            else _err(kind, f"{rest.strip()!r} is not a line count", raw)
        )
    if kind == "count":
        return Count(path=path, pattern=(rest.strip() or None) if sep else None)
    if kind == "delete":
        return Delete(path=body.strip())
    if kind == "rename":
        if not sep or not rest.strip():
            return _err(kind, "it needs the old and the new path", raw)
        return Rename(path=path, new_path=rest.strip())
    if kind == "insert":
        line, sep2, content = rest.partition("|")
        k = _int(line)
        if not sep or k is None:
            return _err(kind, "it needs a path, a line number and the text", raw)
        if not sep2:
            return _err(kind, "the text to insert is missing", raw)
        return Insert(path=path, line=k, content=_text_field(content))
    if kind == "create":
        return Create(path=path, content=_text_field(rest))
    if not sep:
        return _err(kind, "the text is missing (put it after the path and a |)", raw)
    cls = Append if kind == "append" else Write
    return cls(path=path, content=_text_field(rest))


# -- formatting ------------------------------------------------------------------------------


def _safe(value: str, what: str, *, field: bool) -> str:
    """Refuses values the parser would read back differently."""
    if END.search(value) or (WITH.search(value) and not what.endswith("new text")):
        raise ValueError(f"pipe syntax cannot carry {what} containing an end or WITH marker")
    if _next_opener(value, 0, len(value)) < len(value):
        raise ValueError(f"pipe syntax cannot carry {what} containing an op tag")
    if not field and (value != value.strip() or "|" in value or "\n" in value):
        raise ValueError(f"pipe syntax cannot carry {what} {value!r} (edge spaces, | or newline)")
    return value


def _fld(text: str, what: str) -> str:
    text = _safe(text, what, field=True)
    return "\n" + text if text.startswith("\n") else text


def format_pipe(call: Call) -> str:
    """The pipe-syntax text for `call`; `parse_pipe` reads it back as the same call.

    Raises ValueError for values the syntax cannot carry (see the module docstring).
    """
    if isinstance(call, Done):
        return "<|DONE|>"
    if isinstance(call, ParseError):
        raise ValueError("a ParseError has no tag form")
    if isinstance(call, Action):
        return f"<|ACTION|>{_safe(call.text, 'an action', field=False)}<|END|>"
    kind = op_kind(call)
    tag = PIPE_NAME[kind]
    p = _safe(call.path, "a path", field=False) if isinstance(call.path, str) else None
    if isinstance(call, Read):
        for v in (call.start, call.end):
            if v is not None and v < 1:
                raise ValueError("pipe syntax carries only line numbers >= 1")
        if call.start is None and call.end is None:
            rng = ""
        else:
            rng = (
                f"|{call.start or ''}-{call.end or ''}"
                if call.start != call.end
                else f"|{call.start}"
            )
        return f"<|READ|>{p}{rng}<|END|>"
    if isinstance(call, Tail):
        return f"<|TAIL|>{p}|{call.n}<|END|>"
    if isinstance(call, Search):
        if call.max_results != DEFAULT_MAX_RESULTS:
            raise ValueError("pipe syntax cannot carry max_results; use the json syntax")
        pat = _safe(call.pattern, "a pattern", field=False)
        looks_regex = len(pat) >= 2 and pat[0] == "/" and pat[-1] == "/"
        if not pat or (looks_regex and not call.regex):
            raise ValueError(f"pipe syntax cannot carry the literal pattern {pat!r}")
        shown = f"/{pat}/" if call.regex else pat
        if call.path is None:
            return f"<|SEARCH|>{'*|' if '|' in shown and not call.regex else ''}{shown}<|END|>"
        if p in ("", "*", ".", "/", "all"):
            raise ValueError(f"pipe syntax reads the path {p!r} as 'all files'")
        return f"<|SEARCH|>{p}|{shown}<|END|>"
    if isinstance(call, Count):
        if call.pattern is None:
            return f"<|COUNT|>{p}<|END|>"
        return f"<|COUNT|>{p}|{_safe(call.pattern, 'a pattern', field=False)}<|END|>"
    if isinstance(call, StrReplace):
        old = _fld(call.old, "old text")
        return f"<|STR_REPLACE|>{p}|{old}<|WITH|>{_fld(call.new, 'new text')}<|END|>"
    if isinstance(call, Insert):
        return f"<|INSERT|>{p}|{call.line}|{_fld(call.content, 'text')}<|END|>"
    if isinstance(call, Delete):
        return f"<|DELETE|>{p}<|END|>"
    if isinstance(call, Rename):
        return f"<|RENAME|>{p}|{_safe(call.new_path, 'a path', field=False)}<|END|>"
    assert isinstance(call, Create | Append | Write)
    if isinstance(call, Create | Append | Write) and not p:
        raise ValueError("an empty path")
    return f"<|{tag}|>{p}|{_fld(call.content, 'text')}<|END|>"
