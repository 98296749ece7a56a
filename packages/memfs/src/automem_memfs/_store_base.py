"""`StoreBase`, the index and file access under `MemoryStore` (which is `StoreBase` ->
`ReadOps` in _read_ops.py -> `MemoryStore` in _memory_store.py).

The store keeps an in-process index of the files it knows (version key, decoded text, line
count, content hash). Its own writes update the index directly; a file another process changed
is noticed by its (inode, size, mtime_ns) key, re-checked with one stat on each op that touches
it and by a tree scan on each whole-memory op (listing, search across files, index, snapshot).
The store is not thread-safe; use one per thread or agent. Processes may share a directory.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import os
import stat
import weakref
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

from automem_memfs import _fsio
from automem_memfs._errors import MemfsError, SandboxError
from automem_memfs._limits import Limits
from automem_memfs._ops import READ_ONLY_OPS, Action, Call, Done, Op, OpResult, ParseError, op_kind
from automem_memfs._paths import normalize_path
from automem_memfs._redact import Redactor
from automem_memfs._schema import FileRule, Schema
from automem_memfs._stats import MemoryStats, compute
from automem_memfs._text import count_lines, fmt_bytes, plural
from automem_memfs._usage import Usage


def blob_id(data: bytes) -> str:
    """The content address of a file's bytes (BLAKE2b, 128 bits, hex)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


class _Entry:
    """What the store knows about one file version."""

    __slots__ = ("_lines", "_lower", "blob", "key", "text", "undecodable")

    def __init__(self, key: _fsio.Key, text: str | None = None, blob: str | None = None) -> None:
        self.key = key
        self.text = text
        self.blob = blob  # set eagerly only when text does not round-trip to the bytes
        self.undecodable = blob is not None  # the bytes are not UTF-8; text shows U+FFFD
        self._lines: int | None = None
        self._lower: str | None = None

    @property
    def nbytes(self) -> int:
        return self.key[1]

    @property
    def lines(self) -> int:
        if self._lines is None:
            self._lines = count_lines(self.text or "")
        return self._lines

    @property
    def lower(self) -> str | None:
        if self._lower is None and self.text is not None and self.text.isascii():
            self._lower = self.text.lower()
        return self._lower

    def content_id(self) -> str:
        if self.blob is None:
            self.blob = blob_id((self.text or "").encode())
        return self.blob


class StoreBase:
    """Index, file access and bookkeeping shared by the read and write ops."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        limits: Limits = Limits(),
        schema: Schema | None = None,
        fsync: bool = False,
        read_only: bool = False,
        redact: Iterable[str] | Redactor = (),
        display_prefix: str = "",
    ) -> None:
        self.root = Path(os.path.realpath(os.fspath(root)))
        self.redactor = redact if isinstance(redact, Redactor) else Redactor(redact)
        self.limits = limits
        self.schema = schema or Schema()
        self.fsync = fsync
        self.read_only = read_only
        self._fd = _fsio.open_root(str(self.root))
        self._usage = Usage(self._fd, self._disk_usage)
        self._closer = weakref.finalize(self, _close_both, self._fd, self._usage)
        self._files: dict[str, _Entry] = {}
        self._own: dict[str, bool] = {}  # path -> whether the store could have created it
        self._total = 0
        self._prefix = display_prefix  # how paths are shown to the model (e.g. "bundle/")
        self._keep_empty_dirs = False  # the Anthropic adapter keeps them, as Claude's tool does
        self._counts: Counter[str] = Counter()
        self._bytes_written = 0
        self._errors = 0
        _fsio.remove_stale_temps(self._fd)
        chars = self._char_total()
        self._sizes = [self._total]
        self._chars = [chars]

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Releases the root directory fd. The store is unusable afterwards."""
        self._closer()
        self._fd = -1  # never act through a recycled fd number

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- index -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Rescans the directory so files changed by other processes are seen."""
        found, _ = _fsio.scan(self._fd, self.limits.max_depth)
        old = self._files
        new: dict[str, _Entry] = {}
        for rel, st in found.items():
            if st.st_nlink > 1 or not self._own_name(rel):
                continue  # planted: a hard link, or a name the store would refuse to create
            k = _fsio.key_of(st)
            e = old.get(rel)
            new[rel] = e if e is not None and e.key == k else _Entry(k)
        self._files = new
        self._total = sum(e.nbytes for e in new.values())

    def _own_name(self, rel: str) -> bool:
        """Whether `rel` is a path the store itself could have created. Names planted on disk
        by something else (control characters such as a newline or ESC, edge spaces, reserved
        or over-long names) are neither listed, searched nor counted, so they cannot forge rows
        in listings, the index or search output."""
        ok = self._own.get(rel)
        if ok is None:
            try:
                ok = normalize_path(rel, self.limits) == rel
            except SandboxError:
                ok = False
            if len(self._own) > 65536:
                self._own.clear()
            self._own[rel] = ok
        return ok

    def _disk_usage(self) -> tuple[int, int]:
        self.refresh()
        return self._total, len(self._files)

    def _put(self, rel: str, e: _Entry) -> None:
        old = self._files.get(rel)
        self._total += e.nbytes - (old.nbytes if old is not None else 0)
        self._files[rel] = e

    def _forget(self, rel: str) -> None:
        old = self._files.pop(rel, None)
        if old is not None:
            self._total -= old.nbytes

    def _existing(self, p: _fsio.Parent, rel: str) -> os.stat_result:
        """The stat of the entry at `p` (never a link); a missing one leaves the cache and is
        reported as not found."""
        st = p.check_not_link()
        if st is None:
            self._forget(rel)
            raise self._missing(rel)
        return st

    def _load(self, p: _fsio.Parent, e: _Entry | None = None) -> _Entry:
        """The file at `p` with its text, reading it only if the cached version is stale."""
        rel = p.rel
        if e is None:
            st = p.lstat()
            if st is None:
                self._forget(rel)
                raise MemfsError(f"{self._show(rel)} does not exist", code="not_found")
            if stat.S_ISLNK(st.st_mode):
                p.check_not_link()
            if stat.S_ISDIR(st.st_mode):
                raise MemfsError(f"{self._show(rel)} is a directory", code="is_dir")
            k = _fsio.key_of(st)
            e = self._files.get(rel)
            if e is None or e.key != k:
                e = _Entry(k)
        if e.text is None:
            data, k = p.read()
            e = self._entry_from_bytes(k, data)
        if self._files.get(rel) is not e:
            self._put(rel, e)
        return e

    @staticmethod
    def _entry_from_bytes(k: _fsio.Key, data: bytes) -> _Entry:
        try:
            return _Entry(k, data.decode())
        except UnicodeDecodeError:
            return _Entry(k, data.decode(errors="replace"), blob_id(data))

    def _entry(self, rel: str) -> _Entry:
        with _fsio.Parent(self._fd, rel) as p:
            return self._load(p)

    def _char_total(self) -> int:
        return sum(len(e.text or "") for _, e in self._all())

    def _all(self, under: str = "") -> list[tuple[str, _Entry]]:
        """Every file (sorted), optionally under one directory, with its text loaded."""
        self.refresh()  # the scan's stat is fresh, so cached texts with that key are current
        out = []
        pre = under + "/" if under else ""
        for rel in sorted(self._files):
            if not rel.startswith(pre):
                continue
            e = self._files[rel]
            if e.text is None:
                try:
                    with _fsio.Parent(self._fd, rel) as p:
                        e = self._load(p, e)
                except MemfsError:
                    self._forget(rel)
                    continue  # vanished or swapped for a link since the scan
            out.append((rel, e))
        return out

    # -- messages --------------------------------------------------------------------------
    def _show(self, rel: str) -> str:
        return self._prefix + rel

    def _missing(self, rel: str) -> MemfsError:
        names = sorted(self._files)
        close = difflib.get_close_matches(rel, names, n=1, cutoff=0.6)
        if close:
            hint = f" Did you mean {self._show(close[0])}?"
        elif names:
            shown = ", ".join(self._show(n) for n in names[:8])
            hint = f" Files: {shown}{', ...' if len(names) > 8 else ''}."
        else:
            hint = " Memory is empty."
        return MemfsError(f"{self._show(rel)} does not exist.{hint}", code="not_found")

    def _rule(self, rel: str) -> FileRule | None:
        return self.schema.rule_for(rel) if self.schema.rules else None

    def _limit_error(self, rel: str, old: int | None, new: int) -> str | None:
        """Why `rel` may not go from `old` bytes (None: absent) to `new`, or None, in which case
        the change is reserved in the root's usage record (see `_usage`); a write op holds it."""
        lim = self.limits
        if new > lim.max_file_bytes:
            return (
                f"Refused: {self._show(rel)} would be {fmt_bytes(new)}, over the per-file limit "
                f"of {fmt_bytes(lim.max_file_bytes)}. Compact it first (str_replace or write a "
                "shorter version), or keep less text."
            )
        usage = self._usage
        while True:
            total, files = usage.others(rel)
            total += new - (old or 0)
            files += old is None
            over_total = new > (old or 0) and total > lim.max_total_bytes
            over_files = old is None and files > lim.max_files
            if not (over_total or over_files) or usage.fresh:
                break
            usage.rebuild()  # never refuse on numbers that may have drifted
        if over_total:
            return (
                f"Refused: memory would total {fmt_bytes(total)}, over the limit of "
                f"{fmt_bytes(lim.max_total_bytes)}. Compact first: shorten files with "
                "str_replace or write, or delete stale files."
            )
        if over_files:
            return (
                f"Refused: memory already has {files - 1} files, the limit. Merge "
                "files (write) or delete stale ones before creating another."
            )
        usage.reserve(rel, old, new)
        return None

    @contextlib.contextmanager
    def _accounting(self) -> Iterator[None]:
        """Holds the root's usage record for one write op; its reservations are kept only if
        the op completes."""
        self._usage.acquire()
        keep = False
        try:
            yield
            keep = True
        finally:
            self._usage.release(keep=keep)

    # -- public helpers for code -----------------------------------------------------------
    @property
    def total_bytes(self) -> int:
        """Bytes in all memory files, as of the store's last look."""
        return self._total

    @property
    def file_count(self) -> int:
        return len(self._files)

    def paths(self) -> list[str]:
        """Every memory file's relative path, sorted."""
        self.refresh()
        return sorted(self._files)

    def read_text(self, path: str) -> str:
        """A file's whole text, for code (not the model). Raises MemfsError/SandboxError."""
        rel = normalize_path(path, self.limits)
        return self._entry(rel).text or ""

    def exists(self, path: str) -> bool:
        rel = normalize_path(path, self.limits)
        try:
            self._entry(rel)
        except MemfsError as e:
            if e.code in ("not_found", "not_a_dir"):
                return False
            raise
        return True

    def index(self) -> str:
        """A compact file index for prompts: each file's path, lines and bytes, then totals."""
        files = self._all()
        lim = self.limits
        head = f"{len(files)}/{lim.max_files} files, {self._total:,}/{lim.max_total_bytes:,} bytes"
        if not files:
            return f"Memory is empty ({head})."
        rows = [f"{self._show(rel)}  {plural(e.lines)}  {e.nbytes:,} B" for rel, e in files]
        return f"Memory files ({head}):\n" + "\n".join(rows)

    def import_tree(self, src: str | os.PathLike[str]) -> list[str]:
        """Copies every file under `src` into memory (overwriting), bypassing read-only rules
        but not the sandbox or limits. Returns the imported paths. Raises on any refusal."""
        with self._accounting():
            return self._import_tree(Path(src))

    def _import_tree(self, src_path: Path) -> list[str]:
        imported = []
        for path in sorted(src_path.rglob("*")):
            rel_src = path.relative_to(src_path).as_posix()
            if path.is_symlink():
                raise SandboxError(f"{rel_src} in {src_path} is a symlink; refusing to import it")
            if not path.is_file():
                continue
            rel = normalize_path(self.redactor.scrub(rel_src), self.limits)
            data = self.redactor.scrub_bytes(path.read_bytes())
            old = self._files.get(rel)
            err = self._limit_error(rel, old.nbytes if old else None, len(data))
            if err:
                raise MemfsError(err, code="limit")
            with _fsio.Parent(self._fd, rel, create=True) as p:
                k = p.write_atomic(data, fsync=self.fsync)
            self._put(rel, self._entry_from_bytes(k, data))
            imported.append(rel)
        return imported

    # -- stats -----------------------------------------------------------------------------
    @property
    def stats(self) -> MemoryStats:
        return compute(self._counts, self._bytes_written, self._errors, self._sizes, self._chars)

    def mark_step(self) -> None:
        """Records the memory's current size as the end of one agent step."""
        chars = self._char_total()  # rescans first
        self._sizes.append(self._total)
        self._chars.append(chars)

    def reset_stats(self) -> None:
        self._counts.clear()
        self._bytes_written = self._errors = 0
        chars = self._char_total()
        self._sizes = [self._total]
        self._chars = [chars]

    # -- dispatch --------------------------------------------------------------------------
    def apply(self, op: Op) -> OpResult:
        """Executes one op. Never raises for a model's mistake: returns ok=False with a message
        the model can act on and a short `error` class."""
        try:
            kind = op_kind(op)
            handler = getattr(self, "_op_" + kind)
        except AttributeError:
            return OpResult(
                op="unknown", ok=False, text=f"Not a memory op: {op!r}", error="unknown_op"
            )
        self._counts[kind] += 1
        if self.redactor and kind not in READ_ONLY_OPS:
            op = self._redacted(op)
        if self.read_only and kind not in READ_ONLY_OPS:
            res = OpResult(
                op=kind,
                ok=False,
                text=f"Memory is read-only now; {kind} is not allowed. Use read, tail, search or count.",
                error="read_only",
            )
        else:
            res = self._run(kind, handler, op)
        if not res.ok:
            self._errors += 1
        self._bytes_written += res.bytes_written
        return res

    def _redacted(self, op: Op) -> Op:
        """`op` with every listed secret in its texts and paths replaced, so none is stored."""
        changes = {}
        for name in ("path", "new_path", "content", "old", "new"):
            value = getattr(op, name, None)
            if isinstance(value, str) and (clean := self.redactor.scrub(value)) != value:
                changes[name] = clean
        return msgspec.structs.replace(op, **changes) if changes else op

    def _run(self, kind: str, handler, op: Op) -> OpResult:
        try:
            if kind in READ_ONLY_OPS:
                return handler(op)
            with self._accounting():
                res = handler(op)
                if not res.ok:
                    raise MemfsError(res.text, code=res.error)  # take back reservations
                return res
        except MemfsError as e:
            return OpResult(
                op=kind, ok=False, text=str(e), path=getattr(op, "path", None), error=e.code
            )

    def apply_calls(self, calls: Iterable[Call]) -> list[OpResult]:
        """Applies the ops among `calls` in order. A ParseError becomes a failed result (so the
        model hears about it); Done and Action are control calls and produce no result."""
        out = []
        for c in calls:
            if isinstance(c, ParseError):
                self._errors += 1
                out.append(OpResult(op="parse_error", ok=False, text=c.message, error="parse"))
            elif not isinstance(c, Done | Action):
                out.append(self.apply(c))
        return out


def _close_both(fd: int, usage: Usage) -> None:
    usage.close()
    os.close(fd)
