"""Behaviour of each op as the model sees it: results, messages, and files on disk."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from automem_memfs import (
    Action,
    Append,
    Count,
    Create,
    Delete,
    Done,
    Insert,
    Limits,
    MemfsError,
    MemoryStore,
    ParseError,
    Read,
    Rename,
    Search,
    StrReplace,
    Tail,
    Write,
)


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    return MemoryStore(tmp_path / "mem")


def test_create_refuses_to_overwrite(store: MemoryStore) -> None:
    assert store.apply(Create(path="notes.md", content="a\n")).ok
    r = store.apply(Create(path="notes.md", content="b\n"))
    assert (r.ok, r.error) == (False, "exists")
    assert "append" in r.text and "write" in r.text
    assert store.read_text("notes.md") == "a\n"


def test_append_adds_lines_and_creates_files(store: MemoryStore) -> None:
    r = store.apply(Append(path="log/day1.md", content="saw a tree"))
    assert r.ok and "1 line" in r.text
    store.apply(Append(path="log/day1.md", content="found water\nfound sand\n\n"))
    assert store.read_text("log/day1.md") == "saw a tree\nfound water\nfound sand\n"
    assert (store.root / "log" / "day1.md").read_text() == "saw a tree\nfound water\nfound sand\n"


def test_append_after_text_without_final_newline(store: MemoryStore) -> None:
    store.apply(Write(path="a.md", content="x"))
    store.apply(Append(path="a.md", content="y"))
    assert store.read_text("a.md") == "x\ny\n"
    r = store.apply(Append(path="a.md", content="\n\n"))
    assert (r.ok, r.error) == (False, "bad_args")


def test_read_whole_range_and_errors(store: MemoryStore) -> None:
    store.apply(Write(path="n.md", content="one\ntwo\nthree\n"))
    assert store.apply(Read(path="n.md")).text == "n.md (3 lines, 14 B):\n1\tone\n2\ttwo\n3\tthree"
    assert (
        store.apply(Read(path="n.md", start=2, end=9)).text
        == "n.md lines 2-3 of 3:\n2\ttwo\n3\tthree"
    )
    r = store.apply(Read(path="n.md", start=5))
    assert (r.ok, r.error) == (False, "bad_range") and "3 lines" in r.text
    r = store.apply(Read(path="nn.md"))
    assert (r.ok, r.error) == (False, "not_found") and "n.md" in r.text  # suggests the close name


def test_long_read_is_cut_with_a_hint(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path, limits=Limits(max_read_chars=200))
    s.apply(
        Write(path="big.md", content="".join(f"line {i} " + "x" * 20 + "\n" for i in range(1, 51)))
    )
    text = s.apply(Read(path="big.md")).text
    assert len(text) < 400
    assert "cut at 200 characters" in text and "line range" in text


def test_listing_and_index(store: MemoryStore) -> None:
    assert "empty" in store.apply(Read(path="")).text
    store.apply(Write(path="a.md", content="1\n2\n"))
    store.apply(Write(path="d/b.md", content="3\n"))
    listing = store.apply(Read(path=".")).text
    assert "a.md  2 lines  4 B" in listing and "d/b.md  1 line  2 B" in listing
    assert "d/b.md" in store.apply(Read(path="d")).text
    assert "a.md" not in store.apply(Read(path="d")).text
    idx = store.index()
    assert idx.startswith("Memory files (2/200 files, 6/1,048,576 bytes):")


def test_tail_and_count(store: MemoryStore) -> None:
    store.apply(Write(path="n.md", content="".join(f"{i}\n" for i in range(1, 21))))
    assert store.apply(Tail(path="n.md", n=2)).text.endswith("19\t19\n20\t20")
    assert store.apply(Tail(path="n.md", n=0)).error == "bad_args"
    assert store.apply(Count(path="n.md")).text == "n.md has 20 lines."
    assert store.apply(Count(path="n.md", pattern="1")).text.startswith("11 of 20 lines")


def test_search_substring_regex_caps(store: MemoryStore) -> None:
    store.apply(Write(path="a.md", content="Diamond at (3, 4)\nstone\n"))
    store.apply(Write(path="b.md", content="".join(f"diamond {i}\n" for i in range(30))))
    r = store.apply(Search(pattern="DIAMOND", max_results=5))
    assert r.text.startswith("31 matching lines for 'DIAMOND' in 2 files (2 searched):")
    assert "a.md:1: Diamond at (3, 4)" in r.text
    assert "[26 more matching lines not shown" in r.text
    r = store.apply(Search(pattern=r"^Diamond at \(\d", regex=True))
    assert r.text.splitlines()[1:] == ["a.md:1: Diamond at (3, 4)"]
    r = store.apply(Search(pattern="stone", path="a.md"))
    assert r.text.splitlines() == ["1 matching line for 'stone' in a.md:", "2: stone"]
    assert store.apply(Search(pattern="(", regex=True)).error == "bad_regex"
    assert store.apply(Search(pattern="")).error == "bad_args"
    assert store.apply(Search(pattern="zzz")).text == "No lines match 'zzz' in 2 files."


def test_str_replace_exactly_once(store: MemoryStore) -> None:
    store.apply(Write(path="n.md", content="a x\nb x\nc\n"))
    r = store.apply(StrReplace(path="n.md", old="x", new="y"))
    assert (r.ok, r.error) == (False, "ambiguous") and "lines 1, 2" in r.text
    assert store.apply(StrReplace(path="n.md", old="zz", new="y")).error == "no_match"
    r = store.apply(StrReplace(path="n.md", old="b x", new="b y"))
    assert r.ok and "line 2" in r.text
    assert store.read_text("n.md") == "a x\nb y\nc\n"


def test_insert(store: MemoryStore) -> None:
    store.apply(Write(path="n.md", content="a\nc\n"))
    assert store.apply(Insert(path="n.md", line=1, content="b")).ok
    assert store.apply(Insert(path="n.md", line=0, content="top\n")).ok
    assert store.read_text("n.md") == "top\na\nb\nc\n"
    assert store.apply(Insert(path="n.md", line=9, content="z")).error == "bad_range"
    assert store.apply(Insert(path="nope.md", line=0, content="z")).error == "not_found"


def test_delete_and_rename_prune_empty_dirs(store: MemoryStore) -> None:
    store.apply(Write(path="d/e/x.md", content="x\n"))
    store.apply(Write(path="y.md", content="y\n"))
    assert store.apply(Rename(path="d/e/x.md", new_path="z/x.md")).ok
    assert not (store.root / "d").exists()
    assert store.apply(Rename(path="z/x.md", new_path="y.md")).error == "exists"
    assert store.apply(Delete(path="z/x.md")).ok
    assert sorted(p.name for p in store.root.iterdir()) == ["y.md"]
    assert store.apply(Delete(path="z/x.md")).error == "not_found"


def test_rename_directory(store: MemoryStore) -> None:
    store.apply(Write(path="d/a.md", content="a\n"))
    store.apply(Write(path="d/b.md", content="b\n"))
    assert store.apply(Rename(path="d", new_path="e")).ok
    assert store.paths() == ["e/a.md", "e/b.md"]


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    MemoryStore(tmp_path).apply(Write(path="a.md", content="a\n"))
    ro = MemoryStore(tmp_path, read_only=True)
    r = ro.apply(Append(path="a.md", content="b"))
    assert (r.ok, r.error) == (False, "read_only")
    assert ro.apply(Read(path="a.md")).ok
    assert (tmp_path / "a.md").read_text() == "a\n"


def test_apply_calls_reports_parse_errors_and_skips_control(store: MemoryStore) -> None:
    out = store.apply_calls(
        [
            Append(path="a.md", content="x"),
            ParseError(message="bad", raw="<|X|>"),
            Done(),
            Action(text="go"),
        ]
    )
    assert [(r.op, r.ok) for r in out] == [("append", True), ("parse_error", False)]


def test_import_tree_and_read_text(tmp_path: Path) -> None:
    src = tmp_path / "seed"
    (src / "sub").mkdir(parents=True)
    (src / "a.md").write_text("hello\n")
    (src / "sub" / "b.md").write_text("b\n")
    s = MemoryStore(tmp_path / "mem")
    assert s.import_tree(src) == ["a.md", "sub/b.md"]
    assert s.read_text("sub/b.md") == "b\n"
    with pytest.raises(MemfsError):
        s.read_text("missing.md")


def test_sees_changes_made_by_another_writer(store: MemoryStore) -> None:
    store.apply(Write(path="a.md", content="old\n"))
    assert store.apply(Search(pattern="old")).ok
    (store.root / "a.md").write_text("brand new text\n")
    (store.root / "b.md").write_text("other\n")
    assert "brand new" in store.apply(Read(path="a.md")).text
    assert "b.md:1: other" in store.apply(Search(pattern="other")).text


def test_stats(store: MemoryStore) -> None:
    store.apply(Append(path="a.md", content="12345"))
    store.mark_step()
    store.apply(Search(pattern="1"))
    store.apply(Search(pattern="2"))
    store.apply(Write(path="a.md", content="x\n"))
    store.apply(Read(path="zz.md"))
    store.mark_step()
    st = store.stats
    assert st.op_counts == {"append": 1, "search": 2, "write": 1, "read": 1}
    assert st.write_to_search_ratio == 1.0
    assert st.errors == 1
    assert st.size_history == [0, 6, 2]
    assert st.growth_per_step == 1.0
    assert st.bytes_written == 8


def test_count_directory_exists_and_paths(store: MemoryStore) -> None:
    store.apply(Write(path="d/a.md", content="x\ny\n"))
    store.apply(Write(path="d/b.md", content="z\n"))
    assert store.apply(Count(path="d")).text == "d has 2 files, 3 lines."
    assert store.apply(Count(path="")).text == "Memory has 2 files, 3 lines."
    assert store.exists("d/a.md") and not store.exists("d/c.md") and not store.exists("q/r.md")
    assert store.paths() == ["d/a.md", "d/b.md"]


def test_closed_store_refuses_to_act(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path / "a")
    s.close()
    other = os.open(tmp_path, os.O_RDONLY)  # likely reuses the closed fd number
    try:
        with pytest.raises(OSError):
            s.apply(Write(path="x.md", content="x"))
    finally:
        os.close(other)
    assert not (tmp_path / "x.md").exists()
