"""The one JSON Lines rule: a torn last line is skipped and reported, an append after it starts a
line of its own, and damage before the last line is an error naming the file and line."""

from __future__ import annotations

import logging

import msgspec
import pytest
from automem_agent import (
    JsonlError,
    JsonlWriter,
    append_jsonl,
    iter_jsonl,
    read_jsonl,
    write_jsonl,
)


class Rec(msgspec.Struct, frozen=True, kw_only=True):
    n: int
    text: str = ""


def test_round_trip_typed_and_untyped(tmp_path):
    path = tmp_path / "r.jsonl"
    assert write_jsonl(path, [Rec(n=1), Rec(n=2, text="two")]) == 2
    assert read_jsonl(path, Rec).records == [Rec(n=1), Rec(n=2, text="two")]
    assert read_jsonl(path).records == [{"n": 1, "text": ""}, {"n": 2, "text": "two"}]
    lines = list(iter_jsonl(path, Rec))
    assert [x.number for x in lines] == [1, 2]
    data = path.read_bytes()
    assert all(data[x.start : x.end + 1].endswith(b"}\n") for x in lines)


def test_torn_tail_is_skipped_and_reported(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    append_jsonl(path, Rec(n=1), Rec(n=2))
    with path.open("ab") as f:
        f.write(b'{"n": 3, "te')  # killed mid-line
    with caplog.at_level(logging.WARNING, logger="automem_agent.jsonl"):
        got = read_jsonl(path, Rec)
    assert got.records == [Rec(n=1), Rec(n=2)]
    assert got.torn and got.torn_bytes == len(b'{"n": 3, "te')
    assert got.notice and "incomplete" in got.notice and str(path) in got.notice
    assert any("incomplete" in r.message for r in caplog.records)


def test_append_after_a_torn_tail_never_merges_into_it(tmp_path):
    path = tmp_path / "r.jsonl"
    append_jsonl(path, Rec(n=1))
    with path.open("ab") as f:
        f.write(b'{"n": 2, "te')
    append_jsonl(path, Rec(n=3))
    assert read_jsonl(path, Rec).records == [Rec(n=1), Rec(n=3)]
    assert path.read_bytes().endswith(b'{"n":3,"text":""}\n')
    # A writer kept open behaves the same way.
    with path.open("ab") as f:
        f.write(b'{"n": 4')
    with JsonlWriter(path) as w:
        w.write(Rec(n=5))
    assert [r.n for r in read_jsonl(path, Rec).records] == [1, 3, 5]
    assert not read_jsonl(path, Rec).torn


def test_a_complete_last_record_without_its_newline_is_kept(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2}')
    assert read_jsonl(path, Rec).records == [Rec(n=1), Rec(n=2)]
    append_jsonl(path, Rec(n=3))
    assert [r.n for r in read_jsonl(path, Rec).records] == [1, 2, 3]


def test_damage_before_the_last_line_names_file_and_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2, "te\n{"n": 3}\n')
    with pytest.raises(JsonlError, match=r"r\.jsonl:2: not a JSON record"):
        read_jsonl(path, Rec)
    # A complete last line that does not parse is damage too: its newline was written.
    path.write_bytes(b'{"n": 1}\n{"n": 2, "te\n')
    with pytest.raises(JsonlError, match=r"r\.jsonl:2"):
        read_jsonl(path)
    # A record of the wrong shape is an error wherever it is.
    path.write_bytes(b'{"n": 1}\n{"n": "x"}')
    with pytest.raises(JsonlError, match=r"r\.jsonl:2: Expected `int`"):
        read_jsonl(path, Rec)


def test_missing_and_blank(tmp_path):
    path = tmp_path / "none.jsonl"
    assert read_jsonl(path, missing_ok=True).records == []
    with pytest.raises(FileNotFoundError):
        read_jsonl(path)
    path.write_bytes(b'\n{"n": 1}\n\n')
    assert read_jsonl(path, Rec).records == [Rec(n=1)]


def test_a_torn_tail_longer_than_the_search_block_is_cut(tmp_path):
    path = tmp_path / "r.jsonl"
    append_jsonl(path, Rec(n=1))
    with path.open("ab") as f:
        f.write(b'{"n": 2, "text": "' + b"x" * (3 << 20))
    append_jsonl(path, Rec(n=3))
    assert [r.n for r in read_jsonl(path, Rec).records] == [1, 3]
