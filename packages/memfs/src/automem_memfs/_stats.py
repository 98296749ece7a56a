"""Usage statistics of a memory store, as the paper reports them."""

from __future__ import annotations

import msgspec

# The ops that count as writes in the write-to-search ratio: those that add or change text.
# Delete and rename reorganise memory without writing new content, so they do not count.
RATIO_WRITE_OPS = frozenset({"append", "write", "create", "str_replace", "insert"})


class MemoryStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counts since the store opened (or since `reset_stats`).

    - `op_counts`: ops attempted by kind, failed ones included (they show the model's habits).
    - `bytes_written`: UTF-8 bytes the store wrote: appended bytes for an append, the whole new
      file for a rewrite.
    - `size_history`, `char_history`: total bytes and characters in memory when the store
      opened, then at each `mark_step()`.
    - `write_to_search_ratio`: (append + write + create + str_replace + insert) / search,
      counting attempts; None when no search was made.
    - `growth_per_step`: mean characters added per marked step,
      (last - first) / (number of steps); 0.0 before the first step.
    """

    op_counts: dict[str, int] = {}
    bytes_written: int = 0
    errors: int = 0
    size_history: list[int] = []
    char_history: list[int] = []
    write_to_search_ratio: float | None = None
    growth_per_step: float = 0.0

    @property
    def steps(self) -> int:
        return max(len(self.char_history) - 1, 0)


def compute(
    counts: dict[str, int], bytes_written: int, errors: int, sizes: list[int], chars: list[int]
) -> MemoryStats:
    writes = sum(counts.get(k, 0) for k in RATIO_WRITE_OPS)
    searches = counts.get("search", 0)
    growth = (chars[-1] - chars[0]) / (len(chars) - 1) if len(chars) > 1 else 0.0
    return MemoryStats(
        op_counts=dict(counts),
        bytes_written=bytes_written,
        errors=errors,
        size_history=list(sizes),
        char_history=list(chars),
        write_to_search_ratio=writes / searches if searches else None,
        growth_per_step=growth,
    )
