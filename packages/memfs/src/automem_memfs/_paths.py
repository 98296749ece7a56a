"""Turning a path a model wrote into a canonical path inside the memory root, or a clear refusal.

This is the lexical half of the sandbox: it rejects absolute paths, `..` (also URL-encoded),
control characters, reserved names, over-long names and excessive depth. The store's file layer
is the other half: it walks directories with `O_NOFOLLOW` so no symlink is ever followed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from urllib.parse import unquote

from automem_memfs._errors import SandboxError
from automem_memfs._limits import Limits

_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_ROOT_NAMES = frozenset({"", ".", "/", "./", "*"})


def _bad_char(text: str) -> str | None:
    for ch in text:
        o = ord(ch)
        if (
            o < 32
            or o == 127
            or (o >= 128 and (unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI))
        ):
            return ch
    return None


def _refuse(path: str, why: str) -> SandboxError:
    shown = path if len(path) <= 80 else path[:77] + "..."
    return SandboxError(f"Path {shown!r} refused: {why}")


def normalize_path(path: str, limits: Limits = Limits(), *, allow_root: bool = False) -> str:
    """The canonical relative path (`"notes/map.md"`, or `""` for the root when `allow_root`).

    Raises `SandboxError` with a message written for the model when the path is refused.
    Tolerates surrounding whitespace, a leading `./` and doubled slashes.
    """
    if not isinstance(path, str):
        raise SandboxError(f"Path must be text, got {type(path).__name__}")
    return _normalize(path, limits.max_depth, limits.max_name_len, limits.max_path_len, allow_root)


@functools.lru_cache(maxsize=8192)
def _normalize(path: str, max_depth: int, max_name_len: int, max_path_len: int, root: bool) -> str:
    p = path.strip()
    if (bad := _bad_char(p)) is not None:
        raise _refuse(path, f"it contains the control character {bad!r}; use plain names")
    if "\\" in p:
        raise _refuse(path, "backslashes are not allowed; separate directories with /")
    if _PCT.search(p):
        decoded = p
        for _ in range(3):  # double and triple encoding are classic traversal tricks
            nxt = unquote(decoded)
            if nxt == decoded:
                break
            decoded = nxt
        parts = decoded.split("/")
        if (
            ".." in parts
            or decoded.startswith(("/", "~"))
            or decoded.count("/") != p.count("/")
            or "\\" in decoded
            or _bad_char(decoded) is not None
        ):
            raise _refuse(path, "URL-encoded path separators or '..' are not allowed")
    if p in _ROOT_NAMES:
        if root:
            return ""
        raise _refuse(path, "that is the memory root; name a file such as notes.md")
    if p.startswith("/"):
        raise _refuse(
            path,
            "absolute paths are not allowed; use a path relative to the memory root, like notes.md",
        )
    if p.startswith("~"):
        raise _refuse(path, "'~' is not expanded; use a path relative to the memory root")
    if len(p.encode("utf-8", "surrogatepass")) > max_path_len:
        raise _refuse(path, f"the path is longer than {max_path_len} bytes")
    parts = [c for c in p.split("/") if c not in ("", ".")]
    if not parts:
        if root:
            return ""
        raise _refuse(path, "that is the memory root; name a file such as notes.md")
    for c in parts:
        if c == ".." or (not c.isascii() and unicodedata.normalize("NFKC", c) in ("..", ".")):
            raise _refuse(path, "'..' is not allowed; every path stays inside the memory root")
        if c.startswith("."):
            raise _refuse(path, f"names starting with '.' are reserved ({c!r}); pick another name")
        if len(c.encode("utf-8", "surrogatepass")) > max_name_len:
            raise _refuse(path, f"the name {c[:40]!r}... is longer than {max_name_len} bytes")
        if c != c.strip():
            raise _refuse(path, f"the name {c!r} starts or ends with spaces")
    if len(parts) - 1 > max_depth:
        raise _refuse(path, f"it is {len(parts) - 1} directories deep; the limit is {max_depth}")
    return "/".join(parts)
