"""Schemas: keyed lines, max lines, required line patterns, read-only files; TOML shape."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from automem_memfs import (
    Append,
    Create,
    Delete,
    FileRule,
    Insert,
    MemoryStore,
    Rename,
    Schema,
    StrReplace,
    Write,
)

SCHEMA_TOML = r"""
[[rules]]
pattern = "map.md"
keyed_by = '^\((-?\d+), ?(-?\d+)\)'
max_lines = 4
line_pattern = '^\(-?\d+, ?-?\d+\) '
description = "one line per location: (x, y) what is there"

[[rules]]
pattern = "rules/*"
read_only = true
description = "the game's rules"
"""


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    root = tmp_path / "mem"
    (root / "rules").mkdir(parents=True)
    (root / "rules" / "crafter.md").write_text("collect wood first\n")
    return MemoryStore(root, schema=Schema.from_toml(SCHEMA_TOML))


def test_keyed_append_replaces_the_entry(store: MemoryStore) -> None:
    assert store.apply(Append(path="map.md", content="(3, 4) tree")).ok
    assert store.apply(Append(path="map.md", content="(5,-1) water\n(0, 0) start")).ok
    r = store.apply(Append(path="map.md", content="(3,4) tree, cut down"))
    assert r.ok and "replaced the line for key (3, 4)" in r.text
    assert store.read_text("map.md") == "(3,4) tree, cut down\n(5,-1) water\n(0, 0) start\n"
    r = store.apply(Append(path="map.md", content="(0, 0) start again\n(9, 9) stone"))
    assert r.ok and "appended 1 line" in r.text
    assert store.read_text("map.md").splitlines()[2:] == ["(0, 0) start again", "(9, 9) stone"]


def test_max_lines_is_enforced_with_advice(store: MemoryStore) -> None:
    store.apply(Write(path="map.md", content="(1, 1) a\n(2, 2) b\n(3, 3) c\n(4, 4) d\n"))
    r = store.apply(Append(path="map.md", content="(5, 5) e"))
    assert (r.ok, r.error) == (False, "schema")
    assert "at most 4" in r.text and "str_replace" in r.text
    assert store.apply(Append(path="map.md", content="(4, 4) d2")).ok  # replacing adds no line
    assert store.apply(Insert(path="map.md", line=0, content="(0, 9) z")).error == "schema"


def test_line_pattern_is_enforced(store: MemoryStore) -> None:
    r = store.apply(Write(path="map.md", content="(1, 1) ok\nnot a location\n"))
    assert (r.ok, r.error) == (False, "schema")
    assert "Line 2" in r.text and "one line per location" in r.text
    assert store.apply(Append(path="map.md", content="free text")).error == "schema"
    assert not (store.root / "map.md").exists()
    store.apply(Write(path="map.md", content="(1, 1) ok\n"))
    assert store.apply(StrReplace(path="map.md", old="(1, 1)", new="one")).error == "schema"
    store.apply(Write(path="x.md", content="anything\n"))
    assert store.apply(Rename(path="x.md", new_path="map2.md")).ok  # other names are free
    assert store.apply(Delete(path="map.md")).ok
    assert store.apply(Rename(path="map2.md", new_path="map.md")).error == "schema"


def test_read_only_files(store: MemoryStore) -> None:
    for op in (
        Append(path="rules/crafter.md", content="x"),
        Write(path="rules/crafter.md", content="x"),
        Create(path="rules/new.md", content="x"),
        Delete(path="rules/crafter.md"),
        Rename(path="rules/crafter.md", new_path="mine.md"),
    ):
        r = store.apply(op)
        assert (r.ok, r.error) == (False, "read_only"), op
        assert "read-only" in r.text
    assert store.read_text("rules/crafter.md") == "collect wood first\n"


def test_import_bypasses_read_only(tmp_path: Path, store: MemoryStore) -> None:
    seed = tmp_path / "seed" / "rules"
    seed.mkdir(parents=True)
    (seed / "crafter.md").write_text("new rules\n")
    store.import_tree(tmp_path / "seed")
    assert store.read_text("rules/crafter.md") == "new rules\n"


def test_schema_from_dict_describe_and_validation() -> None:
    s = Schema.from_dict({"rules": [{"pattern": "*.md", "max_lines": 10, "read_only": False}]})
    assert s.rule_for("a/b.md") == FileRule(pattern="*.md", max_lines=10)
    text = Schema.from_toml(SCHEMA_TOML).describe()
    assert "map.md" in text and "replaces that line" in text and "at most 4 lines" in text
    assert "rules/*" in text and "read-only" in text
    with pytest.raises(msgspec.ValidationError, match="bad keyed_by regex"):
        Schema.from_dict({"rules": [{"pattern": "x", "keyed_by": "("}]})
    with pytest.raises(msgspec.ValidationError):
        Schema.from_dict({"rules": [{"pattern": "x", "max_lines": "many"}]})
