"""Memory-wide size accounting shared by every store on one root, in any process.

Each store caches its own view of the files, so two stores on one root that each checked the
limits against their own cache could together exceed them. Instead every write op holds an
`flock` on a small record of the root's total bytes and file count. The record lives outside the
root, so memory directories hold only memory files: in `$XDG_RUNTIME_DIR/automem-memfs/`, else
in `<tempdir>/automem-memfs-<uid>/` (a directory only this user may use), named after the root's
device and inode, so every process on this machine finds the same one. The op checks the limits against those numbers, records its change there before it
writes (so a writer killed mid-op leaves an over-count, never an under-count) and releases the
lock when done. The numbers are rebuilt from a scan of the disk, under the same lock, when a
store writes for the first time, when the file is missing or damaged, and before any refusal,
so that drift (a crash, a file changed by hand) can cost a scan but never cause a false refusal.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
import tempfile
from collections.abc import Callable

_WIDTH = 20  # fixed-width fields: a rewrite never needs a truncate


def _record_dir() -> str:
    """A directory for usage records that only this user can write, created if missing."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    candidates = [os.path.join(runtime, "automem-memfs")] if runtime else []
    candidates.append(os.path.join(tempfile.gettempdir(), f"automem-memfs-{os.geteuid()}"))
    for path in candidates:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError:
            continue
        st = os.lstat(path)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & 0o022:
            return path
    # Someone else owns the shared place: keep records private to this process instead.
    return tempfile.mkdtemp(prefix="automem-memfs-")


class Usage:
    """The root's (total bytes, file count) while a write op holds the lock."""

    __slots__ = ("_base", "_fd", "_path", "_reserved", "_scan", "_scanned", "fresh")

    def __init__(self, root_fd: int, scan: Callable[[], tuple[int, int]]) -> None:
        st = os.fstat(root_fd)
        self._path = os.path.join(_record_dir(), f"{st.st_dev}-{st.st_ino}.usage")
        self._scan = scan  # reads the disk: (total bytes, files)
        self._fd = -1
        self._scanned = False  # whether this store has rebuilt the numbers once
        self._base = (0, 0)
        self._reserved: dict[str, tuple[int, int]] = {}  # rel -> (byte change, file change)
        self.fresh = False  # the numbers were read from disk during this op

    def close(self, *, remove: bool = True) -> None:
        """Closes the record. With `remove` it is deleted too, under the lock, so records do not
        pile up; a store still open on the root notices and rebuilds it from disk."""
        if self._fd < 0:
            return
        try:
            if remove:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
                with contextlib.suppress(FileNotFoundError):
                    if os.stat(self._path).st_ino == os.fstat(self._fd).st_ino:
                        os.unlink(self._path)
        finally:
            os.close(self._fd)
            self._fd = -1

    def acquire(self) -> None:
        while True:
            if self._fd < 0:
                flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
                self._fd = os.open(self._path, flags, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                same = os.stat(self._path).st_ino == os.fstat(self._fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            self.close(remove=False)  # the record was removed: every store reopens it
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
