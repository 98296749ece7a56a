"""Size and shape limits of a memory directory, with defaults sized for an LLM agent's prompt."""

from __future__ import annotations

import msgspec


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Limits the store enforces when a write happens (sizes in UTF-8 bytes).

    `max_read_chars` cuts long read results; the cut says how to read a line range instead.
    `max_depth` counts directories: `a/b/notes.md` has depth 2. `regex_timeout_ms` bounds the
    time one regex search (or count) may take, so a pattern that backtracks exponentially comes
    back as an error instead of hanging the agent.
    """

    max_file_bytes: int = 64 * 1024
    max_total_bytes: int = 1024 * 1024
    max_files: int = 200
    max_depth: int = 4
    max_name_len: int = 100
    max_path_len: int = 400
    max_read_chars: int = 8000
    max_line_chars: int = 300  # search hits and listings cut longer lines
    regex_timeout_ms: int = 500  # one regex search (all files together) stops with an error then

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be >= 1")
