"""Model-based property test: random op sequences against a plain in-memory reference.

The reference is a dict of path -> text written from the documented semantics, not from the
store's code. Each op must agree on ok/error class and on the content the model sees (read and
tail lines, search hits and totals, counts), and the tree on disk must equal the reference.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from automem_memfs import (
    Append,
    Count,
    Create,
    Delete,
    Insert,
    Limits,
    MemoryStore,
    Read,
    Rename,
    Search,
    StrReplace,
    Tail,
    Write,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

PATHS = ["a.md", "b.md", "d/c.md", "d/e/f.md"]
LIMITS = Limits(max_file_bytes=120, max_total_bytes=300, max_files=3)
# Mostly ASCII (the fast search path), sometimes not (the regex path).
texts = st.text(st.sampled_from("ab xA|\n"), max_size=30) | st.text(
    st.sampled_from("ab xé|\n"), max_size=30
)
patterns = st.text(st.sampled_from("abAx "), min_size=1, max_size=3) | st.text(
    st.sampled_from("abAxé"), min_size=1, max_size=3
)
line_no = st.none() | st.integers(-1, 8)


def lines_of(text: str) -> list[str]:
    return text.split("\n")[:-1] if text.endswith("\n") else (text.split("\n") if text else [])


def nbytes(text: str) -> int:
    return len(text.encode())


class Reference:
    """The documented semantics, written plainly."""

    def __init__(self) -> None:
        self.files: dict[str, str] = {}

    def total(self) -> int:
        return sum(nbytes(t) for t in self.files.values())

    def limit(self, path: str, new: str) -> str | None:
        old = self.files.get(path)
        if nbytes(new) > LIMITS.max_file_bytes:
            return "limit"
        total = self.total() - (nbytes(old) if old is not None else 0) + nbytes(new)
        if nbytes(new) > (nbytes(old) if old is not None else 0) and total > LIMITS.max_total_bytes:
            return "limit"
        if old is None and len(self.files) >= LIMITS.max_files:
            return "limit"
        return None

    def put(self, path: str, text: str) -> tuple[bool, str | None]:
        if (err := self.limit(path, text)) is not None:
            return False, err
        self.files[path] = text
        return True, None


def parse_numbered(text: str) -> list[tuple[int, str]]:
    rows = text.split("\n")[1:]
    return [(int(n), line) for n, line in (r.split("\t", 1) for r in rows)]


def parse_hits(text: str) -> tuple[int, list[tuple[str, int, str]]]:
    head, *rows = text.split("\n")
    if head.startswith("No lines match"):
        return 0, []
    total = int(head.split(" ", 1)[0])
    hits = []
    for r in rows:
        if r.startswith("["):
            continue
        m = re.match(r"^(?:([^:]+):)?(\d+): (.*)$", r)
        assert m is not None, r
        hits.append((m[1], int(m[2]), m[3]))
    return total, hits


class StoreMatchesReference(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = tempfile.mkdtemp(prefix="memfs-model-")
        self.store = MemoryStore(self.dir, limits=LIMITS)
        self.ref = Reference()

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def agree(self, op, ok: bool, error: str | None):
        r = self.store.apply(op)
        assert (r.ok, r.error) == (ok, error), (op, r, self.ref.files)
        return r

    # -- writes ----------------------------------------------------------------------------
    @rule(path=st.sampled_from(PATHS), text=texts)
    def create(self, path: str, text: str) -> None:
        if path in self.ref.files:
            self.agree(Create(path=path, content=text), False, "exists")
        else:
            self.agree(Create(path=path, content=text), *self.ref.put(path, text))

    @rule(path=st.sampled_from(PATHS), text=texts)
    def write(self, path: str, text: str) -> None:
        self.agree(Write(path=path, content=text), *self.ref.put(path, text))

    @rule(path=st.sampled_from(PATHS), text=texts)
    def append(self, path: str, text: str) -> None:
        body = text.rstrip("\n")
        if not body.strip():
            self.agree(Append(path=path, content=text), False, "bad_args")
            return
        old = self.ref.files.get(path, "")
        sep = "\n" if old and not old.endswith("\n") else ""
        self.agree(Append(path=path, content=text), *self.ref.put(path, old + sep + body + "\n"))

    @rule(path=st.sampled_from(PATHS), old=texts, new=texts)
    def str_replace(self, path: str, old: str, new: str) -> None:
        op = StrReplace(path=path, old=old, new=new)
        cur = self.ref.files.get(path)
        if cur is None:
            self.agree(op, False, "not_found")
        elif old == "":  # fills an empty file, as Claude's memory tool does; else refused
            if cur == "":
                self.agree(op, *self.ref.put(path, new))
            else:
                self.agree(op, False, "bad_args")
        elif cur.count(old) != 1:
            self.agree(op, False, "no_match" if cur.count(old) == 0 else "ambiguous")
        else:
            self.agree(op, *self.ref.put(path, cur.replace(old, new)))

    @rule(path=st.sampled_from(PATHS), line=st.integers(-1, 6), text=texts)
    def insert(self, path: str, line: int, text: str) -> None:
        op = Insert(path=path, line=line, content=text)
        cur = self.ref.files.get(path)
        if cur is None:
            self.agree(op, False, "not_found")
            return
        ls = lines_of(cur)
        if not 0 <= line <= len(ls):
            self.agree(op, False, "bad_range")
            return
        # As Claude's memory tool stores it: the text minus its final newlines is one line,
        # and the file ends with a newline.
        joined = "\n".join([*ls[:line], text.rstrip("\n"), *ls[line:]])
        self.agree(op, *self.ref.put(path, joined if joined.endswith("\n") else joined + "\n"))

    @rule(path=st.sampled_from(PATHS))
    def delete(self, path: str) -> None:
        if path in self.ref.files:
            self.agree(Delete(path=path), True, None)
            del self.ref.files[path]
        else:
            self.agree(Delete(path=path), False, "not_found")

    @rule(src=st.sampled_from(PATHS), dst=st.sampled_from(PATHS))
    def rename(self, src: str, dst: str) -> None:
        op = Rename(path=src, new_path=dst)
        if src == dst:
            self.agree(op, False, "bad_args")
        elif dst in self.ref.files:
            self.agree(op, False, "exists")
        elif src not in self.ref.files:
            self.agree(op, False, "not_found")
        else:
            self.agree(op, True, None)
            self.ref.files[dst] = self.ref.files.pop(src)

    # -- reads -----------------------------------------------------------------------------
    @rule(path=st.sampled_from(PATHS), start=line_no, end=line_no)
    def read(self, path: str, start: int | None, end: int | None) -> None:
        op = Read(path=path, start=start, end=end)
        cur = self.ref.files.get(path)
        if cur is None:
            self.agree(op, False, "not_found")
            return
        ls = lines_of(cur)
        n = len(ls)
        s = 1 if start is None else start
        e = n if end in (None, -1) else end
        if n == 0:
            assert "empty" in self.agree(op, True, None).text
        elif s < 1 or s > n or e < s:
            self.agree(op, False, "bad_range")
        else:
            r = self.agree(op, True, None)
            want = [(i, ls[i - 1]) for i in range(s, min(e, n) + 1)]
            assert parse_numbered(r.text) == want

    @rule(path=st.sampled_from(PATHS), k=st.integers(0, 5))
    def tail(self, path: str, k: int) -> None:
        cur = self.ref.files.get(path)
        if k < 1:
            self.agree(Tail(path=path, n=k), False, "bad_args")
        elif cur is None:
            self.agree(Tail(path=path, n=k), False, "not_found")
        else:
            r = self.agree(Tail(path=path, n=k), True, None)
            ls = lines_of(cur)
            if ls:
                assert parse_numbered(r.text) == list(enumerate(ls, 1))[-k:]

    @rule(pattern=patterns, path=st.none() | st.sampled_from(PATHS), cap=st.integers(1, 4))
    def search(self, pattern: str, path: str | None, cap: int) -> None:
        op = Search(pattern=pattern, path=path, max_results=cap)
        if path is not None and path not in self.ref.files:
            self.agree(op, False, "not_found")
            return
        scope = [path] if path is not None else sorted(self.ref.files)
        rx = re.compile(re.escape(pattern), re.IGNORECASE)
        hits = [
            (p, i, line)
            for p in scope
            for i, line in enumerate(lines_of(self.ref.files[p]), 1)
            if rx.search(line)
        ]
        total, shown = parse_hits(self.agree(op, True, None).text)
        assert total == len(hits)
        assert shown == [(None if path else p, i, line) for p, i, line in hits[:cap]]

    @rule(path=st.sampled_from(PATHS), pattern=st.none() | patterns)
    def count(self, path: str, pattern: str | None) -> None:
        cur = self.ref.files.get(path)
        if cur is None:
            self.agree(Count(path=path, pattern=pattern), False, "not_found")
            return
        ls = lines_of(cur)
        r = self.agree(Count(path=path, pattern=pattern), True, None)
        if pattern is None:
            assert r.text == f"{path} has {len(ls)} line{'s' if len(ls) != 1 else ''}."
        else:
            hits = sum(1 for x in ls if pattern.lower() in x.lower())
            assert r.text.startswith(f"{hits} of {len(ls)} lines")

    # -- the tree --------------------------------------------------------------------------
    @invariant()
    def tree_matches(self) -> None:
        root = Path(self.dir)
        on_disk = {
            p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*") if p.is_file()
        }
        assert on_disk == self.ref.files
        assert self.store.total_bytes == self.ref.total()


StoreMatchesReference.TestCase.settings = settings(
    max_examples=100, stateful_step_count=40, deadline=None
)
test_store_matches_reference = StoreMatchesReference.TestCase
