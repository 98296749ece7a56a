"""What a review remembers: every earlier revision (each attempt of each iteration), its
rationale, its diff and its result, as `bundle/lineage.md` (with the diffs under
`bundle/lineage/`) and as a short section of the task prompt.

The record of one attempt is an `AttemptRecord`; `decision.json` lists them in `attempts`.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

import msgspec

from automem_scaffold._gate import GateResult
from automem_scaffold._screen import ScreenResult

AttemptKind = Literal["fresh", "continuation"]
PROMPT_ENTRIES = 12  # the task prompt lists the latest revisions; lineage.md lists them all
RATIONALE_CHARS = 400


class AttemptRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One attempt of an iteration: a candidate written by a fresh review or by the continuation
    of an earlier attempt's review, and how far it got. `dir` is relative to the iteration
    directory ("." for the attempt whose files stay at the top). `deltas` are per-seed
    progression, candidate minus incumbent, on the screen or the gate, whichever decided."""

    number: int
    kind: AttemptKind
    continues: int | None = None
    dir: str
    kept: bool
    stage: str  # review | validation | screen | gate
    reason: str
    rationale: str | None = None
    changed_files: list[str] = []
    validation_error: str | None = None
    mean_progression: float | None = None
    deltas: dict[str, float] = {}
    screen: ScreenResult | None = None
    gate: GateResult | None = None
    resumable: bool = False  # its review session can be continued


class AttemptPlan(msgspec.Struct, frozen=True, kw_only=True):
    """`attempt.json` at the top of an iteration: which attempt is under way (for resume)."""

    number: int
    kind: AttemptKind
    continues: int | None = None


def plan_next(done: list[AttemptRecord], *, fresh: int, continuations: int) -> AttemptPlan | None:
    """The attempt after `done` (all rejected), or None when the iteration has used them up.

    A failed fresh attempt whose session can go on is continued first (it sees its own
    candidate's error or gate result, with the context it built); then the next fresh one."""
    number = len(done) + 1
    used_fresh = sum(1 for a in done if a.kind == "fresh")
    used_cont = sum(1 for a in done if a.kind == "continuation")
    last = done[-1] if done else None
    if last is not None and last.kind == "fresh" and last.resumable and used_cont < continuations:
        return AttemptPlan(number=number, kind="continuation", continues=last.number)
    if used_fresh < max(1, fresh):
        return AttemptPlan(number=number, kind="fresh")
    return None


class Revision(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the lineage: an attempt of a decided (or the current) iteration."""

    iteration: int
    parent: int | None
    attempt: AttemptRecord
    diff_path: Path | None  # where its scaffold.diff is on disk


def _fmt_deltas(deltas: dict[str, float], limit: int = 10) -> str:
    items = sorted(deltas.items())
    text = ", ".join(f"{k} {v:+.3f}" for k, v in items[:limit])
    return text + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _result(a: AttemptRecord) -> str:
    head = "KEPT" if a.kept else f"rejected at {a.stage}"
    text = f"{head}: {a.reason}"
    if a.deltas:
        text += f" | per-seed deltas: {_fmt_deltas(a.deltas)}"
    return text


def _label(r: Revision) -> str:
    a = r.attempt
    kind = "fresh" if a.kind == "fresh" else f"continuation of attempt {a.continues}"
    return f"iteration {r.iteration} attempt {a.number} ({kind}, parent {r.parent})"


def diff_name(r: Revision) -> str:
    return f"{r.iteration:03d}-{r.attempt.number}.diff"


def write_lineage(bundle_dir: Path, revisions: list[Revision]) -> None:
    """Writes `bundle/lineage.md` and `bundle/lineage/*.diff` (replacing earlier ones)."""
    root = bundle_dir / "lineage"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    lines = ["# Lineage: every earlier revision, its rationale, its diff and its result", ""]
    if not revisions:
        lines.append("No revision has been tried yet.")
    for r in revisions:
        a = r.attempt
        diff = (
            r.diff_path.read_text(encoding="utf-8") if r.diff_path and r.diff_path.exists() else ""
        )
        (root / diff_name(r)).write_text(diff, encoding="utf-8")
        lines += [
            f"## {_label(r)}",
            "",
            f"- result: {_result(a)}",
            f"- files changed: {', '.join(a.changed_files) or 'none'}"
            f" (diff: bundle/lineage/{diff_name(r)}, {len(diff.splitlines())} lines)",
        ]
        if a.validation_error:
            lines.append(f"- validation error: {a.validation_error}")
        lines += ["", "Rationale:", "", (a.rationale or "(none given)").strip(), ""]
    (bundle_dir / "lineage.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def rejected_streak(revisions: list[Revision]) -> int:
    """How many of the latest revisions in a row were rejected."""
    n = 0
    for r in reversed(revisions):
        if r.attempt.kept:
            break
        n += 1
    return n


def lineage_section(revisions: list[Revision], *, structural_after: int) -> str:
    """The task prompt's part on history: the latest revisions in one paragraph each, and,
    after `structural_after` rejections in a row, a request for a structural change."""
    if not revisions:
        return "No earlier revision: this is the first review of this run."
    shown = revisions[-PROMPT_ENTRIES:]
    lines = [
        f"Earlier revisions ({len(revisions)}; all of them with rationale and diff in "
        "bundle/lineage.md):"
    ]
    if len(shown) < len(revisions):
        lines.append(f"(the {len(revisions) - len(shown)} oldest are only in bundle/lineage.md)")
    for r in shown:
        a = r.attempt
        rationale = (a.rationale or "(none given)").strip().replace("\n", " ")
        if len(rationale) > RATIONALE_CHARS:
            rationale = rationale[:RATIONALE_CHARS] + " ..."
        lines.append(
            f"- {_label(r)}: {_result(a)}. Files: {', '.join(a.changed_files) or 'none'} "
            f"(bundle/lineage/{diff_name(r)}). Rationale: {rationale}"
        )
        if a.validation_error:
            lines.append(f"  Validation error: {a.validation_error[:600]}")
    streak = rejected_streak(revisions)
    if structural_after > 0 and streak >= structural_after:
        lines += [
            "",
            f"The last {streak} revisions were all rejected. Another tweak of wording or numbers "
            "is unlikely to pass the gate: make a structural change instead (the episode-scoped "
            "agent program in hooks.py, the memory schema, the op vocabulary, how each phase is "
            "prompted), and do not repeat a change the lineage shows was rejected.",
        ]
    return "\n".join(lines)
