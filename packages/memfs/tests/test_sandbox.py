"""Traversal and abuse corpus: every entry is refused with a clear error and nothing is written
outside the root. Symlinks, existing or planted between ops, are never followed."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
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
    SandboxError,
    Search,
    StrReplace,
    Tail,
    Write,
    normalize_path,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

CORPUS = [
    "/etc/passwd",
    "/tmp/x.md",
    "../x.md",
    "..",
    "a/../../x.md",
    "a/b/../../../x.md",
    "%2e%2e/x.md",
    "%2E%2E%2Fx.md",
    "..%2fx.md",
    "a%2f..%2f..%2fx.md",
    "%252e%252e%252fx.md",
    "%25252e%25252e/x.md",
    "%2fetc%2fpasswd",
    "~/x.md",
    "~root/x.md",
    "..\\x.md",
    "a\\..\\..\\x.md",
    "a\x00b.md",
    "a\nb.md",
    "a\rb.md",
    "tab\there.md",
    "esc\x1b[31m.md",
    "del\x7f.md",
    "bidi\u202egpj.md",
    "c1\x85.md",
    "．．/x.md",
    "x" * 101 + ".md",
    "/".join(["d"] * 6) + "/f.md",
    "a/" * 200 + "f.md",
    ".hidden",
    "a/.git/config",
    ".tmp-1-1",
]


def _ops(path: str) -> list:
    return [
        Create(path=path, content="pwned\n"),
        Append(path=path, content="pwned"),
        Write(path=path, content="pwned\n"),
        StrReplace(path=path, old="a", new="b"),
        Insert(path=path, line=0, content="pwned"),
        Rename(path="ok.md", new_path=path),
        Rename(path=path, new_path="ok2.md"),
        Delete(path=path),
        Read(path=path),
        Tail(path=path),
        Count(path=path),
        Search(pattern="x", path=path),
    ]


@pytest.mark.parametrize("path", CORPUS)
def test_corpus_entry_is_refused_and_nothing_leaks(tmp_path: Path, path: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text("secret\n")
    root = tmp_path / "a" / "b" / "mem"  # deep enough that ../../x would still land in tmp_path
    s = MemoryStore(root)
    s.apply(Write(path="ok.md", content="a\n"))
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    for op in _ops(path):
        r = s.apply(op)
        assert not r.ok, (op, r)
        assert r.error == "sandbox", (op, r)
        assert "refused" in r.text and len(r.text) < 300
    with pytest.raises(SandboxError):
        normalize_path(path)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before
    assert (outside / "secret.md").read_text() == "secret\n"
    assert s.read_text("ok.md") == "a\n"


def test_tolerated_spellings_resolve_inside() -> None:
    assert normalize_path(" ./notes//a.md ") == "notes/a.md"
    assert normalize_path("a/./b.md") == "a/b.md"
    assert normalize_path("50%off.md") == "50%off.md"  # a literal % is just a name
    assert normalize_path(".", allow_root=True) == ""
    with pytest.raises(SandboxError, match="memory root"):
        normalize_path(".")


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.md").write_text("secret\n")
    return d


def test_existing_symlinks_are_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "mem"
    root.mkdir()
    os.symlink(outside / "secret.md", root / "link.md")
    os.symlink(outside, root / "linkdir")
    s = MemoryStore(root)
    for path in ("link.md", "linkdir/secret.md", "linkdir/new.md"):
        for op in _ops(path):
            r = s.apply(op)
            assert not r.ok and r.error in ("symlink", "sandbox"), (op, r)
            assert "symlink" in r.text or "refused" in r.text
    assert "secret" not in s.apply(Search(pattern="secret")).text.split("'")[-1]
    assert "link" not in s.index()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.md"]
    assert (outside / "secret.md").read_text() == "secret\n"


def test_symlink_planted_between_ops_is_refused(tmp_path: Path, outside: Path) -> None:
    root = tmp_path / "mem"
    s = MemoryStore(root)
    assert s.apply(Append(path="d/x.md", content="one")).ok
    assert s.apply(Read(path="d/x.md")).ok  # warm every cache
    # Another process swaps the directory for a link to the outside between two ops.
    (root / "d" / "x.md").unlink()
    (root / "d").rmdir()
    os.symlink(outside, root / "d")
    (outside / "x.md").write_text("outside\n")
    for op in (Append(path="d/x.md", content="two"), Write(path="d/x.md", content="w"),
               Read(path="d/x.md"), StrReplace(path="d/x.md", old="outside", new="pwned")):  # fmt: skip
        r = s.apply(op)
        assert (r.ok, r.error) == (False, "symlink"), (op, r)
    # ...and a file swapped for a link to a file outside.
    assert s.apply(Write(path="f.md", content="mine\n")).ok
    (root / "f.md").unlink()
    os.symlink(outside / "secret.md", root / "f.md")
    for op in (
        Append(path="f.md", content="x"),
        Write(path="f.md", content="x"),
        Read(path="f.md"),
    ):
        assert s.apply(op).error == "symlink"
    assert (outside / "secret.md").read_text() == "secret\n"
    assert (outside / "x.md").read_text() == "outside\n"


def test_limits_are_enforced_with_advice(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path, limits=Limits(max_file_bytes=100, max_total_bytes=150, max_files=3))
    r = s.apply(Write(path="a.md", content="x" * 101))
    assert (r.ok, r.error) == (False, "limit")
    assert "per-file limit" in r.text and "str_replace" in r.text
    assert not (tmp_path / "a.md").exists()
    assert s.apply(Write(path="a.md", content="x" * 99 + "\n")).ok
    r = s.apply(Append(path="a.md", content="y"))
    assert r.error == "limit" and "102 B" in r.text
    r = s.apply(Write(path="b.md", content="y" * 60))
    assert r.error == "limit" and "total" in r.text and "delete" in r.text
    assert s.apply(Write(path="b.md", content="y\n")).ok
    assert s.apply(Create(path="c.md", content="")).ok
    r = s.apply(Append(path="d.md", content="z"))
    assert r.error == "limit" and "3 files" in r.text
    assert not (tmp_path / "d.md").exists()
    # Shrinking is always allowed, even when over a limit that was lowered meanwhile.
    tight = MemoryStore(tmp_path, limits=Limits(max_total_bytes=50))
    assert tight.apply(StrReplace(path="a.md", old="x" * 99, new="x")).ok
    assert tight.total_bytes == 2 + 2


_PIECES = ["..", ".", "/", "\\", "%2e", "%2f", "%25", "~", "\x00", "\n", "a", "é", " ", "\ud800", "．", "\u202e", "*"]  # fmt: skip
_weird = st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=_weird | st.text(max_size=30), other=_weird)
def test_apply_never_raises_and_never_escapes(tmp_path: Path, path: str, other: str) -> None:
    root = tmp_path / "r" / "mem"
    s = MemoryStore(root)
    for op in [*_ops(path), Rename(path=path, new_path=other)]:
        r = s.apply(op)
        assert isinstance(r.text, str) and r.text
    outside = [p for p in tmp_path.rglob("*") if root not in p.parents and p != root]
    assert sorted(outside) == [tmp_path / "r"]
    s.close()
    shutil.rmtree(root)
