"""Where Loop 2's data and evaluations come from: the suite (whose episodes training never
sees), the episodes played for evaluation, and the pool's episodes on other seeds."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
from automem_envs import EpisodeSpec, Suite

from automem_train._dataset import EvalKeys
from automem_train._examples import MemoryExample
from automem_train._loop_config import Loop2Config


def full_suite(config: Loop2Config) -> Suite:
    """The named suite (`automem`, `balrog`, or a TOML file) restricted to `config.envs`.
    Its (env_id, seed) pairs are the ones training data must never come from."""
    from automem_envs import load_suite, suite

    if Path(config.suite).is_file():
        base = load_suite(config.suite)
        keep = set(config.envs)
        episodes = [e for e in base.episodes if e.env_id in keep or e.env_id.split("/")[0] in keep]
        return Suite(name=base.name, episodes=episodes, skipped=base.skipped)
    return suite(config.suite, envs=config.envs)


def eval_suite_of(config: Loop2Config, full: Suite) -> Suite:
    """The episodes actually played for evaluation: the suite's, optionally fewer seeds and
    fewer steps (demo scale)."""
    episodes = [
        msgspec.structs.replace(e, max_steps=config.eval_max_steps or e.max_steps)
        for e in full.episodes
        if config.eval_seeds is None or e.seed in config.eval_seeds
    ]
    return Suite(name=full.name, episodes=episodes, skipped=full.skipped)


def pool_suite_of(
    config: Loop2Config,
    full: Suite,
    excluded: EvalKeys = frozenset(),  # type: ignore[assignment]
) -> Suite:
    """Episodes to collect training traces from: `config.pool_episodes` in all, split evenly
    over the suite's envs, on seeds counted up from `first_collect_seed` that are not in
    `excluded` (or on `collect_seeds` for every env, when given). Each episode keeps its
    env's limits, capped at `collect_max_steps`."""
    first: dict[str, EpisodeSpec] = {}
    for e in full.episodes:
        first.setdefault(e.env_id, e)
    per_env = max(1, math.ceil(config.pool_episodes / max(1, len(first))))
    episodes = []
    for env_id, spec in first.items():
        if config.collect_seeds is not None:
            seeds = list(config.collect_seeds)
        else:
            seeds, seed = [], config.first_collect_seed
            while len(seeds) < per_env:
                if (env_id, seed) not in excluded:
                    seeds.append(seed)
                seed += 1
        steps = config.collect_max_steps or spec.max_steps
        episodes += [msgspec.structs.replace(spec, seed=s, max_steps=steps) for s in seeds]
    return Suite(name="loop2-pool", episodes=episodes)


def drop_eval_episodes(
    examples: list[MemoryExample], excluded: EvalKeys
) -> tuple[list[MemoryExample], list[MemoryExample]]:
    """(kept, skipped): turns from episodes on evaluation seeds are skipped, never trained on."""
    kept = [e for e in examples if (e.env_id, e.seed) not in excluded]
    skipped = [e for e in examples if (e.env_id, e.seed) in excluded]
    return kept, skipped
