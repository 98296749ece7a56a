"""Caps on the start scaffold's model budget (rounds per phase, tokens per reply).

A demo-scale run with a CPU model cannot afford v0's five rounds of 200 tokens per phase, so
the offline default caps the copy of the start scaffold in `iterations/000/scaffold/`. The cap
is an edit to that copy's `scaffold.toml`, visible in the archive like any other revision.
"""

from __future__ import annotations

import re
from pathlib import Path

_SECTION = re.compile(r"^\s*\[([^\]]+)\]\s*(#.*)?$")
_PHASES = ("log", "plan")


def cap_phases(manifest: Path, *, max_rounds: int | None, max_tokens: int | None) -> list[str]:
    """Lowers `max_rounds` / `max_tokens` of `[log]` and `[plan]` in a scaffold.toml to the caps
    (adding the keys where the defaults applied). Returns a description of each change."""
    caps = {k: v for k, v in (("max_rounds", max_rounds), ("max_tokens", max_tokens)) if v}
    if not caps:
        return []
    lines = manifest.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    changes: list[str] = []
    section: str | None = None
    seen: set[str] = set()

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
            if value > cap:
                line = f"{key_match.group(1)}{key} = {cap}{key_match.group(4)}"
                changes.append(f"[{section}] {key} = {cap} (was {value})")
        out.append(line)
    close_section()
    manifest.write_text("\n".join(out) + "\n", encoding="utf-8")
    return changes
