"""Content-addressed snapshots of a memory directory and diffs between them.

A `Snapshot` names every file's content by hash and carries the texts in memory (shared with the
store's cache, so taking one copies nothing). Its `id` hashes the whole tree, so a trace can
record the memory after every step as one short string plus a diff. `SnapshotStore` persists
blobs once each, so a run's snapshots cost only what changed.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from pathlib import Path

import msgspec


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The memory's files at one moment. `files` maps path -> blob id; `texts` path -> text."""

    id: str
    files: dict[str, str]
    texts: dict[str, str] = {}
    total_bytes: int = 0

    @staticmethod
    def tree_id(files: dict[str, str]) -> str:
        h = hashlib.blake2b(digest_size=16)
        for path in sorted(files):
            h.update(f"{path}\0{files[path]}\n".encode())
        return h.hexdigest()


class MemoryDiff(msgspec.Struct, frozen=True, kw_only=True):
    """What changed from snapshot `before` to `after`.

    `contents` maps each added or changed path to its new text, and each removed path to None
    (the shape trace step records use).
    """

    before: str
    after: str
    added: list[str] = []
    removed: list[str] = []
    changed: list[str] = []
    contents: dict[str, str | None] = {}
    unified: str = ""

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        parts = []
        for label, paths in (
            ("added", self.added),
            ("changed", self.changed),
            ("removed", self.removed),
        ):
            if paths:
                parts.append(f"{label} " + ", ".join(paths))
        return "; ".join(parts) or "no change"


def diff(a: Snapshot, b: Snapshot, *, context: int = 1, max_chars: int = 20_000) -> MemoryDiff:
    """The difference between two snapshots, with a unified diff cut at `max_chars`.

    Needs both snapshots' texts for the unified diff; paths are compared by blob id.
    """
    added = sorted(p for p in b.files if p not in a.files)
    removed = sorted(p for p in a.files if p not in b.files)
    changed = sorted(p for p in b.files if p in a.files and a.files[p] != b.files[p])
    contents: dict[str, str | None] = {p: b.texts.get(p) for p in added + changed}
    contents.update(dict.fromkeys(removed))
    chunks: list[str] = []
    used = 0
    for path in sorted(added + removed + changed):
        old = a.texts.get(path, "").splitlines(keepends=True)
        new = b.texts.get(path, "").splitlines(keepends=True)
        src = "/dev/null" if path in added else f"a/{path}"
        dst = "/dev/null" if path in removed else f"b/{path}"
        text = "".join(
            line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in difflib.unified_diff(old, new, src, dst, n=context)
        )
        if used + len(text) > max_chars:
            chunks.append(f"[diff cut at {max_chars:,} characters]\n")
            break
        chunks.append(text)
        used += len(text)
    return MemoryDiff(
        before=a.id,
        after=b.id,
        added=added,
        removed=removed,
        changed=changed,
        contents=contents,
        unified="".join(chunks),
    )


class _Manifest(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    files: dict[str, str]
    total_bytes: int = 0


class SnapshotStore:
    """Snapshots on disk: `blobs/<id>` once per distinct content, `snapshots/<id>.json` each."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.dir = Path(directory)
        (self.dir / "blobs").mkdir(parents=True, exist_ok=True)
        (self.dir / "snapshots").mkdir(parents=True, exist_ok=True)

    def save(self, snap: Snapshot) -> str:
        """Persists `snap` (it must carry its texts) and returns its id."""
        for path, blob in snap.files.items():
            target = self.dir / "blobs" / blob
            if not target.exists():
                tmp = target.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(snap.texts[path].encode("utf-8", "replace"))
                os.replace(tmp, target)
        manifest = _Manifest(id=snap.id, files=snap.files, total_bytes=snap.total_bytes)
        out = self.dir / "snapshots" / f"{snap.id}.json"
        if not out.exists():
            tmp = out.with_suffix(f".tmp{os.getpid()}")
            tmp.write_bytes(msgspec.json.encode(manifest))
            os.replace(tmp, out)
        return snap.id

    def load(self, snapshot_id: str) -> Snapshot:
        """The snapshot with its texts. Raises FileNotFoundError if unknown."""
        if not re.fullmatch(r"[0-9a-f]{8,128}", snapshot_id):
            raise ValueError(f"not a snapshot id: {snapshot_id!r}")
        m = msgspec.json.decode(
            (self.dir / "snapshots" / f"{snapshot_id}.json").read_bytes(), type=_Manifest
        )
        texts = {
            p: (self.dir / "blobs" / b).read_bytes().decode("utf-8", "replace")
            for p, b in m.files.items()
        }
        return Snapshot(id=m.id, files=m.files, texts=texts, total_bytes=m.total_bytes)

    def ids(self) -> list[str]:
        return sorted(p.stem for p in (self.dir / "snapshots").glob("*.json"))
