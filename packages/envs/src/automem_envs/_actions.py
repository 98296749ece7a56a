"""Tolerant matching of action text against a vocabulary of natural-language names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

_SEPARATORS = re.compile(r"[\s_\-]+")
_EDGE_JUNK = " \t\r\n.!\"'`*:;"


def normalize_action(text: str) -> str:
    """Lower-case, turn `_`/`-`/runs of whitespace into one space, drop quotes and end punctuation.

    A single non-space character is kept as it is (case included), because a bare key such as
    `F` or `-` answers a game's question.
    """
    stripped = text.strip()
    if len(stripped) == 1:
        return stripped
    cleaned = stripped.strip(_EDGE_JUNK)
    if len(cleaned) == 1:
        return cleaned
    return _SEPARATORS.sub(" ", cleaned.lower()).strip()


class ActionVocabulary:
    """The names a game accepts, plus aliases, looked up after `normalize_action`.

    Matching tolerates case, spaces, underscores and hyphens; aliases map other common
    phrasings to a canonical name. Everything else is no match (the caller decides the fallback).
    A `strict` vocabulary (BALROG's action sets) accepts only the exact names.
    """

    def __init__(
        self,
        names: Iterable[str],
        aliases: Mapping[str, str] | None = None,
        *,
        strict: bool = False,
    ) -> None:
        self.names: list[str] = list(names)
        self.strict = strict
        self._lookup: dict[str, str] = {}
        if strict:  # BALROG's rule: the exact name (surrounding whitespace aside), nothing else
            self._lookup = {name: name for name in self.names}
            return
        for name in self.names:
            self._lookup[normalize_action(name)] = name
            self._lookup.setdefault(normalize_action(name).replace(" ", ""), name)
        for alias, target in (aliases or {}).items():
            if target not in self._lookup.values():
                continue  # an alias for an action this task does not have
            key = normalize_action(alias)
            self._lookup.setdefault(key, target)
            self._lookup.setdefault(key.replace(" ", ""), target)

    def match(self, text: str) -> str | None:
        """The canonical name `text` means, or None."""
        found = self._lookup.get(text)  # the common case: the exact name
        if found is not None and found == text:
            return found
        if self.strict:
            return self._lookup.get(text.strip())
        key = normalize_action(text)
        found = self._lookup.get(key)
        if found is None and len(key) > 1:
            found = self._lookup.get(key.replace(" ", ""))
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._lookup.values()

    def __len__(self) -> int:
        return len(self.names)
