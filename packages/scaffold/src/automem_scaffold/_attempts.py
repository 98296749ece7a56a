"""Attempts of one iteration on disk, and the lineage gathered from the run directory.

The attempt under way always lives at the top of `iterations/NNN/` (so the gate, the ledger,
the bundle of a kept iteration and the viewer find its files where they always were). When it
is rejected and another attempt follows, it is archived: its record goes to
`attempts/NN/attempt.json` first, then its files move under `attempts/NN/`, then the marker
`attempts/NN/archived` is written. A run killed in between finishes the move on resume.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import msgspec
from automem_agent import write_json_atomic

from automem_scaffold._archive import Decision, iteration_dir, read_decisions, read_json
from automem_scaffold._evaluate import load_evaluation
from automem_scaffold._lineage import AttemptPlan, AttemptRecord, Revision

# What one attempt writes at the top of its iteration directory.
PRODUCTS = (
    "attempt.json",
    "scaffold",
    "scaffold.diff",
    "review",
    "review.md",
    "candidate.json",
    "screen",
    "eval",
    "memory",
    "partial",
    "results.json",
    "evaluation.json",
    "accept",
)


def attempt_dir(it: Path, number: int) -> Path:
    return it / "attempts" / f"{number:02d}"


def archive_attempt(it: Path, record: AttemptRecord) -> AttemptRecord:
    """Moves the top-level attempt into `attempts/NN/`; returns its record with that `dir`."""
    dest = attempt_dir(it, record.number)
    dest.mkdir(parents=True, exist_ok=True)
    record = msgspec.structs.replace(record, dir=f"attempts/{record.number:02d}")
    if not (dest / "attempt.json").exists():
        write_json_atomic(dest / "attempt.json", record)
    _finish_move(it, dest)
    return record


def _finish_move(it: Path, dest: Path) -> None:
    for name in PRODUCTS:
        src = it / name
        if src.exists() and not (dest / name).exists():
            os.replace(src, dest / name)
    (dest / "archived").touch()


def read_attempts(it: Path) -> list[AttemptRecord]:
    """The archived (rejected) attempts of an iteration, in order; an archive cut off by a
    kill is completed first."""
    root = it / "attempts"
    if not root.is_dir():
        return []
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        if not (sub / "attempt.json").exists():
            continue  # never recorded: nothing was moved yet
        if not (sub / "archived").exists():
            _finish_move(it, sub)
        out.append(read_json(sub / "attempt.json", AttemptRecord))
    return out


def current_plan(it: Path, done: list[AttemptRecord]) -> AttemptPlan | None:
    """The attempt under way at the top of `it` (after a kill), if its plan is on disk."""
    path = it / "attempt.json"
    if not path.exists():
        return None
    plan = read_json(path, AttemptPlan)
    return plan if plan.number == len(done) + 1 else None


def files_of(it: Path, record: AttemptRecord) -> Path:
    """The directory that holds an attempt's files."""
    return it if record.dir in ("", ".") else it / record.dir


def _legacy_record(it: Path, decision: Decision) -> AttemptRecord:
    """A decision written before attempts were recorded counts as one fresh attempt."""
    from automem_scaffold._review import CandidateOutcome

    outcome = (
        read_json(it / "candidate.json", CandidateOutcome)
        if (it / "candidate.json").exists()
        else None
    )
    return AttemptRecord(
        number=1,
        kind="fresh",
        dir=".",
        kept=decision.kept,
        stage=decision.stage,
        reason=decision.reason,
        rationale=outcome.rationale if outcome else None,
        changed_files=outcome.changed_files if outcome else [],
        validation_error=decision.validation_error,
        mean_progression=decision.mean_progression,
        deltas=dict(decision.gate.deltas) if decision.gate else {},
        screen=decision.screen,
        gate=decision.gate,
    )


def revisions(
    run_dir: Path, *, before: int, current: Sequence[AttemptRecord] = ()
) -> list[Revision]:
    """Every attempt of iterations 1..before-1 (decided ones), then `current` (the rejected
    attempts so far of iteration `before`), oldest first."""
    out: list[Revision] = []
    decisions = read_decisions(run_dir)
    for number in sorted(decisions):
        d = decisions[number]
        if number == 0 or number >= before:
            continue
        it = iteration_dir(run_dir, number)
        for a in d.attempts or [_legacy_record(it, d)]:
            out.append(
                Revision(
                    iteration=number,
                    parent=d.parent,
                    attempt=a,
                    diff_path=files_of(it, a) / "scaffold.diff",
                )
            )
    it = iteration_dir(run_dir, before)
    parent = None
    if current:
        parents = [d.iteration for d in decisions.values() if d.kept and d.iteration < before]
        parent = max(parents) if parents else None
    for a in current:
        out.append(
            Revision(
                iteration=before,
                parent=parent,
                attempt=a,
                diff_path=files_of(it, a) / "scaffold.diff",
            )
        )
    return out


def seed_deltas(candidate_root: Path, incumbent_root: Path) -> dict[str, float]:
    """Per-seed progression, candidate minus incumbent, of two evaluations on the same
    episodes ({} when either is missing)."""
    cand, inc = load_evaluation(candidate_root), load_evaluation(incumbent_root)
    if cand is None or inc is None:
        return {}
    return {
        k: cand.per_episode[k] - inc.per_episode[k]
        for k in sorted(cand.per_episode)
        if k in inc.per_episode
    }


def attempts_meta_tokens(it: Path) -> int:
    """Meta-LLM tokens of every attempt of an iteration (from their `candidate.json`)."""
    from automem_scaffold._review import CandidateOutcome

    total = 0
    for root in [it, *sorted((it / "attempts").glob("[0-9][0-9]"))]:
        if (root / "candidate.json").exists():
            o = read_json(root / "candidate.json", CandidateOutcome)
            total += o.meta_input_tokens + o.meta_output_tokens
    return total
