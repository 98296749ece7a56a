"""Three disjoint seed pools per env: search (the reviewer reads its traces), accept (the gate
decides on it; the reviewer never sees it) and report (played once at the end by the start and
the final scaffold), laid out as consecutive seed blocks of the suite."""

from __future__ import annotations

from typing import Any

import msgspec
from automem_envs import EpisodeSpec

from automem_scaffold._config import EvolveConfig, EvolveError
from automem_scaffold._suite import fixed_and_heldout


class SeedPools(msgspec.Struct, frozen=True, kw_only=True):
    """Episodes per pool. `accept` is empty when the run gates on the search seeds (the
    paper's setting): then the gate decides on the seeds the reviewer read."""

    search: list[EpisodeSpec]
    accept: list[EpisodeSpec]
    report: list[EpisodeSpec]

    @property
    def gate(self) -> list[EpisodeSpec]:
        """The episodes the gate decides on."""
        return self.accept or self.search


def seed_pools(config: EvolveConfig) -> SeedPools:
    """Search = the first `seeds` seeds per env, accept = the next `accept_seeds`, report = the
    next `held_out`. Raises `EvolveError` if the pools would overlap."""
    wide = msgspec.structs.replace(config, held_out=config.accept_seeds + config.held_out)
    search, after = fixed_and_heldout(wide)
    accept: list[EpisodeSpec] = []
    report: list[EpisodeSpec] = []
    taken: dict[str, int] = {}
    for spec in after:
        n = taken.get(spec.env_id, 0)
        taken[spec.env_id] = n + 1
        (accept if n < config.accept_seeds else report).append(spec)
    pools = SeedPools(search=search, accept=accept, report=report)
    check_disjoint(pools)
    return pools


def check_disjoint(pools: SeedPools) -> None:
    """Raises `EvolveError` naming any episode that sits in two pools."""
    seen: dict[str, str] = {}
    for name in ("search", "accept", "report"):
        for spec in getattr(pools, name):
            if spec.key in seen:
                raise EvolveError(
                    f"episode {spec.key} is in both the {seen[spec.key]} and the {name} pool"
                )
            seen[spec.key] = name


def search_accept_gap(decisions: dict[int, Any], iteration: int) -> float | None:
    """A candidate's improvement over its parent on the search pool minus that on the accept
    pool: how much of what the reviewer saw failed to carry over to unseen seeds (None without
    an accept pool, or before both pools were played)."""
    d = decisions[iteration]
    if d.parent is None or d.accept_mean is None or d.mean_progression is None:
        return None
    p = decisions[d.parent]
    if p.accept_mean is None or p.mean_progression is None:
        return None
    return (d.mean_progression - p.mean_progression) - (d.accept_mean - p.accept_mean)
