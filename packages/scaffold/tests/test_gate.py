"""The gate: the paper's mean rule, the paired-CI rule, bootstrap determinism."""

from __future__ import annotations

import pytest
from automem_scaffold import bootstrap_ci, decide


def test_mean_rule_keeps_only_strict_improvement() -> None:
    inc = {"crafter__42": 0.1, "crafter__43": 0.2}
    better = decide(inc, {"crafter__42": 0.2, "crafter__43": 0.2})
    assert better.kept and better.rule == "mean"
    assert better.deltas == pytest.approx({"crafter__42": 0.1, "crafter__43": 0.0})
    assert better.mean_delta == pytest.approx(0.05)
    same = decide(inc, dict(inc))
    assert not same.kept and "<=" in same.reason
    worse = decide(inc, {"crafter__42": 0.0, "crafter__43": 0.2})
    assert not worse.kept


def test_paired_ci_rule_is_stricter() -> None:
    inc = {f"crafter__{s}": 0.1 for s in range(42, 48)}
    # Mean improves, but one seed got much worse: the paired interval straddles 0.
    mixed = {k: 0.3 for k in inc}
    mixed["crafter__42"] = 0.0
    mixed["crafter__43"] = 0.0
    assert decide(inc, mixed, rule="mean").kept
    strict = decide(inc, mixed, rule="paired-ci")
    assert not strict.kept and strict.ci_low <= 0 < strict.ci_high
    uniform = {k: 0.2 for k in inc}
    assert decide(inc, uniform, rule="paired-ci").kept


def test_missing_episode_rejects() -> None:
    result = decide({"a__1": 0.1, "a__2": 0.1}, {"a__1": 0.9})
    assert not result.kept and "a__2" in result.reason


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    deltas = [0.1, -0.05, 0.2, 0.0, 0.15]
    assert bootstrap_ci(deltas, seed=3) == bootstrap_ci(deltas, seed=3)
    low, high = bootstrap_ci(deltas, level=0.9, n=4000)
    assert low < sum(deltas) / len(deltas) < high
    assert bootstrap_ci([0.5]) == (0.5, 0.5)
    assert bootstrap_ci([]) == (0.0, 0.0)
