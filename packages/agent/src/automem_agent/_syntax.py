"""The agent's use of memfs's call syntax: parsing replies and explaining the syntax in prompts."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from automem_memfs import Call


def parse(text: str, syntax: str) -> list[Call]:
    """Every call in a model reply, in order; malformed ones come back as `ParseError` values."""
    from automem_memfs import parse_calls

    return list(parse_calls(text, syntax=syntax))


@lru_cache(maxsize=64)
def _help(ops: tuple[str, ...], syntax: str, end: str) -> str:
    from automem_memfs import syntax_help

    return syntax_help(list(ops), syntax=syntax, include=[end])


def phase_syntax(ops: list[str], syntax: str, *, end: Literal["done", "action"]) -> str:
    """How to write this phase's calls and its closing DONE or ACTION, with examples."""
    return _help(tuple(ops), syntax, end)
