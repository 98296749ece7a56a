"""Crash safety, concurrent appends from two processes, snapshots and diffs."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from automem_memfs import (
    Append,
    Delete,
    Limits,
    MemfsError,
    MemoryStore,
    Snapshot,
    SnapshotStore,
    StrReplace,
    Write,
    diff,
)

BIG = Limits(max_file_bytes=8 << 20, max_total_bytes=64 << 20)


def _spawn(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


WRITER = """
    import sys
    from automem_memfs import Limits, MemoryStore, Write
    store = MemoryStore(sys.argv[1], limits=Limits(max_file_bytes=8 << 20, max_total_bytes=64 << 20))
    a, b = "A" * (2 << 20), "B" * (3 << 20)
    i = 0
    while True:
        r = store.apply(Write(path="state.md", content=a if i % 2 else b))
        assert r.ok, r.text
        if i == 0:
            print("ready", flush=True)
        i += 1
"""


@pytest.mark.parametrize("delay", [0.0, 0.01, 0.03, 0.07, 0.13])
def test_sigkill_mid_write_leaves_old_or_new(tmp_path: Path, delay: float) -> None:
    old = "old content\n" * 1000
    MemoryStore(tmp_path).apply(Write(path="state.md", content=old))
    proc = _spawn(WRITER, str(tmp_path))
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    text = (tmp_path / "state.md").read_text()
    assert text in ("A" * (2 << 20), "B" * (3 << 20)), (len(text), text[:20])
    # A fresh store clears the dead writer's temp file and sees only the memory file.
    store = MemoryStore(tmp_path, limits=BIG)
    assert store.paths() == ["state.md"]
    assert [p.name for p in tmp_path.iterdir()] == ["state.md"]


APPENDER = """
    import sys
    from automem_memfs import MemoryStore, Append
    store = MemoryStore(sys.argv[1])
    for i in range(int(sys.argv[3])):
        r = store.apply(Append(path="log.md", content=f"{sys.argv[2]} line {i}"))
        assert r.ok, r.text
"""


def test_two_processes_append_without_losing_lines(tmp_path: Path) -> None:
    n = 400
    MemoryStore(tmp_path).apply(Write(path="log.md", content="start"))  # no final newline
    procs = [_spawn(APPENDER, str(tmp_path), name, str(n)) for name in ("p1", "p2")]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    lines = (tmp_path / "log.md").read_text().split("\n")
    assert lines[0] == "start" and lines[-1] == ""
    body = lines[1:-1]
    assert sorted(body) == sorted(f"{w} line {i}" for w in ("p1", "p2") for i in range(n))
    for w in ("p1", "p2"):  # each writer's lines keep their order
        mine = [x for x in body if x.startswith(w)]
        assert mine == [f"{w} line {i}" for i in range(n)]


def test_snapshots_are_content_addressed_and_diffable(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path / "mem")
    s.apply(Write(path="a.md", content="one\ntwo\n"))
    s.apply(Write(path="b.md", content="bee\n"))
    s0 = s.snapshot()
    assert s.snapshot() == s0  # unchanged memory, same id
    s.apply(StrReplace(path="a.md", old="two", new="2"))
    s.apply(Delete(path="b.md"))
    s.apply(Append(path="c/d.md", content="new"))
    s1 = s.snapshot()
    assert s1.id != s0.id
    d = diff(s0, s1)
    assert (d.added, d.removed, d.changed) == (["c/d.md"], ["b.md"], ["a.md"])
    assert d.contents == {"c/d.md": "new\n", "b.md": None, "a.md": "one\n2\n"}
    assert "-two\n+2\n" in d.unified and "+++ b/c/d.md" in d.unified
    assert d.summary() == "added c/d.md; changed a.md; removed b.md"
    assert diff(s1, s1).empty
    # Same content, same id, whoever computes it.
    other = MemoryStore(tmp_path / "other")
    other.apply(Write(path="a.md", content="one\n2\n"))
    other.apply(Write(path="c/d.md", content="new\n"))
    assert other.snapshot().id == s1.id


def test_snapshot_store_persists_and_restore(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path / "mem")
    s.apply(Write(path="a.md", content="x\n"))
    snaps = SnapshotStore(tmp_path / "snaps")
    first = s.snapshot()
    snaps.save(first)
    s.apply(Write(path="a.md", content="y\n"))
    s.apply(Write(path="z/b.md", content="b\n"))
    snaps.save(s.snapshot())
    assert len(list((tmp_path / "snaps" / "blobs").iterdir())) == 3
    loaded = snaps.load(first.id)
    assert loaded == first and isinstance(loaded, Snapshot)
    s.restore(loaded)
    assert s.paths() == ["a.md"] and s.read_text("a.md") == "x\n"
    assert s.snapshot().id == first.id
    evil = Snapshot(id="0" * 32, files={"../x.md": "0" * 32}, texts={"../x.md": "pwned"})
    with pytest.raises(MemfsError):
        s.restore(evil)
    assert not (tmp_path / "x.md").exists()
    with pytest.raises(ValueError):
        snaps.load("../../etc/passwd")


def test_fsync_mode_writes_the_same(tmp_path: Path) -> None:
    s = MemoryStore(tmp_path, fsync=True)
    assert s.apply(Write(path="d/a.md", content="one\n")).ok
    assert s.apply(Append(path="d/a.md", content="two")).ok
    assert s.apply(StrReplace(path="d/a.md", old="one", new="1")).ok
    assert (tmp_path / "d" / "a.md").read_text() == "1\ntwo\n"
