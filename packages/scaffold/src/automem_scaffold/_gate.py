"""The keep-or-reject rule for a candidate scaffold, with paired statistics over the same seeds."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec

GateRule = Literal["mean", "paired-ci"]
GATE_RULES: tuple[GateRule, ...] = ("mean", "paired-ci")


class GateResult(msgspec.Struct, frozen=True, kw_only=True):
    """The gate's verdict and the numbers behind it. Deltas are candidate minus incumbent,
    per episode key (`env__seed`); the interval is a paired bootstrap over those deltas."""

    rule: GateRule
    kept: bool
    reason: str
    incumbent_mean: float
    candidate_mean: float
    deltas: dict[str, float]
    mean_delta: float
    ci_low: float
    ci_high: float
    ci_level: float
    n_bootstrap: int


def bootstrap_ci(
    deltas: Sequence[float], *, level: float = 0.9, n: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap interval for the mean of `deltas`, from a seeded RNG."""
    if not deltas:
        return (0.0, 0.0)
    rng = random.Random(seed)
    k = len(deltas)
    means = sorted(sum(rng.choices(deltas, k=k)) / k for _ in range(n))
    tail = (1.0 - level) / 2.0
    low = means[min(n - 1, int(tail * n))]
    high = means[min(n - 1, max(0, int((1.0 - tail) * n) - 1))]
    return (low, high)


def decide(
    incumbent: Mapping[str, float],
    candidate: Mapping[str, float],
    *,
    rule: GateRule = "mean",
    level: float = 0.9,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> GateResult:
    """Compare per-episode progression on the same keys.

    `mean` (the paper's rule, the default) keeps the candidate iff its mean progression is
    strictly higher. `paired-ci` keeps it only if the lower bound of the paired interval is
    above 0. A candidate missing any of the incumbent's episodes is rejected.
    """
    missing = sorted(set(incumbent) - set(candidate))
    keys = sorted(set(incumbent) & set(candidate))
    deltas = {k: candidate[k] - incumbent[k] for k in keys}
    inc_mean = sum(incumbent[k] for k in keys) / len(keys) if keys else 0.0
    cand_mean = sum(candidate[k] for k in keys) / len(keys) if keys else 0.0
    values = list(deltas.values())
    low, high = bootstrap_ci(values, level=level, n=n_bootstrap, seed=seed)
    mean_delta = sum(values) / len(values) if values else 0.0
    if missing or not keys:
        kept, reason = False, f"candidate has no result for {', '.join(missing) or 'any episode'}"
    elif rule == "mean":
        kept = cand_mean > inc_mean
        relation = ">" if kept else "<="
        reason = (
            f"mean progression {cand_mean:.4f} {relation} incumbent {inc_mean:.4f} "
            f"(rule: mean; paired {level:.0%} CI [{low:+.4f}, {high:+.4f}])"
        )
    elif rule == "paired-ci":
        kept = low > 0.0
        relation = ">" if kept else "<="
        reason = (
            f"paired {level:.0%} CI lower bound {low:+.4f} {relation} 0 "
            f"(rule: paired-ci; means {cand_mean:.4f} vs {inc_mean:.4f})"
        )
    else:
        raise ValueError(f"unknown gate rule {rule!r}; choose one of {GATE_RULES}")
    return GateResult(
        rule=rule,
        kept=kept,
        reason=reason,
        incumbent_mean=inc_mean,
        candidate_mean=cand_mean,
        deltas=deltas,
        mean_delta=mean_delta,
        ci_low=low,
        ci_high=high,
        ci_level=level,
        n_bootstrap=n_bootstrap,
    )
