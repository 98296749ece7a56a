"""`MemoryStore`: the write ops (create, append, write, str_replace, insert, delete, rename),
plus snapshots and restore, on top of the read ops (`ReadOps`, _read_ops.py) and the index and
file access (`StoreBase`, _store_base.py)."""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import stat
from collections.abc import Callable

from automem_memfs import _fsio
from automem_memfs._errors import MemfsError
from automem_memfs._ops import Append, Create, Delete, Insert, OpResult, Rename, StrReplace, Write
from automem_memfs._paths import normalize_path
from automem_memfs._read_ops import ReadOps
from automem_memfs._schema import FileRule
from automem_memfs._snapshot import Snapshot
from automem_memfs._store_base import _Entry
from automem_memfs._text import plural, split_lines

_PAGE = mmap.PAGESIZE


def _encode(text: str) -> tuple[str, bytes]:
    try:
        return text, text.encode()
    except UnicodeEncodeError:  # lone surrogates from a JSON call: store what can be stored
        data = text.encode(errors="replace")
        return data.decode(), data


class MemoryStore(ReadOps):
    """A sandboxed directory of memory files that executes typed ops (see `apply`).

    `MemoryStore(root, limits=Limits(), schema=None, fsync=False, read_only=False, redact=(),
    display_prefix="")`:
    the root is created if missing. With `fsync`, every write is flushed to disk before it is
    reported. With `read_only`, every write op is refused (e.g. for an agent's PLAN phase).
    `redact` lists secrets (or is a `Redactor`): every write, import and restore stores them,
    plain or encoded, as "[redacted]". `display_prefix` is put before every path that a result
    names (e.g. "bundle/" when a reviewer sees this store as one of several roots).
    """

    # -- shared write steps ----------------------------------------------------------------
    def _writable(self, rel: str) -> FileRule | None:
        rule = self._rule(rel)
        if rule is not None and rule.read_only:
            raise MemfsError(
                f"{self._show(rel)} is read-only; it cannot be created, changed, renamed or "
                "deleted. Keep notes in another file.",
                code="read_only",
            )
        return rule

    def _check(
        self, rel: str, rule: FileRule | None, old: int | None, text: str, size: int
    ) -> None:
        if (err := self._limit_error(rel, old, size)) is not None:
            raise MemfsError(err, code="limit")
        if rule is not None and (err := rule.check(self._show(rel), text)) is not None:
            raise MemfsError(err, code="schema")

    def _loaded(self, rel: str, fd: int, st: os.stat_result) -> _Entry:
        """The locked file's entry with text, from cache when its version key still matches."""
        k = _fsio.key_of(st)
        e = self._files.get(rel)
        if e is None or e.key != k or e.text is None:
            e = self._entry_from_bytes(k, _fsio.pread_all(fd, st.st_size) if st.st_size else b"")
            self._put(rel, e)
        return e

    def _replace(
        self, p: _fsio.Parent, rel: str, text: str, data: bytes, *, exclusive: bool = False
    ) -> _Entry:
        k = p.write_atomic(data, fsync=self.fsync, exclusive=exclusive)
        e = _Entry(k, text)
        self._put(rel, e)
        return e

    def _editable(self, rel: str, e: _Entry) -> _Entry:
        """Refuses to rewrite a file whose bytes are not UTF-8: the model sees U+FFFD in place
        of those bytes, and an edit would store that instead of the original bytes."""
        if e.undecodable:
            raise MemfsError(
                f"{self._show(rel)} is not valid UTF-8 text, so it cannot be edited without "
                "changing bytes you cannot see; nothing was changed. Replace it whole with write "
                "(or create a new file), or delete it.",
                code="not_utf8",
            )
        return e

    def _ok(self, op: str, rel: str, text: str, written: int) -> OpResult:
        return OpResult(op=op, ok=True, text=text, path=rel, bytes_written=written)

    def _now(self, e: _Entry) -> str:
        return f"now {plural(e.lines)}, {e.nbytes:,} B"

    def _prune(self, rel: str) -> None:
        """Removes directories left empty above `rel`."""
        if self._keep_empty_dirs:
            return
        head = rel.rpartition("/")[0]
        while head:
            try:
                with _fsio.Parent(self._fd, head) as p:
                    os.rmdir(p.name, dir_fd=p.fd)
            except (OSError, MemfsError):
                return
            head = head.rpartition("/")[0]

    def _absent(self, rel: str) -> os.stat_result | None:
        """The lstat of `rel`, or None if it or a parent directory is missing."""
        try:
            with _fsio.Parent(self._fd, rel) as p:
                return p.check_not_link()
        except MemfsError as e:
            if e.code == "not_found":
                return None
            raise

    # -- ops -------------------------------------------------------------------------------
    def _op_create(self, op: Create) -> OpResult:
        rel = normalize_path(op.path, self.limits)
        rule = self._writable(rel)
        show = self._show(rel)
        if (st := self._absent(rel)) is not None:
            what = "a directory" if stat.S_ISDIR(st.st_mode) else "a file"
            raise MemfsError(
                f"{show} already exists ({what}); create never overwrites. Use append to add "
                "lines or write to replace it.",
                code="exists",
            )
        text, data = _encode(op.content)
        self._check(rel, rule, None, text, len(data))
        with _fsio.Parent(self._fd, rel, create=True) as p:
            try:
                e = self._replace(p, rel, text, data, exclusive=True)
            except MemfsError as err:
                raise MemfsError(
                    f"{show} already exists; create never overwrites.", code=err.code
                ) from None
        return self._ok(
            "create", rel, f"Created {show} ({plural(e.lines)}, {e.nbytes:,} B).", len(data)
        )

    def _op_write(self, op: Write) -> OpResult:
        rel = normalize_path(op.path, self.limits)
        rule = self._writable(rel)
        text, data = _encode(op.content)
        with _fsio.Parent(self._fd, rel, create=True) as p, p.locked() as got:
            old = got[1].st_size if got else None
            if got is None and (st := p.check_not_link()) is not None and stat.S_ISDIR(st.st_mode):
                raise MemfsError(f"{self._show(rel)} is a directory.", code="is_dir")
            self._check(rel, rule, old, text, len(data))
            e = self._replace(p, rel, text, data)
        was = "" if old is None else f"; was {old:,} B"
        verb = "Wrote" if old is not None else "Created"
        return self._ok(
            "write",
            rel,
            f"{verb} {self._show(rel)} ({plural(e.lines)}, {e.nbytes:,} B{was}).",
            len(data),
        )

    def _op_append(self, op: Append) -> OpResult:
        content = op.content.rstrip("\n")
        if not content.strip():
            raise MemfsError("Nothing to append: the text is empty.", code="bad_args")
        rel = normalize_path(op.path, self.limits)
        rule = self._writable(rel)
        content, _ = _encode(content)
        if rel not in self._files and self._absent(rel) is None:  # refuse before creating it
            self._check(rel, None, None, "", len(content.encode()) + 1)
        with _fsio.Parent(self._fd, rel, create=True) as p, p.locked(create=True) as got:
            assert got is not None
            fd, st, created = got
            try:
                e = self._loaded(rel, fd, st)
                old = None if created else st.st_size
                old_text = e.text or ""
                sep = "\n" if old_text and old_text[-1] != "\n" else ""
                add = sep + content + "\n"
                if rule is not None and rule.constrains_content:
                    return self._append_ruled(p, fd, rel, rule, e, old, content)
                data = add.encode()
                self._check(rel, None, old, "", st.st_size + len(data))
                k = self._append_data(p, fd, st, data)
            except MemfsError:
                if created:
                    p.unlink()
                    self._forget(rel)
                raise
        if e.undecodable:  # keep the bytes; the text is read again when needed
            self._put(rel, _Entry(k))
            return self._ok("append", rel, f"Appended to {self._show(rel)}.", len(data))
        new = _Entry(k, old_text + add)
        if e._lines is not None:
            new._lines = e._lines + content.count("\n") + 1
        if e._lower is not None and add.isascii():
            new._lower = e._lower + add.lower()
        self._put(rel, new)
        n = content.count("\n") + 1
        return self._ok(
            "append",
            rel,
            f"Appended {plural(n)} to {self._show(rel)} ({self._now(new)}).",
            len(data),
        )

    def _append_data(self, p: _fsio.Parent, fd: int, st: os.stat_result, data: bytes) -> _fsio.Key:
        """Appends `data` to the locked file so a writer killed mid-way leaves the old bytes or
        the new ones. One write() that stays within a memory page cannot be cut short by a
        kill; one that crosses a page boundary can, so that append becomes an atomic rewrite
        (temp file + rename)."""
        if st.st_size % _PAGE + len(data) <= _PAGE:
            return _fsio.append_bytes(fd, data, fsync=self.fsync)
        old = _fsio.pread_all(fd, st.st_size) if st.st_size else b""
        return p.write_atomic(old + data, fsync=self.fsync)

    def _append_ruled(
        self,
        p: _fsio.Parent,
        fd: int,
        rel: str,
        rule: FileRule,
        e: _Entry,
        old: int | None,
        content: str,
    ) -> OpResult:
        self._editable(rel, e)
        old_text = e.text or ""
        added = split_lines(content)
        if rule.keyed_by:
            text, replaced = rule.merge(old_text, added)
        else:
            sep = "\n" if old_text and old_text[-1] != "\n" else ""
            text, replaced = old_text + sep + content + "\n", []
        text, data = _encode(text)
        self._check(rel, rule, old, text, len(data))
        show = self._show(rel)
        if replaced:
            new = self._replace(p, rel, text, data)
            n_new = len(added) - len(replaced)
            keys = "; ".join(f"({k})" for k in replaced)
            msg = f"Updated {show}: replaced the line for key {keys}"
            msg += f" and appended {plural(n_new)}" if n_new else ""
            return self._ok("append", rel, f"{msg} ({self._now(new)}).", len(data))
        tail = text[len(old_text) :].encode()
        k = self._append_data(p, fd, os.fstat(fd), tail)
        new = _Entry(k, text)
        self._put(rel, new)
        return self._ok(
            "append",
            rel,
            f"Appended {plural(len(added))} to {show} ({self._now(new)}).",
            len(tail),
        )

    def _rewrite(
        self, rel: str, rule: FileRule | None, edit: Callable[[str], str]
    ) -> tuple[_Entry, int]:
        """Rewrites an existing file under its lock: `edit` maps the old text to the new one, or
        raises MemfsError to leave the file untouched. Returns the new entry and its byte size."""
        with _fsio.Parent(self._fd, rel) as p, p.locked() as got:
            if got is None:
                raise self._missing(rel)
            fd, st, _ = got
            e = self._editable(rel, self._loaded(rel, fd, st))
            new_text, data = _encode(edit(e.text or ""))
            self._check(rel, rule, st.st_size, new_text, len(data))
            return self._replace(p, rel, new_text, data), len(data)

    def _op_str_replace(self, op: StrReplace) -> OpResult:
        rel = normalize_path(op.path, self.limits)
        rule = self._writable(rel)
        show = self._show(rel)
        line = 0

        def replace_once(text: str) -> str:
            nonlocal line
            if op.old == "":  # as in Claude's memory tool: an empty old text fills an empty file
                if text:
                    raise MemfsError(
                        f"str_replace needs the old text to find; it is empty, and {show} is "
                        "not (an empty old text only fills an empty file). Nothing was changed.",
                        code="bad_args",
                    )
                line = 1
                return op.new
            n = text.count(op.old)
            if n == 0:
                raise MemfsError(
                    f"The old text was not found in {show}. Read the file and copy the text "
                    "exactly (without line numbers); nothing was changed.",
                    code="no_match",
                )
            if n > 1:
                at: list[str] = []
                pos = -1
                while (pos := text.find(op.old, pos + 1)) >= 0 and len(at) < 10:
                    at.append(str(text.count("\n", 0, pos) + 1))
                raise MemfsError(
                    f"The old text occurs {n} times in {show} (lines {', '.join(at)}); include "
                    "more surrounding text so it matches exactly once. Nothing was changed.",
                    code="ambiguous",
                )
            line = text.count("\n", 0, text.find(op.old)) + 1
            return text.replace(op.old, op.new, 1)

        new, nbytes = self._rewrite(rel, rule, replace_once)
        return self._ok(
            "str_replace",
            rel,
            f"Replaced text at line {line} of {show} ({self._now(new)}).",
            nbytes,
        )

    def _op_insert(self, op: Insert) -> OpResult:
        rel = normalize_path(op.path, self.limits)
        rule = self._writable(rel)
        show = self._show(rel)
        added = op.content.rstrip("\n")

        def insert_lines(text: str) -> str:
            # The bytes Claude's memory tool stores: the text, its final newlines dropped, goes
            # in as one line; the file then ends with a newline.
            lines = text.split("\n")
            if lines[-1] == "":
                lines.pop()
            if not 0 <= op.line <= len(lines):
                raise MemfsError(
                    f"Cannot insert after line {op.line}: {show} has {plural(len(lines))}; use a "
                    f"line from 0 (the top) to {len(lines)} (the end).",
                    code="bad_range",
                )
            lines.insert(op.line, added)
            new = "\n".join(lines)
            return new if new.endswith("\n") else new + "\n"

        new, nbytes = self._rewrite(rel, rule, insert_lines)
        where = "at the top" if op.line == 0 else f"after line {op.line}"
        n = added.count("\n") + 1
        return self._ok(
            "insert",
            rel,
            f"Inserted {plural(n)} {where} of {show} ({self._now(new)}).",
            nbytes,
        )

    def _delete_tree(self, rel: str) -> int:
        """Deletes the directory `rel` with everything in it (hidden files too), or nothing:
        it is first renamed to a temp name in one step, then removed without following links.
        Returns how many memory files it held. For the Anthropic adapter."""
        with self._accounting():
            files = [r for r in self.paths() if r.startswith(rel + "/")]
            for r in files:
                self._writable(r)  # a read-only file inside refuses the whole delete
            with _fsio.Parent(self._fd, rel) as p:
                st = p.check_not_link()
                if st is None or not stat.S_ISDIR(st.st_mode):
                    raise MemfsError(f"{self._show(rel)} is not a directory", code="not_a_dir")
                _fsio.remove_tree(p.fd, p.name)
            for r in files:
                self._forget(r)
            self._prune(rel)
            self._usage.rebuild()
        return len(files)

    def _op_delete(self, op: Delete) -> OpResult:
        rel = normalize_path(op.path, self.limits)
        self._writable(rel)
        show = self._show(rel)
        with _fsio.Parent(self._fd, rel) as p:
            st = self._existing(p, rel)
            if stat.S_ISDIR(st.st_mode):
                try:
                    os.rmdir(p.name, dir_fd=p.fd)
                except OSError as err:
                    if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
                        raise MemfsError(
                            f"{show}/ is a directory that still holds files; delete them first.",
                            code="not_empty",
                        ) from None
                    raise
                text = f"Deleted the empty directory {show}/."
            else:
                p.unlink()
                if st.st_nlink == 1:  # a planted hard link was never counted
                    self._usage.reserve(rel, st.st_size, None)
                lines = (
                    self._files[rel].lines
                    if rel in self._files and self._files[rel].text is not None
                    else None
                )
                text = f"Deleted {show}" + (
                    f" ({plural(lines)}, {st.st_size:,} B)." if lines is not None else "."
                )
        self._forget(rel)
        self._prune(rel)
        return self._ok("delete", rel, text, 0)

    def _op_rename(self, op: Rename) -> OpResult:
        src = normalize_path(op.path, self.limits)
        dst = normalize_path(op.new_path, self.limits)
        if src == dst:
            raise MemfsError("The old and new paths are the same; nothing to do.", code="bad_args")
        self._writable(src)
        rule = self._writable(dst)
        s_show, d_show = self._show(src), self._show(dst)
        if self._absent(dst) is not None:
            raise MemfsError(
                f"{d_show} already exists; rename never overwrites. Delete it first or pick another name.",
                code="exists",
            )
        with _fsio.Parent(self._fd, src) as ps:
            st = ps.check_not_link()
            if st is None:
                raise self._missing(src)
            if stat.S_ISDIR(st.st_mode):
                return self._rename_dir(ps, src, dst)
            e = self._load(ps)
            if rule is not None and (err := rule.check(d_show, e.text or "")) is not None:
                raise MemfsError(err, code="schema")
            with _fsio.Parent(self._fd, dst, create=True) as pd:
                try:
                    # one step where the system can; else link + unlink (two links meanwhile)
                    if not _fsio.rename_noreplace(ps.fd, ps.name, pd.fd, pd.name):
                        os.link(
                            ps.name,
                            pd.name,
                            src_dir_fd=ps.fd,
                            dst_dir_fd=pd.fd,
                            follow_symlinks=False,
                        )
                        ps.unlink()
                except FileExistsError:
                    raise MemfsError(
                        f"{d_show} already exists; rename never overwrites.", code="exists"
                    ) from None
                except OSError:  # filesystems without hard links: check, then rename
                    if pd.lstat() is not None:
                        raise MemfsError(
                            f"{d_show} already exists; rename never overwrites.", code="exists"
                        ) from None
                    os.rename(ps.name, pd.name, src_dir_fd=ps.fd, dst_dir_fd=pd.fd)
        self._forget(src)
        self._put(dst, e)
        self._prune(src)
        return self._ok("rename", dst, f"Renamed {s_show} to {d_show}.", 0)

    def _rename_dir(self, ps: _fsio.Parent, src: str, dst: str) -> OpResult:
        if dst.startswith(src + "/"):
            raise MemfsError("Cannot move a directory inside itself.", code="bad_args")
        moved = [r for r in self.paths() if r.startswith(src + "/")]
        for r in moved:  # every moved path must still pass the sandbox's depth and length rules
            self._writable(r)
            self._writable(normalize_path(dst + r[len(src) :], self.limits))
        with _fsio.Parent(self._fd, dst, create=True) as pd:
            if pd.lstat() is not None:
                raise MemfsError(
                    f"{self._show(dst)} already exists; rename never overwrites.", code="exists"
                )
            os.rename(ps.name, pd.name, src_dir_fd=ps.fd, dst_dir_fd=pd.fd)
        for r in moved:
            e = self._files.get(r)
            self._forget(r)
            if e is not None:
                self._put(dst + r[len(src) :], e)
        self._prune(src)
        return self._ok(
            "rename",
            dst,
            f"Renamed {self._show(src)}/ to {self._show(dst)}/ ({plural(len(moved), 'file')}).",
            0,
        )

    # -- snapshots -------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """The whole memory now, content-addressed. Cheap when little changed: file hashes are
        cached per file version."""
        files: dict[str, str] = {}
        texts: dict[str, str] = {}
        for rel, e in self._all():
            files[rel] = e.content_id()
            texts[rel] = e.text or ""
        return Snapshot(
            id=Snapshot.tree_id(files), files=files, texts=texts, total_bytes=self._total
        )

    def restore(self, snap: Snapshot) -> None:
        """Makes memory equal to `snap` (which must carry its texts), bypassing read-only rules.
        For code, e.g. to replay an episode from a recorded step."""
        for rel in snap.files:  # a snapshot loaded from disk is input: sandbox its paths
            if normalize_path(rel, self.limits) != rel:
                raise MemfsError(f"snapshot path {rel!r} is not canonical", code="sandbox")
        with self._accounting():
            self._restore(snap)
            self._usage.rebuild()  # restore bypasses limits: recount what it left

    def _restore(self, snap: Snapshot) -> None:
        current = self.snapshot()
        for rel in current.files:
            if rel not in snap.files:
                with _fsio.Parent(self._fd, rel) as p, contextlib.suppress(MemfsError):
                    p.unlink()
                self._forget(rel)
                self._prune(rel)
        for rel, blob in snap.files.items():
            if current.files.get(rel) != blob:
                text, data = _encode(self.redactor.scrub(snap.texts[rel]))
                with _fsio.Parent(self._fd, rel, create=True) as p:
                    self._replace(p, rel, text, data)
