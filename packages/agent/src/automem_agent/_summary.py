"""Suite results and BALROG's aggregation: per env, mean progression x100 ± standard error.

The figures match BALROG's leaderboard number for number: the standard error is the population
standard deviation over sqrt(n) (0 for a single episode), and the overall figure is the mean of
the per-family means, with standard error sqrt(sum of squared family errors) / families.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import msgspec
from automem_envs import env_family

from automem_agent._trace_records import EpisodeSummary

# The paper's write-to-search ratio, counted as memfs's MemoryStats counts it: ops that add or
# change text, over search ops (reads, tails and counts are not searches).
WRITE_KINDS = frozenset({"create", "append", "write", "str_replace", "insert"})
SEARCH_KINDS = frozenset({"search"})


class EpisodeResult(msgspec.Struct, frozen=True, kw_only=True):
    """One episode of a suite run: where its trace is and how it ended."""

    env_id: str
    seed: int
    status: str  # "finished" or "errored"
    trace: str  # path relative to the run's out_dir
    summary: EpisodeSummary
    resumed: bool = False  # reused from an earlier run instead of played again


class EnvSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Aggregates over one env family or env id. Errored episodes are counted but excluded
    from every other figure."""

    name: str
    episodes: int
    errored: int
    progression: float  # mean over finished episodes, x100
    stderr: float  # BALROG's standard error of that mean, x100 (0 with fewer than two episodes)
    steps: int
    tokens_per_step: float
    invalid_action_rate: float
    fallback_rate: float
    write_to_search: float | None  # total writes / total searches (None if no search)
    memory_growth_per_step: float  # mean over episodes, characters per step


class SuiteResult(msgspec.Struct, frozen=True, kw_only=True):
    """What `run_suite` returns and writes to `out_dir/results.json`."""

    suite: str
    episodes: list[EpisodeResult]
    families: dict[str, EnvSummary]  # crafter / minihack / nethack
    envs: dict[str, EnvSummary]  # per env id
    skipped: dict[str, str] = {}
    wall_s: float = 0.0
    # BALROG's overall figure: the mean of the family means (x100) and its standard error.
    overall: float = 0.0
    overall_stderr: float = 0.0

    @property
    def errored(self) -> int:
        return sum(e.status == "errored" for e in self.episodes)


def write_to_search(op_counts: dict[str, int]) -> float | None:
    """Writes divided by searches, or None when memory was never consulted."""
    searches = sum(op_counts.get(k, 0) for k in SEARCH_KINDS)
    writes = sum(op_counts.get(k, 0) for k in WRITE_KINDS)
    return writes / searches if searches else None


def mean_and_stderr(values: Sequence[float]) -> tuple[float, float]:
    """BALROG's mean and standard error: population std / sqrt(n), and 0 below two values."""
    n = len(values)
    if not n:
        return 0.0, 0.0
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / n) / math.sqrt(n)


def overall_figure(families: Iterable[EnvSummary]) -> tuple[float, float]:
    """BALROG's overall figure over env families with finished episodes: (mean, s.e.), x100."""
    played = [f for f in families if f.episodes > f.errored]
    if not played:
        return 0.0, 0.0
    n = len(played)
    return (
        sum(f.progression for f in played) / n,
        math.sqrt(sum(f.stderr**2 for f in played)) / n,
    )


def aggregate(name: str, episodes: Iterable[EpisodeResult]) -> EnvSummary:
    """BALROG's aggregation over `episodes`, plus the memory and robustness figures."""
    episodes = list(episodes)
    ok = [e.summary for e in episodes if e.status != "errored"]
    mean, stderr = mean_and_stderr([100.0 * s.stats.progression for s in ok])
    steps = sum(s.steps for s in ok)
    tokens = sum(t.get("input", 0) + t.get("output", 0) for s in ok for t in s.tokens.values())
    invalid = sum(s.stats.invalid_actions for s in ok)
    fallbacks = sum(s.fallback_actions for s in ok)
    ops: dict[str, int] = {}
    for s in ok:
        for k, v in s.op_counts.items():
            ops[k] = ops.get(k, 0) + v
    growth = [s.memory_growth_per_step for s in ok]
    return EnvSummary(
        name=name,
        episodes=len(episodes),
        errored=len(episodes) - len(ok),
        progression=mean,
        stderr=stderr,
        steps=steps,
        tokens_per_step=tokens / steps if steps else 0.0,
        invalid_action_rate=invalid / steps if steps else 0.0,
        fallback_rate=fallbacks / steps if steps else 0.0,
        write_to_search=write_to_search(ops),
        memory_growth_per_step=sum(growth) / len(growth) if growth else 0.0,
    )


def summarize(
    suite: str,
    episodes: list[EpisodeResult],
    *,
    skipped: dict[str, str] | None = None,
    wall_s: float = 0.0,
) -> SuiteResult:
    """Builds the suite result: aggregates per env family and per env id."""
    by_family: dict[str, list[EpisodeResult]] = {}
    by_env: dict[str, list[EpisodeResult]] = {}
    for e in episodes:
        by_family.setdefault(env_family(e.env_id), []).append(e)
        by_env.setdefault(e.env_id, []).append(e)
    families = {k: aggregate(k, v) for k, v in sorted(by_family.items())}
    overall, overall_stderr = overall_figure(families.values())
    return SuiteResult(
        suite=suite,
        episodes=episodes,
        families=families,
        envs={k: aggregate(k, v) for k, v in sorted(by_env.items())},
        skipped=dict(skipped or {}),
        wall_s=wall_s,
        overall=overall,
        overall_stderr=overall_stderr,
    )


def format_summary(result: SuiteResult) -> str:
    """A plain-text table: families first, then env ids when a family has several."""
    head = (
        f"{'env':<28} {'eps':>4} {'err':>4} {'progress %':>14} {'steps':>6} {'tok/step':>9} "
        f"{'invalid':>8} {'fallback':>9} {'w/s':>6} {'growth/step':>12}"
    )
    rows = [f"suite {result.suite}: {len(result.episodes)} episodes in {result.wall_s:.1f}s", head]
    rows.append("-" * len(head))

    def row(s: EnvSummary, indent: str = "") -> str:
        ws = f"{s.write_to_search:.2f}" if s.write_to_search is not None else "-"
        prog = f"{s.progression:.1f} ± {s.stderr:.1f}"
        return (
            f"{indent + s.name:<28} {s.episodes:>4} {s.errored:>4} {prog:>14} {s.steps:>6} "
            f"{s.tokens_per_step:>9.0f} {s.invalid_action_rate:>8.1%} {s.fallback_rate:>9.1%} "
            f"{ws:>6} {s.memory_growth_per_step:>12.1f}"
        )

    for family, s in result.families.items():
        rows.append(row(s))
        subs = [v for k, v in result.envs.items() if env_family(k) == family]
        if len(subs) > 1 or (subs and subs[0].name != family):
            rows.extend(row(v, "  ") for v in subs)
    if len(result.families) > 1:
        rows.append(
            f"{'overall (BALROG: mean of families)':<28} {result.overall:.1f} ± "
            f"{result.overall_stderr:.1f}"
        )
    errors = [e for e in result.episodes if e.status == "errored"]
    for e in errors:
        rows.append(f"errored: {e.env_id} seed {e.seed}: {e.summary.error}")
    for env_id, why in result.skipped.items():
        rows.append(f"skipped: {env_id}: {why}")
    return "\n".join(rows)
