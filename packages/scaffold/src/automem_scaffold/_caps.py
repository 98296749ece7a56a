"""The protocol's agent sampling, written into the start scaffold's copy.

A protocol fixes rounds per phase, tokens per reply and temperature (the paper: up to 4,096
tokens at temperature 1.0). They are set in the copy of the start scaffold in
`iterations/000/scaffold/` as an edit to its `scaffold.toml`, visible in the archive like any
other revision; comments and layout are kept.
"""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
_PHASES = ("log", "plan")


def set_sampling(
    manifest: Path,
    *,
    max_rounds: int | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> list[str]:
    """Sets `max_rounds` / `max_tokens` of `[log]` and `[plan]` and the top-level `temperature`
    in a scaffold.toml (adding keys where defaults applied; None leaves a value as it is).
    Returns a description of each change."""
    caps = {k: v for k, v in (("max_rounds", max_rounds), ("max_tokens", max_tokens)) if v}
    lines = manifest.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    changes: list[str] = []
    section: str | None = None
    seen: set[str] = set()
    if temperature is not None:
        lines, change = _set_top_level(lines, "temperature", temperature)
        changes += change
    if not caps:
        if changes:
            manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return changes

    def close_section() -> None:
        if section in _PHASES:
            for key, cap in caps.items():
                if key not in seen:
                    out.append(f"{key} = {cap}")
                    changes.append(f"[{section}] {key} = {cap} (was the default)")

    for line in lines:
        m = _SECTION.match(line)
        if m:
            close_section()
            section, seen = m.group(1).strip(), set()
            out.append(line)
            continue
        key_match = re.match(r"^(\s*)(max_rounds|max_tokens)\s*=\s*(\d+)(.*)$", line)
        if section in _PHASES and key_match and key_match.group(2) in caps:
            key, value = key_match.group(2), int(key_match.group(3))
            seen.add(key)
            cap = caps[key]
            if value != cap:
                line = f"{key_match.group(1)}{key} = {cap}{key_match.group(4)}"
                changes.append(f"[{section}] {key} = {cap} (was {value})")
        out.append(line)
    close_section()
    manifest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return changes


def _set_top_level(lines: list[str], key: str, value: float) -> tuple[list[str], list[str]]:
    """`lines` with `key = value` before the first table, replacing an existing top-level key."""
    pattern = re.compile(rf"^{key}\s*=\s*([^#\s]+)(.*)$")
    for i, line in enumerate(lines):
        if _SECTION.match(line):
            break
        m = pattern.match(line)
        if m:
            if float(m.group(1)) == value:
                return lines, []
            return [*lines[:i], f"{key} = {value}{m.group(2)}", *lines[i + 1 :]], [
                f"{key} = {value} (was {m.group(1)})"
            ]
    first_table = next((i for i, line in enumerate(lines) if _SECTION.match(line)), len(lines))
    return [*lines[:first_table], f"{key} = {value}", *lines[first_table:]], [
        f"{key} = {value} (was the default)"
    ]
