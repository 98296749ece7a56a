"""One episode's memory: a memfs store seeded from the scaffold, plus per-step diffs for traces."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from automem_memfs import OP_TYPES, Op, OpResult, op_kind

_WRITE_KINDS = frozenset(k for k, t in OP_TYPES.items() if not t.read_only)


class EpisodeMemory:
    """Wraps the episode's `MemoryStore` and mirrors its files, so that each step's changes
    (`end_step`) cost only the files that write ops touched, not a walk of the directory."""

    def __init__(
        self,
        root: Path,
        *,
        initial_dir: Path | None,
        reference: dict[str, str],
        schema: Any = None,
        limits: Any = None,
    ):
        self.root = Path(root)
        if self.root.exists():
            shutil.rmtree(self.root)  # an episode always starts from the scaffold's memory
        self.root.mkdir(parents=True)
        if initial_dir is not None and initial_dir.is_dir():
            shutil.copytree(initial_dir, self.root, dirs_exist_ok=True)
        for rel, text in reference.items():
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        kwargs: dict[str, Any] = {}
        if schema is not None:
            kwargs["schema"] = schema
        if limits is not None:
            kwargs["limits"] = limits
        from automem_memfs import MemoryStore

        from automem_agent.models._secrets import redactor

        # what a model server returns is untrusted: a key it echoes is never stored
        self.store = MemoryStore(self.root, redact=redactor(), **kwargs)
        self._files: dict[str, str] = {}
        self._touched: set[str] = set()
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                rel = path.relative_to(self.root).as_posix()
                self._files[rel] = path.read_text(encoding="utf-8", errors="replace")
                self._touched.add(rel)
        self._last_emitted: dict[str, str] = {}
        self.start_chars = self.chars
        self._hash: str | None = None

    @property
    def bytes(self) -> int:
        """Total size of the memory files' text, in UTF-8 bytes."""
        return sum(len(t.encode()) for t in self._files.values())

    @property
    def chars(self) -> int:
        """Total characters in the memory files (the paper's growth unit)."""
        return sum(len(t) for t in self._files.values())

    def index(self) -> str:
        """The file index shown to the model."""
        return str(self.store.index())

    def apply(self, op: Op) -> OpResult:
        result = self.store.apply(op)
        if result.ok and op_kind(op) in _WRITE_KINDS:
            for attr in ("path", "new_path"):
                value = getattr(op, attr, None)
                if value:
                    self._touched.add(_normalize(value))
            if result.path:
                self._touched.add(_normalize(result.path))
        return result

    def current(self) -> dict[str, str]:
        """The memory (path -> text) now, including this step's writes so far; unlike
        `end_step` it leaves the step's diff alone."""
        for rel in self._expand(self._touched):
            file = self.root / rel
            if file.is_file():
                text = file.read_text(encoding="utf-8", errors="replace")
                if self._files.get(rel) != text:
                    self._files[rel] = text
            else:
                self._files.pop(rel, None)
        return dict(self._files)

    def end_step(self) -> tuple[dict[str, Any] | None, str]:
        """This step's diff (path -> new text, {"append": suffix} or None) and the content hash
        of the memory afterwards."""
        diff: dict[str, Any] = {}
        for rel in sorted(self._expand(self._touched)):
            file = self.root / rel
            old = self._last_emitted.get(rel)
            if file.is_file():
                new = file.read_text(encoding="utf-8", errors="replace")
                self._files[rel] = new
                if new == old:
                    continue
                if old is not None and new.startswith(old) and len(old) > 0:
                    diff[rel] = {"append": new[len(old) :]}
                else:
                    diff[rel] = new
                self._last_emitted[rel] = new
            else:
                self._files.pop(rel, None)
                if old is not None:
                    diff[rel] = None
                    self._last_emitted.pop(rel, None)
        self._touched.clear()
        if diff or self._hash is None:
            digest = hashlib.sha256()
            for rel in sorted(self._files):
                digest.update(rel.encode() + b"\0" + self._files[rel].encode() + b"\0")
            self._hash = digest.hexdigest()[:16]
        return (diff or None), self._hash

    def _expand(self, touched: set[str]) -> set[str]:
        # A touched directory (renamed or deleted) stands for every file under it.
        out: set[str] = set()
        for rel in touched:
            prefix = rel + "/"
            out.update(p for p in self._last_emitted if p.startswith(prefix))
            target = self.root / rel
            if target.is_dir():
                out.update(
                    p.relative_to(self.root).as_posix() for p in target.rglob("*") if p.is_file()
                )
            else:
                out.add(rel)
        return out

    def paths(self) -> tuple[list[str], list[str]]:
        """The memory's files now, and those of them the schema lets the model change."""
        files = sorted(
            p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file()
        )
        schema = self.store.schema
        writable = [
            f for f in files if not ((rule := schema.rule_for(f)) is not None and rule.read_only)
        ]
        return files, writable

    def close(self) -> None:
        self.store.close()

    def files(self) -> dict[str, str]:
        """The mirrored memory (path -> text) as of the last `end_step`."""
        return dict(self._files)


def _normalize(path: str) -> str:
    return Path(path.strip().lstrip("/")).as_posix()
