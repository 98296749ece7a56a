"""The file layer under the store: every access walks from a root directory fd, one component
at a time, with `O_NOFOLLOW`, so a symlink (existing, or planted by another process between
ops) is refused rather than followed. Writes are atomic (temp file + `os.replace`) and
read-modify-write cycles hold an `flock` on the file so appends from other processes are not lost.

POSIX only (Linux, macOS).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import os
import shutil
import stat
from collections.abc import Iterator

from automem_memfs._errors import MemfsError, SandboxError

Key = tuple[int, int, int]  # (inode, size, mtime_ns): identifies a file version for caches

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_APPEND = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_TMP = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_counter = itertools.count()
TMP_PREFIX = ".tmp-"


def _load_renameat2():
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (ImportError, OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_renameat2 = _load_renameat2()
_RENAME_NOREPLACE = 1


def rename_noreplace(src_fd: int, src: str, dst_fd: int, dst: str) -> bool:
    """Renames `src` to `dst` unless `dst` exists (FileExistsError), in one step (Linux
    renameat2). Returns False where the system cannot, so the caller falls back to link and
    unlink (during which the file has two links, which readers refuse)."""
    if _renameat2 is None:
        return False
    import ctypes

    if _renameat2(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), _RENAME_NOREPLACE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), dst)


def key_of(st: os.stat_result) -> Key:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def translate(exc: OSError, rel: str) -> MemfsError:
    """A model-facing error for an OSError met while touching `rel`."""
    if exc.errno == errno.ELOOP:
        return SandboxError(
            f"{rel} is or goes through a symlink; symlinks are not allowed in memory",
            code="symlink",
        )
    if exc.errno == errno.ENOENT:
        return MemfsError(f"{rel} does not exist", code="not_found")
    if exc.errno == errno.ENOTDIR:
        return MemfsError(f"a part of {rel} is a file, not a directory", code="not_a_dir")
    if exc.errno == errno.EISDIR:
        return MemfsError(f"{rel} is a directory", code="is_dir")
    if exc.errno in (errno.ENXIO, errno.EAGAIN):
        return SandboxError(f"{rel} is not a regular file", code="not_regular")
    raise exc  # infrastructure trouble (disk full, permissions): not the model's doing


def refuse_hardlink(st: os.stat_result, rel: str) -> None:
    """Refuses a regular file with more than one name: a hard link planted in memory may be the
    same inode as a file outside it, so reading or writing it would reach outside the root."""
    if st.st_nlink > 1 and stat.S_ISREG(st.st_mode):
        raise SandboxError(
            f"{rel} has {st.st_nlink} hard links, so it may be a file outside memory; it is "
            "neither read nor changed. Delete it, or write a new file under another name.",
            code="hardlink",
        )


class Parent:
    """The directory holding `rel`, opened without following symlinks; use as a context.

    With `create`, missing directories are made; if the block then raises (a refused write),
    the directories this call made are removed again, so a refusal leaves no trace.
    """

    __slots__ = ("_close", "_made", "_root", "fd", "name", "rel")

    def __init__(self, root_fd: int, rel: str, *, create: bool = False) -> None:
        self.rel = rel
        head, _, self.name = rel.rpartition("/")
        self._close = False
        self._root = root_fd
        self._made = ""  # the shallowest directory this call created
        self.fd = root_fd
        if not head:
            return
        fd = root_fd
        done: list[str] = []
        try:
            for comp in head.split("/"):
                done.append(comp)
                try:
                    nfd = os.open(comp, _DIR, dir_fd=fd)
                except NotADirectoryError:
                    # O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR on Linux
                    st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                    if stat.S_ISLNK(st.st_mode):
                        raise OSError(errno.ELOOP, "symlink") from None
                    raise
                except FileNotFoundError:
                    if not create:
                        raise
                    try:
                        os.mkdir(comp, 0o755, dir_fd=fd)
                    except FileExistsError:
                        pass
                    else:
                        self._made = self._made or "/".join(done)
                    nfd = os.open(comp, _DIR, dir_fd=fd)
                if fd != root_fd:
                    os.close(fd)
                fd = nfd
        except OSError as e:
            if fd != root_fd:
                os.close(fd)
            self._undo_mkdirs()
            raise translate(e, rel) from None
        self.fd = fd
        self._close = True

    def __enter__(self) -> Parent:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if self._close:
            os.close(self.fd)
            self._close = False
        if exc_type is not None:
            self._undo_mkdirs()

    def _undo_mkdirs(self) -> None:
        """Removes, deepest first, the directories this call made, while they are empty."""
        if not self._made:
            return
        head = self.rel.rpartition("/")[0]
        while head and (head == self._made or head.startswith(self._made + "/")):
            try:
                with Parent(self._root, head) as p:
                    os.rmdir(p.name, dir_fd=p.fd)
            except (OSError, MemfsError):
                return
            head = head.rpartition("/")[0]
        self._made = ""

    def lstat(self) -> os.stat_result | None:
        try:
            return os.stat(self.name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def check_not_link(self) -> os.stat_result | None:
        """The entry's lstat (None if absent); refuses a symlink."""
        st = self.lstat()
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise translate(OSError(errno.ELOOP, "symlink"), self.rel)
        return st

    def read(self) -> tuple[bytes, Key]:
        """The whole file and its version key. Raises MemfsError (is_dir, not_found, symlink)."""
        try:
            fd = os.open(self.name, _READ, dir_fd=self.fd)
        except OSError as e:
            raise translate(e, self.rel) from None
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise MemfsError(f"{self.rel} is a directory", code="is_dir")
            if not stat.S_ISREG(st.st_mode):
                raise SandboxError(f"{self.rel} is not a regular file", code="not_regular")
            refuse_hardlink(st, self.rel)
            return _read_all(fd, st.st_size), key_of(st)
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def locked(self, *, create: bool = False) -> Iterator[tuple[int, os.stat_result, bool] | None]:
        """Holds an exclusive lock on the file at this path: (fd, stat, created), or None if it
        is absent and `create` is false. The fd is open for reading and appending.

        Rechecks after locking that the path still names the locked inode, since another
        process may have replaced the file while we waited.
        """
        while True:
            created = False
            try:
                fd = os.open(self.name, _APPEND, dir_fd=self.fd)
            except FileNotFoundError:
                if not create:
                    yield None
                    return
                try:
                    fd = os.open(self.name, _APPEND | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=self.fd)
                except FileExistsError:
                    continue
                except OSError as e:
                    raise translate(e, self.rel) from None
                created = True
            except OSError as e:
                raise translate(e, self.rel) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    raise SandboxError(f"{self.rel} is not a regular file", code="not_regular")
                if not created:
                    refuse_hardlink(st, self.rel)
                now = self.lstat()
                if now is not None and now.st_ino == st.st_ino:
                    yield fd, st, created
                    return
            finally:
                os.close(fd)  # also releases the lock

    def unlink(self) -> None:
        try:
            os.unlink(self.name, dir_fd=self.fd)
        except OSError as e:
            raise translate(e, self.rel) from None

    def write_atomic(self, data: bytes, *, fsync: bool, exclusive: bool = False) -> Key:
        """Replaces (or, with `exclusive`, creates) the file so readers see old or new bytes.

        With `exclusive`, raises MemfsError(code="exists") if the path exists.
        """
        tmp = f"{TMP_PREFIX}{os.getpid()}-{next(_counter)}"
        fd = os.open(tmp, _TMP, 0o644, dir_fd=self.fd)
        try:
            try:
                _write_all(fd, data)
                if fsync:
                    os.fsync(fd)
                key = key_of(os.fstat(fd))
            finally:
                os.close(fd)
            if exclusive:
                try:
                    if rename_noreplace(self.fd, tmp, self.fd, self.name):
                        tmp = ""
                    else:
                        os.link(tmp, self.name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
                except FileExistsError:
                    raise MemfsError(f"{self.rel} already exists", code="exists") from None
            else:
                self.check_not_link()
                os.replace(tmp, self.name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
                tmp = ""
        finally:
            if tmp:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp, dir_fd=self.fd)
        if fsync:
            os.fsync(self.fd)
        return key


def _read_all(fd: int, size: int) -> bytes:
    first = os.read(fd, size + 1)  # one extra byte notices growth since fstat
    if len(first) <= size:
        return first  # a short read of a regular file means end of file
    chunks = [first]
    while b := os.read(fd, 65536):
        chunks.append(b)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def append_bytes(fd: int, data: bytes, *, fsync: bool) -> Key:
    _write_all(fd, data)
    if fsync:
        os.fsync(fd)
    return key_of(os.fstat(fd))


def pread_all(fd: int, size: int) -> bytes:
    out = []
    off = 0
    while True:
        b = os.pread(fd, max(size - off, 65536), off)
        if not b:
            break
        out.append(b)
        off += len(b)
    return b"".join(out)


def scan(root_fd: int, max_depth: int) -> tuple[dict[str, os.stat_result], list[str]]:
    """Every regular file under the root (path -> lstat) and every directory, skipping hidden
    names and symlinks. Directories deeper than `max_depth` are not entered."""
    files: dict[str, os.stat_result] = {}
    dirs: list[str] = []
    _scan_dir(root_fd, "", 0, max_depth, files, dirs)
    return files, dirs


def _scan_dir(
    fd: int, prefix: str, depth: int, max_depth: int, files: dict, dirs: list[str]
) -> None:
    with os.scandir(fd) as it:
        entries = list(it)
    for e in entries:
        name = e.name
        if name.startswith("."):
            continue
        if e.is_symlink():
            continue
        rel = prefix + name
        if e.is_dir(follow_symlinks=False):
            dirs.append(rel)
            if depth < max_depth:
                try:
                    sub = os.open(name, _DIR, dir_fd=fd)
                except OSError:
                    continue  # vanished or replaced by a link since listing
                try:
                    _scan_dir(sub, rel + "/", depth + 1, max_depth, files, dirs)
                finally:
                    os.close(sub)
        elif e.is_file(follow_symlinks=False):
            with contextlib.suppress(FileNotFoundError):
                files[rel] = e.stat(follow_symlinks=False)


def remove_tree(dir_fd: int, name: str) -> None:
    """Removes the directory `name` (in `dir_fd`) and everything in it. It is renamed to a temp
    name first, so it vanishes in one step; what the removal leaves (it does not follow
    symlinks) is cleared with the other stale temps."""
    tmp = f"{TMP_PREFIX}{os.getpid()}-{next(_counter)}"
    os.rename(name, tmp, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    shutil.rmtree(tmp, dir_fd=dir_fd, ignore_errors=True)


def remove_stale_temps(root_fd: int) -> None:
    """Deletes temp files left by writers that died mid-write (their pid is gone)."""
    _remove_temps(root_fd, 0)


def _remove_temps(fd: int, depth: int) -> None:
    with os.scandir(fd) as it:
        entries = list(it)
    for e in entries:
        if e.name.startswith(TMP_PREFIX) and not e.is_symlink():
            pid = e.name[len(TMP_PREFIX) :].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                if e.is_dir(follow_symlinks=False):  # a tree delete cut short
                    shutil.rmtree(e.name, dir_fd=fd, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(e.name, dir_fd=fd)
        elif not e.name.startswith(".") and e.is_dir(follow_symlinks=False) and depth < 8:
            try:
                sub = os.open(e.name, _DIR, dir_fd=fd)
            except OSError:
                continue
            try:
                _remove_temps(sub, depth + 1)
            finally:
                os.close(sub)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def open_root(path: str) -> int:
    """An fd for the memory root (created if missing). The root itself may be reached through
    symlinks; nothing below it may."""
    os.makedirs(path, exist_ok=True)
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
