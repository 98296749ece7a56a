"""A Pareto archive beside the incumbent: every evaluated candidate that is best on at least one
search seed, or that no other candidate beats on all of mean progression, agent tokens per step
and memory growth per step (so a revision that matches progression at half the tokens shows).

The archive is rebuilt from the run directory (`pareto.json`); a review is offered its members'
scaffolds under `bundle/pareto/NNN/` to start from or merge, and its decision records which.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
from automem_agent import iter_traces, write_json_atomic

from automem_scaffold._archive import iteration_dir, read_decisions

_POINTER = "\n## Pareto archive\n\n"


class CandidateScores(msgspec.Struct, frozen=True, kw_only=True):
    """One evaluated scaffold on the search pool."""

    iteration: int
    per_episode: dict[str, float]
    tokens_per_step: float
    memory_growth_per_step: float

    @property
    def mean(self) -> float:
        return sum(self.per_episode.values()) / len(self.per_episode) if self.per_episode else 0.0


class ArchiveMember(msgspec.Struct, frozen=True, kw_only=True):
    iteration: int
    best_on: list[str]  # search episodes where no candidate scored higher (ties included)
    non_dominated: bool  # on (mean progression, tokens/step, memory growth/step)
    mean_progression: float
    tokens_per_step: float
    memory_growth_per_step: float


class ParetoArchive(msgspec.Struct, frozen=True, kw_only=True):
    """`pareto.json`: the members, best first by mean progression."""

    members: list[ArchiveMember]
    candidates: int

    @property
    def iterations(self) -> list[int]:
        return [m.iteration for m in self.members]


def _dominates(a: CandidateScores, b: CandidateScores) -> bool:
    ge = (
        a.mean >= b.mean
        and a.tokens_per_step <= b.tokens_per_step
        and a.memory_growth_per_step <= b.memory_growth_per_step
    )
    gt = (
        a.mean > b.mean
        or a.tokens_per_step < b.tokens_per_step
        or a.memory_growth_per_step < b.memory_growth_per_step
    )
    return ge and gt


def pareto_archive(candidates: list[CandidateScores]) -> ParetoArchive:
    """The candidates best on >= 1 seed (a seed on which all tie names nobody) plus those
    non-dominated on the three objectives."""
    seeds = sorted({k for c in candidates for k in c.per_episode})
    best: dict[int, list[str]] = {c.iteration: [] for c in candidates}
    for key in seeds:
        values = [c.per_episode.get(key, 0.0) for c in candidates]
        top = max(values)
        if top == min(values):
            continue
        for c, v in zip(candidates, values, strict=True):
            if v == top:
                best[c.iteration].append(key)
    members = []
    for c in candidates:
        free = not any(_dominates(o, c) for o in candidates if o is not c)
        if best[c.iteration] or free:
            members.append(
                ArchiveMember(
                    iteration=c.iteration,
                    best_on=best[c.iteration],
                    non_dominated=free,
                    mean_progression=c.mean,
                    tokens_per_step=c.tokens_per_step,
                    memory_growth_per_step=c.memory_growth_per_step,
                )
            )
    members.sort(key=lambda m: (-m.mean_progression, m.tokens_per_step, m.iteration))
    return ParetoArchive(members=members, candidates=len(candidates))


def scores_of(iteration: int, eval_root: Path) -> CandidateScores | None:
    """Search-pool scores of the evaluation under `eval_root` (None if it has no traces)."""
    per_episode: dict[str, float] = {}
    tokens = steps = 0
    growth: list[float] = []
    for trace in iter_traces(eval_root / "eval"):
        s = trace.summary
        if s is None:
            continue
        key = f"{trace.header.env_id.replace('/', '-')}__{trace.header.seed}"
        per_episode[key] = s.stats.progression
        tokens += sum(int(u.get("input", 0)) + int(u.get("output", 0)) for u in s.tokens.values())
        steps += s.steps
        growth.append(s.memory_growth_per_step)
    if not per_episode:
        return None
    return CandidateScores(
        iteration=iteration,
        per_episode=per_episode,
        tokens_per_step=tokens / max(1, steps),
        memory_growth_per_step=sum(growth) / len(growth),
    )


def build_archive(run_dir: Path) -> ParetoArchive:
    """Scores every fully evaluated iteration on its search traces and writes `pareto.json`."""
    candidates = []
    for number, decision in sorted(read_decisions(run_dir).items()):
        if decision.stage not in ("start", "gate"):
            continue
        scores = scores_of(number, iteration_dir(run_dir, number))
        if scores is not None:
            candidates.append(scores)
    archive = pareto_archive(candidates)
    write_json_atomic(run_dir / "pareto.json", archive)
    return archive


def offer_archive(run_dir: Path, incumbent: int, bundle_dir: Path) -> list[int]:
    """Copies the scaffolds of the archive's members (the incumbent aside) into
    `bundle_dir/pareto/NNN/`, with `pareto.md` saying why each is there; returns their numbers."""
    archive = build_archive(run_dir)
    offered = [m for m in archive.members if m.iteration != incumbent]
    target = bundle_dir / "pareto"
    if target.exists():
        shutil.rmtree(target)
    summary = bundle_dir / "summary.md"
    if summary.exists():  # the pointer is rewritten, so a re-offer never stacks sections
        text = summary.read_text(encoding="utf-8").split(_POINTER)[0].rstrip("\n") + "\n"
        if offered:
            text += (
                f"{_POINTER}{len(offered)} other scaffold(s) in pareto/ (see pareto/pareto.md)\n"
            )
        summary.write_text(text, encoding="utf-8")
    if not offered:
        return []
    target.mkdir(parents=True)
    lines = [
        "# Pareto archive",
        "",
        "Scaffolds beside the incumbent that are best on some search seed, or cheaper at a",
        "progression no other candidate beats. Start from one, or merge what works.",
        "",
    ]
    for m in offered:
        src = iteration_dir(run_dir, m.iteration) / "scaffold"
        shutil.copytree(
            src, target / f"{m.iteration:03d}", ignore=shutil.ignore_patterns("__pycache__")
        )
        why = f"best on {', '.join(m.best_on)}" if m.best_on else "non-dominated"
        lines.append(
            f"- `pareto/{m.iteration:03d}/`: {why}; mean {100 * m.mean_progression:.1f}%, "
            f"{m.tokens_per_step:.0f} tokens/step, memory +{m.memory_growth_per_step:.1f} chars/step"
        )
    (target / "pareto.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [m.iteration for m in offered]


def offered_to(iteration_root: Path) -> list[int]:
    """The archive members a review was offered (recorded beside its candidate)."""
    path = iteration_root / "offered.json"
    return msgspec.json.decode(path.read_bytes(), type=list[int]) if path.exists() else []
