"""The run directory on disk: atomic writes, per-iteration records, diffs and the lineage.

Every phase writes its output atomically and a phase is done iff its output exists, so a run
killed at any moment resumes from what is on disk.
"""

from __future__ import annotations

import difflib
import hashlib
import shutil
from pathlib import Path
from typing import Any, Literal

import msgspec

from automem_scaffold._gate import GateResult
from automem_scaffold._lineage import AttemptRecord
from automem_scaffold._screen import ScreenResult

Stage = Literal["start", "review", "validation", "evaluation", "screen", "gate"]


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """`iterations/NNN/decision.json`: whether the candidate was kept, at which stage it stopped
    and why. Iteration 0 is the start scaffold and is always kept."""

    iteration: int
    parent: int | None
    kept: bool
    stage: Stage
    reason: str
    scaffold_hash: str | None = None
    mean_progression: float | None = None
    per_env: dict[str, float] = {}
    per_episode: dict[str, float] = {}
    gate: GateResult | None = None
    validation_error: str | None = None
    screen: ScreenResult | None = None  # the cheap screen before the gate, when one ran
    # with three pools: per-episode progression on the accept pool (the gate's episodes)
    accept: dict[str, float] = {}
    accept_mean: float | None = None
    offered: list[int] = []  # Pareto-archive members the review could start from or merge
    # every attempt of the iteration, in order; the last one's files are at the top
    attempts: list[AttemptRecord] = []


class LineageEntry(msgspec.Struct, frozen=True, kw_only=True):
    iteration: int
    parent: int | None
    kept: bool
    stage: Stage
    reason: str
    scaffold_hash: str | None
    mean_progression: float | None
    incumbent_after: int  # the incumbent once this iteration was decided
    offered: list[int] = []  # Pareto-archive scaffolds the review was given to start from/merge


def read_json(path: Path, type_: type[Any] = Any) -> Any:
    return msgspec.json.decode(path.read_bytes(), type=type_)


def iteration_dir(run_dir: Path, iteration: int) -> Path:
    return run_dir / "iterations" / f"{iteration:03d}"


def scaffold_files(root: Path) -> dict[str, str]:
    """Relative path -> text of every file in a scaffold directory (bytecode ignored)."""
    files: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(root).as_posix()
            try:
                files[rel] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                files[rel] = (
                    f"<binary file, sha256 {hashlib.sha256(path.read_bytes()).hexdigest()}>"
                )
    return files


def scaffold_diff(parent: Path, child: Path) -> str:
    """A unified diff of two scaffold directories ("" when identical)."""
    a, b = scaffold_files(parent), scaffold_files(child)
    chunks: list[str] = []
    for rel in sorted(set(a) | set(b)):
        old, new = a.get(rel), b.get(rel)
        if old == new:
            continue
        chunks.extend(
            difflib.unified_diff(
                (old or "").splitlines(keepends=True),
                (new or "").splitlines(keepends=True),
                fromfile=f"a/{rel}" if old is not None else "/dev/null",
                tofile=f"b/{rel}" if new is not None else "/dev/null",
            )
        )
        if chunks and not chunks[-1].endswith("\n"):
            chunks[-1] += "\n"
    return "".join(chunks)


def copy_scaffold(src: Path, dst: Path) -> None:
    """Copies a scaffold directory (without bytecode caches), replacing `dst`."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def read_decisions(run_dir: Path) -> dict[int, Decision]:
    """Every decided iteration, by number."""
    out: dict[int, Decision] = {}
    root = run_dir / "iterations"
    if not root.exists():
        return out
    for path in sorted(root.glob("*/decision.json")):
        decision = read_json(path, Decision)
        out[decision.iteration] = decision
    return out


def lineage(decisions: dict[int, Decision]) -> list[LineageEntry]:
    """The history of incumbents, recomputed from the decisions on disk."""
    entries = []
    incumbent = 0
    for number in sorted(decisions):
        d = decisions[number]
        if d.kept:
            incumbent = number
        entries.append(
            LineageEntry(
                iteration=number,
                parent=d.parent,
                kept=d.kept,
                stage=d.stage,
                reason=d.reason,
                scaffold_hash=d.scaffold_hash,
                mean_progression=d.mean_progression,
                incumbent_after=incumbent,
                offered=d.offered,
            )
        )
    return entries
