"""Memory-wide size accounting shared by every store on one root, in any process.

Each store caches its own view of the files, so two stores on one root that each checked the
limits against their own cache could together exceed them. Instead every write op holds an
`flock` on a small file in the root, `.memfs-usage`, which records the root's total bytes and
file count. The op checks the limits against those numbers, records its change there before it
writes (so a writer killed mid-op leaves an over-count, never an under-count) and releases the
lock when done. The numbers are rebuilt from a scan of the disk, under the same lock, when a
store writes for the first time, when the file is missing or damaged, and before any refusal,
so that drift (a crash, a file changed by hand) can cost a scan but never cause a false refusal.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable

USAGE_FILE = ".memfs-usage"
_WIDTH = 20  # fixed-width fields: a rewrite never needs a truncate


class Usage:
    """The root's (total bytes, file count) while a write op holds the lock."""

    __slots__ = ("_base", "_fd", "_reserved", "_root", "_scan", "_scanned", "fresh")

    def __init__(self, root_fd: int, scan: Callable[[], tuple[int, int]]) -> None:
        self._root = root_fd
        self._scan = scan  # reads the disk: (total bytes, files)
        self._fd = -1
        self._scanned = False  # whether this store has rebuilt the numbers once
        self._base = (0, 0)
        self._reserved: dict[str, tuple[int, int]] = {}  # rel -> (byte change, file change)
        self.fresh = False  # the numbers were read from disk during this op

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def acquire(self) -> None:
        if self._fd < 0:
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
            self._fd = os.open(USAGE_FILE, flags, 0o644, dir_fd=self._root)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        self._reserved.clear()
        self.fresh = False
        numbers = _parse(os.pread(self._fd, 2 * _WIDTH + 1, 0))
        if numbers is None or not self._scanned:
            self.rebuild()
        else:
            self._base = numbers

    def release(self, *, keep: bool) -> None:
        """Ends the op; without `keep`, its reservations are taken back."""
        try:
            if not keep and self._reserved:
                self._reserved.clear()
                self._write()
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def rebuild(self) -> None:
        """Recounts from disk; reservations of this op are dropped (it has not written yet)."""
        self._base = self._scan()
        self._scanned = self.fresh = True
        self._reserved.clear()
        self._write()

    def others(self, rel: str) -> tuple[int, int]:
        """(total bytes, files) with every change but the one reserved for `rel`."""
        total, files = self._base
        for r, (db, df) in self._reserved.items():
            if r != rel:
                total += db
                files += df
        return total, files

    def reserve(self, rel: str, old: int | None, new: int | None) -> None:
        """Records that `rel` goes from `old` to `new` bytes (None: absent) in this op."""
        self._reserved[rel] = ((new or 0) - (old or 0), (new is not None) - (old is not None))
        self._write()

    def _write(self) -> None:
        total, files = self.others("")
        os.pwrite(self._fd, f"{total:{_WIDTH}d}{files:{_WIDTH}d}\n".encode(), 0)


def _parse(data: bytes) -> tuple[int, int] | None:
    if len(data) != 2 * _WIDTH + 1 or not data.endswith(b"\n"):
        return None
    try:
        total, files = int(data[:_WIDTH]), int(data[_WIDTH : 2 * _WIDTH])
    except ValueError:
        return None
    return (total, files) if total >= 0 and files >= 0 else None
