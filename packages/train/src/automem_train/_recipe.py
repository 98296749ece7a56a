"""Recipes (policy + composition + LoRA config, chosen together) and the trials ledger."""

from __future__ import annotations

from pathlib import Path

import msgspec
from automem_agent import append_jsonl, read_jsonl

from automem_train._config import TrainConfig
from automem_train._dataset import DatasetReport
from automem_train._evaluate import Comparison
from automem_train._policy import SelectionPolicy
from automem_train._postprocess import PostProcess
from automem_train._select import Composition, SelectionReport
from automem_train._trainer import TrainResult


class Recipe(msgspec.Struct, frozen=True, kw_only=True):
    """One Loop 2 recipe: which turns to learn from, how to mix them, how to train."""

    name: str = "default"
    policy: SelectionPolicy = SelectionPolicy()
    postprocess: PostProcess = PostProcess()
    composition: Composition = Composition()
    train: TrainConfig = TrainConfig()
    rationale: str = ""

    def problems(self) -> list[str]:
        """What makes this recipe unusable, written for a model to read (empty when fine)."""
        out = list(self.train.problems())
        c = self.composition
        if c.log_share is not None and not 0.0 <= c.log_share <= 1.0:
            out.append(f"composition.log_share must be in [0, 1] or null, got {c.log_share}")
        if c.per_env_cap is not None and c.per_env_cap < 1:
            out.append("composition.per_env_cap must be at least 1 (or null)")
        if c.max_examples is not None and c.max_examples < 1:
            out.append("composition.max_examples must be at least 1 (or null)")
        if self.policy.scope == "pool" and not self.policy.code:
            out.append("a pool-scope policy needs `code` defining select(pool)")
        if self.policy.code is None and not self.policy.builtin:
            out.append("policy needs either `code` or a `builtin` name")
        return out


class TrialRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line of `trials.jsonl`: the recipe, where it came from, and what it gave."""

    index: int
    recipe: Recipe
    proposer: str  # "default", "meta", or "fallback" (meta proposal unusable; `note` says why)
    status: str  # "ok" or "failed"
    note: str = ""
    # What the proposer was shown of earlier trials (one line each: data, loss curve,
    # before/after progression, write-to-search ratio, memory growth per step).
    inputs: list[str] = []
    failure: str = ""  # why a failed trial failed: "oom", "wont-fit", "policy", "too-few", ...
    selection: SelectionReport | None = None
    dataset: DatasetReport | None = None
    train: TrainResult | None = None
    comparison: Comparison | None = None
    score: float | None = None  # mean specialist progression over env families (x100)
    meta_tokens: int = 0
    wall_s: float = 0.0


LEDGER = "trials.jsonl"
_DECODE = msgspec.json.Decoder(TrialRecord)


def read_ledger(run_dir: str | Path) -> list[TrialRecord]:
    """Every finished trial of a run, in order. A torn last line (a kill mid-append) is skipped
    and reported; a damaged line before it raises `JsonlError` naming the line."""
    return read_jsonl(Path(run_dir) / LEDGER, decoder=_DECODE, missing_ok=True).records


def append_ledger(run_dir: str | Path, record: TrialRecord) -> None:
    """Appends one finished trial (fsynced: the ledger is what resume trusts)."""
    append_jsonl(Path(run_dir) / LEDGER, record, fsync=True)


def best_trial(records: list[TrialRecord]) -> TrialRecord | None:
    """Highest specialist progression; ties go to the lower final training loss."""
    ok = [r for r in records if r.status == "ok"]
    if not ok:
        return None

    def key(r: TrialRecord) -> tuple[float, float]:
        loss = r.train.final_loss if r.train and r.train.final_loss is not None else 1e9
        return (r.score if r.score is not None else -1.0, -loss)

    return max(ok, key=key)


def ledger_table(records: list[TrialRecord]) -> str:
    """The ledger as a plain-text table."""
    head = (
        f"{'#':>3} {'proposer':<9} {'status':<7} {'policy':<12} {'examples':>8} "
        f"{'rank':>4} {'lr':>8} {'steps':>5} {'loss':>13} {'score':>6}  note"
    )
    rows = [head]
    for r in records:
        t = r.train
        loss = "-"
        if t and t.first_loss is not None and t.final_loss is not None:
            loss = f"{t.first_loss:.2f}->{t.final_loss:.2f}"
        rows.append(
            f"{r.index:>3} {r.proposer:<9} {r.status:<7} {r.recipe.policy.name[:12]:<12} "
            f"{r.dataset.examples if r.dataset else 0:>8} {r.recipe.train.lora.rank:>4} "
            f"{r.recipe.train.learning_rate:>8.1e} {t.steps if t else 0:>5} {loss:>13} "
            f"{'-' if r.score is None else f'{r.score:.1f}':>6}  {r.note[:60]}"
        )
    return "\n".join(rows)


def trial_outcome(record: TrialRecord, run_dir: str | Path | None = None) -> str:
    """One line a proposer reads about a finished trial: data statistics, the loss curve,
    before/after progression, write-to-search ratio and memory growth per step (or why it
    failed)."""
    parts = [f"trial {record.index} ({record.recipe.name}, {record.proposer}): {record.status}"]
    if record.failure or (record.status != "ok" and record.note):
        parts.append(f"{record.failure or 'failed'}: {record.note[:200]}")
    d = record.dataset
    if d is not None:
        parts.append(
            f"data {d.examples} examples {d.per_phase} {d.tokens} tokens "
            f"({d.loss_share:.0%} with loss), removed {d.removed}"
        )
    if record.train is not None and run_dir is not None:
        from automem_train._trainer import read_loss_log

        losses = [
            r["loss"]
            for r in read_loss_log(Path(run_dir) / "trials" / f"{record.index:03d}" / "train")
        ]
        if losses:
            every = max(1, len(losses) // 8)
            curve = ", ".join(f"{x:.2f}" for x in losses[::every][:8] + losses[-1:])
            parts.append(f"loss curve [{curve}]")
    elif record.train is not None and record.train.first_loss is not None:
        parts.append(f"loss {record.train.first_loss:.2f}->{record.train.final_loss:.2f}")
    c = record.comparison
    if c is not None:
        for family in sorted(set(c.base) | set(c.specialist)):
            b, s = c.base.get(family), c.specialist.get(family)
            if b is None or s is None:
                continue

            def ratio(x: float | None) -> str:
                return "-" if x is None else f"{x:.2f}"

            parts.append(
                f"{family}: progression {b.progression:.1f}->{s.progression:.1f}, "
                f"write/search {ratio(b.write_to_search)}->{ratio(s.write_to_search)}, "
                f"growth/step {b.memory_growth_per_step:.0f}->{s.memory_growth_per_step:.0f}"
            )
    return "; ".join(parts)
