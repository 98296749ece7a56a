"""One test per defect class a hostile user found (issue 16): escapes, hangs, raises, limits
across stores, traces of refused writes, planted names, non-UTF-8 bytes and torn appends."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from automem_memfs import (
    AnthropicMemoryAdapter,
    Append,
    Count,
    Create,
    FileRule,
    Insert,
    Limits,
    MemoryStore,
    ParseError,
    Read,
    Rename,
    Schema,
    Search,
    StrReplace,
    Tail,
    Write,
    parse_calls,
)

# -- 1. hard links ---------------------------------------------------------------------------


def test_a_hard_link_to_an_outside_file_is_neither_read_nor_written(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.md"
    secret.write_text("the outside secret\n")
    root = tmp_path / "mem"
    store = MemoryStore(root)
    store.apply(Write(path="ok.md", content="fine\n"))
    os.link(secret, root / "hl.md")
    (root / "d").mkdir()
    os.link(secret, root / "d" / "deep.md")
    for op in [
        Read(path="hl.md"),
        Tail(path="hl.md"),
        Count(path="hl.md"),
        Search(pattern="secret", path="hl.md"),
        Append(path="hl.md", content="written through the link"),
        Write(path="d/deep.md", content="overwritten"),
        StrReplace(path="hl.md", old="outside", new="inside"),
        Insert(path="hl.md", line=0, content="top"),
        Rename(path="hl.md", new_path="moved.md"),
    ]:
        r = store.apply(op)
        assert not r.ok and r.error == "hardlink", (op, r)
        assert "hard link" in r.text
    # whole-memory views leave it out rather than show its text
    for op in [Read(path=""), Search(pattern="secret"), Count(path="")]:
        r = store.apply(op)
        assert r.ok and "secret" not in r.text.replace("'secret'", ""), (op, r.text)
    assert "hl.md" not in store.index() and store.paths() == ["ok.md"]
    adapter = AnthropicMemoryAdapter(store)
    assert adapter({"command": "view", "path": "/memories/hl.md"}).startswith("Error:")
    assert secret.read_text() == "the outside secret\n"
    assert secret.stat().st_nlink == 3  # nothing replaced the outside file's inode either


# -- 2. regex search cannot hang ------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("syntax", ["pipe", "json", "op"])
def test_a_catastrophic_regex_comes_back_as_an_error(tmp_path: Path, syntax: str) -> None:
    store = MemoryStore(tmp_path, limits=Limits(regex_timeout_ms=200))
    store.apply(Append(path="a.md", content="a" * 64 + "b"))
    pattern = "(a|aa)+$"  # exponential for a backtracking engine on that line
    if syntax == "pipe":
        [r] = store.apply_calls(parse_calls(f"<|SEARCH|>/{pattern}/<|END|>"))
    elif syntax == "json":
        call = json.dumps({"tool": "search", "args": {"pattern": pattern, "regex": True}})
        [r] = store.apply_calls(parse_calls(call, "json"))
    else:
        r = store.apply(Search(pattern=pattern, regex=True))
    assert not r.ok and r.error == "regex_timeout"
    assert "too expensive" in r.text and "200 ms" in r.text
    # ordinary regexes still work, including the (a+)+$
    assert store.apply(Search(pattern="(a+)+b$", regex=True)).text.startswith("1 matching line")
    assert store.apply(Search(pattern="(a+)+$", regex=True)).ok


# -- 3. and 4. parsers are linear and never raise -------------------------------------------

ADVERSARIAL_TAGS = [
    "<" + " " * 300_000,
    "<|READ|>a" * 60_000,
    "{" + " " * 300_000,
    "<|STR_REPLACE|>a|" + "<" + " " * 200_000,
    "<|SEARCH|" + " " * 200_000,
    "<|APPEND|>x|" * 30_000,
    "<|END|>" * 50_000,
    "<|READ|>a|" + " " * 100_000 + "1" + " " * 100_000 + "x<|END|>",
    "< |" * 100_000,
    "<|WITH|>" * 40_000,
    "</" + "READ" * 50_000,
]


@pytest.mark.timeout(120)  # each input is ~300 KB; a quadratic parser takes hours on them
def test_the_tag_parser_is_linear_on_adversarial_text() -> None:
    for text in ADVERSARIAL_TAGS:
        calls = parse_calls(text)
        assert isinstance(calls, list)
    # and it still reads real calls around such text
    calls = parse_calls("<" + " " * 50_000 + "<|READ|>notes.md<|END|>")
    assert calls == [Read(path="notes.md")]


ADVERSARIAL_JSON = [
    "[" * 100_000,
    '{"a":' * 100_000,
    "[{" * 50_000,
    "[" * 5000 + "]" * 5000,
    "```" + " " * 100_000,
    '{"' * 100_000,
    "[1," * 100_000,
    '{"name": "read", "arguments": "' + "[" * 100_000 + '"}',
]


@pytest.mark.timeout(120)
def test_the_json_parser_never_raises_and_stays_linear() -> None:
    for text in ADVERSARIAL_JSON:
        calls = parse_calls(text, "json")
        assert all(isinstance(c, ParseError) for c in calls), text[:40]
    rng = random.Random(0)
    for _ in range(300):  # random bracket soup
        text = "".join(rng.choice('{}[]":,a1 \\') for _ in range(rng.randint(0, 400)))
        assert isinstance(parse_calls(text, "json"), list)
    ok = '[{"tool": "read", "args": {"path": "a.md"}}]'
    assert Read(path="a.md") in parse_calls("noise " + "[" * 10_000 + " " + ok, "json")


# -- 5. the adapter answers bad types with errors -------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        {"command": "create", "path": "/memories/x.md", "file_text": 5},
        {"command": "create", "path": "/memories/x.md", "file_text": ["a"]},
        {"command": "create", "path": "/memories/x.md", "file_text": {"a": 1}},
        {"command": "create", "path": "/memories/x.md"},
        {"command": "create", "path": 7, "file_text": "a"},
        {"command": "insert", "path": "/memories/a.md", "insert_line": 0, "insert_text": 5},
        {
            "command": "insert",
            "path": "/memories/a.md",
            "insert_line": float("inf"),
            "insert_text": "q",
        },
        {
            "command": "insert",
            "path": "/memories/a.md",
            "insert_line": float("nan"),
            "insert_text": "q",
        },
        {"command": "insert", "path": "/memories/a.md", "insert_line": 10**30, "insert_text": "q"},
        {"command": "insert", "path": "/memories/a.md", "insert_line": "1", "insert_text": "q"},
        {"command": "insert", "path": "/memories/a.md", "insert_line": True, "insert_text": "q"},
        {"command": "view", "path": "/memories/a.md", "view_range": [1, float("inf")]},
        {"command": "view", "path": "/memories/a.md", "view_range": [1, 10**40]},
        {"command": "view", "path": "/memories/a.md", "view_range": "1-2"},
        {"command": "view", "path": "/memories/a.md", "view_range": [1, 2, 3]},
        {"command": "view", "path": "/memories/a.md", "view_range": [None, 2]},
        {"command": "str_replace", "path": "/memories/a.md", "old_str": 1, "new_str": "x"},
        {"command": "str_replace", "path": "/memories/a.md", "old_str": "a", "new_str": None},
        {"command": "rename", "old_path": "/memories/a.md", "new_path": ["b"]},
        {"command": "delete", "path": None},
        {"command": 3},
        {"command": "view", "path": " /memories/a.md"},
        {"command": "create", "path": "/memories/b.md ", "file_text": "x"},
    ],
)
def test_adapter_bad_types_and_values_are_error_strings(tmp_path: Path, command: dict) -> None:
    adapter = AnthropicMemoryAdapter(MemoryStore(tmp_path))
    adapter({"command": "create", "path": "/memories/a.md", "file_text": "one\ntwo\n"})
    out = adapter(command)
    assert isinstance(out, str) and out.startswith("Error:"), out
    assert adapter.store.paths() == ["a.md"]
    assert adapter.store.read_text("a.md") == "one\ntwo\n"


# -- 6. a delete does what it says or nothing -----------------------------------------------


@pytest.mark.parametrize("path", ["/memories/d", "/memories/d/", "/memories/./d", "/memories//d"])
def test_adapter_deletes_a_directory_whole(tmp_path: Path, path: str) -> None:
    store = MemoryStore(tmp_path / "mem")
    adapter = AnthropicMemoryAdapter(store)
    adapter({"command": "create", "path": "/memories/d/a.md", "file_text": "a\n"})
    adapter({"command": "create", "path": "/memories/d/e/b.md", "file_text": "b\n"})
    adapter({"command": "create", "path": "/memories/keep.md", "file_text": "k\n"})
    (tmp_path / "mem" / "d" / ".hidden").write_text("planted\n")
    out = adapter({"command": "delete", "path": path})
    assert out == "Deleted /memories/d/ and the 2 files in it.", out
    assert sorted(os.listdir(tmp_path / "mem")) == ["keep.md"]
    assert store.paths() == ["keep.md"]


def test_adapter_delete_refused_changes_nothing(tmp_path: Path) -> None:
    schema = Schema(rules=[FileRule(pattern="d/rules.md", read_only=True)])
    store = MemoryStore(tmp_path / "mem", schema=schema)
    store.import_tree(_seed(tmp_path, {"d/a.md": "a\n", "d/rules.md": "fixed\n"}))
    adapter = AnthropicMemoryAdapter(store)
    out = adapter({"command": "delete", "path": "/memories/d"})
    assert out.startswith("Error:") and "read-only" in out
    assert store.paths() == ["d/a.md", "d/rules.md"]


def _seed(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "seed"
    for rel, text in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    return src


# -- 7. limits hold across stores on one root -----------------------------------------------


def _disk(root: Path) -> tuple[int, int]:
    files = [p for p in root.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), len(files)


def test_two_stores_on_one_root_share_the_total_limit(tmp_path: Path) -> None:
    lim = Limits(max_total_bytes=1000)
    a, b = MemoryStore(tmp_path, limits=lim), MemoryStore(tmp_path, limits=lim)
    assert a.apply(Write(path="a.md", content="x" * 599 + "\n")).ok
    r = b.apply(Write(path="b.md", content="y" * 599 + "\n"))
    assert not r.ok and r.error == "limit" and "1,200 B" in r.text
    r = b.apply(Append(path="a.md", content="z" * 500))
    assert not r.ok and r.error == "limit"
    assert _disk(tmp_path) == (600, 1)
    assert a.apply(Write(path="a.md", content="short\n")).ok  # shrinking frees room for b
    assert b.apply(Write(path="b.md", content="y" * 599 + "\n")).ok
    assert _disk(tmp_path)[0] <= 1000


def test_two_stores_on_one_root_share_the_file_limit(tmp_path: Path) -> None:
    lim = Limits(max_files=5)
    stores = [MemoryStore(tmp_path, limits=lim), MemoryStore(tmp_path, limits=lim)]
    results = [stores[i % 2].apply(Append(path=f"f{i}.md", content="x")) for i in range(10)]
    assert [r.ok for r in results] == [True] * 5 + [False] * 5
    assert _disk(tmp_path)[1] == 5
    assert stores[1].apply(Create(path="d/x.md", content="")).error == "limit"


def test_a_second_process_is_held_to_the_same_limit(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path, limits=Limits(max_total_bytes=1000))
    assert store.apply(Write(path="a.md", content="x" * 699 + "\n")).ok
    code = textwrap.dedent(
        """
        import sys
        from automem_memfs import Limits, MemoryStore, Write
        s = MemoryStore(sys.argv[1], limits=Limits(max_total_bytes=1000))
        print(s.apply(Write(path="b.md", content="y" * 499 + "\\n")).error)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
    )
    assert out.stdout.strip() == "limit", out.stderr
    assert _disk(tmp_path) == (700, 1)


# -- 8. a refused write leaves no directories ------------------------------------------------


@pytest.mark.parametrize(
    "op",
    [
        Append(path="x/y/z/big.md", content="a" * 200),
        Write(path="x/y/z/big.md", content="a" * 200),
        Create(path="x/y/z/big.md", content="a" * 200),
    ],
)
def test_a_refused_write_leaves_no_directories(tmp_path: Path, op) -> None:
    store = MemoryStore(tmp_path, limits=Limits(max_file_bytes=100))
    (tmp_path / "x").mkdir()  # an existing directory stays; the new ones go
    r = store.apply(op)
    assert not r.ok and r.error == "limit"
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == ["x"]


def test_a_schema_refusal_leaves_no_directories(tmp_path: Path) -> None:
    schema = Schema(rules=[FileRule(pattern="n/*", line_pattern="^ok")])
    store = MemoryStore(tmp_path, schema=schema)
    assert store.apply(Write(path="n/m/a.md", content="bad\n")).error == "schema"
    assert store.apply(Append(path="n/m/a.md", content="bad")).error == "schema"
    assert list(tmp_path.iterdir()) == []


# -- 9. planted names cannot forge rows ------------------------------------------------------


def test_planted_names_are_not_shown(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path)
    store.apply(Write(path="real.md", content="evil is near\n"))
    for name in ["evil.md  1 line  2 B\nFORGED.md", "\x1b[31mred.md", "tail.md ", "\u202egpj.md"]:
        (tmp_path / name).write_text("evil planted\n")
    (tmp_path / "bad\ndir").mkdir()
    (tmp_path / "bad\ndir" / "x.md").write_text("evil inside\n")
    shown = [
        store.index(),
        store.apply(Read(path="")).text,
        store.apply(Search(pattern="evil")).text,
        store.apply(Search(pattern="evil", regex=True)).text,
        store.apply(Count(path="")).text,
        store.apply(Read(path="nothere.md")).text,
        AnthropicMemoryAdapter(store)({"command": "view", "path": "/memories"}),
    ]
    for text in shown:
        assert "FORGED" not in text and "\x1b" not in text and "\u202e" not in text, text
        assert "tail.md" not in text and "planted" not in text and "inside" not in text, text
    assert store.paths() == ["real.md"]
    assert "1 matching line" in shown[2]


# -- 10. bytes that are not UTF-8 survive ------------------------------------------------------


def test_a_file_that_is_not_utf8_is_not_rewritten(tmp_path: Path) -> None:
    raw = b"\xff\xfe keep\nline two\n"
    (tmp_path / "bin.md").write_bytes(raw)
    store = MemoryStore(tmp_path)
    for op in [
        StrReplace(path="bin.md", old="two", new="2"),
        Insert(path="bin.md", line=1, content="middle"),
    ]:
        r = store.apply(op)
        assert not r.ok and r.error == "not_utf8" and "UTF-8" in r.text, r
    adapter = AnthropicMemoryAdapter(store)
    assert "not valid UTF-8" in adapter({"command": "view", "path": "/memories/bin.md"})
    out = adapter(
        {"command": "str_replace", "path": "/memories/bin.md", "old_str": "two", "new_str": "2"}
    )
    assert out.startswith("Error:")
    assert (tmp_path / "bin.md").read_bytes() == raw
    assert store.apply(Append(path="bin.md", content="three")).ok  # appends keep the old bytes
    assert (tmp_path / "bin.md").read_bytes() == raw + b"three\n"
    assert store.apply(Read(path="bin.md")).ok  # reading shows U+FFFD for what cannot decode
    assert store.apply(Write(path="bin.md", content="clean\n")).ok
    assert store.apply(StrReplace(path="bin.md", old="clean", new="tidy")).ok


# -- 11. a large append is whole or absent after kill -9 -------------------------------------

APPENDER = """
    import sys
    from automem_memfs import Append, Limits, MemoryStore
    store = MemoryStore(sys.argv[1], limits=Limits(max_file_bytes=64 << 20, max_total_bytes=64 << 20))
    big = "N" * (1 << 20)
    print("ready", flush=True)
    while True:
        assert store.apply(Append(path="log.md", content=big)).ok
"""


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02, 0.05, 0.1, 0.2])
def test_sigkill_mid_append_leaves_whole_lines(tmp_path: Path, delay: float) -> None:
    (tmp_path / "log.md").write_text("old line\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(APPENDER), str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    data = (tmp_path / "log.md").read_bytes()
    assert data.startswith(b"old line\n")
    body = data[len(b"old line\n") :]
    assert len(body) % ((1 << 20) + 1) == 0, len(body)  # only whole appended lines
    assert body == b"N" * (1 << 20) + b"\n" or set(body.split(b"\n")[:-1]) <= {b"N" * (1 << 20)}
