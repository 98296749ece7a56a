"""Where Loop 2's data and evaluations come from: the suite (whose episodes training never
sees), the episodes played for evaluation, and the pool's episodes on other seeds."""

from __future__ import annotations

import math
from pathlib import Path

import msgspec
from automem_envs import EpisodeSpec, Suite, env_family

from automem_train._dataset import EvalKeys
from automem_train._examples import MemoryExample
from automem_train._loop_config import Loop2Config


def per_env(value: int | dict[str, int] | None, env_id: str) -> int | None:
    """A setting given for every family (an int) or per family (a dict), for `env_id`."""
    if value is None or isinstance(value, int):
        return value
    return value.get(env_family(env_id))


def full_suite(config: Loop2Config) -> Suite:
    """The named suite (`automem`, `balrog`, or a TOML file) restricted to `config.envs`, with
    the run's text, actions and no-progress timeout. Its (env_id, seed) pairs are ones training
    data must never come from."""
    from automem_envs import load_suite, suite

    if Path(config.suite).is_file():
        base = load_suite(config.suite)
        keep = set(config.envs)
        episodes = [e for e in base.episodes if e.env_id in keep or e.env_id.split("/")[0] in keep]
        base = Suite(name=base.name, episodes=episodes, skipped=base.skipped)
    else:
        base = suite(config.suite, envs=config.envs)
    timeouts = config.no_progress_steps
    episodes = [
        msgspec.structs.replace(
            e,
            observation_format=config.observation_format,
            action_set=config.action_set,
            no_progress_steps=e.no_progress_steps
            if timeouts is None
            else timeouts.get(env_family(e.env_id)) or None,
        )
        for e in base.episodes
    ]
    return Suite(name=base.name, episodes=episodes, skipped=base.skipped)


def eval_suite_of(config: Loop2Config, full: Suite) -> Suite:
    """The episodes played for evaluation, per env: `eval_seeds`, else the suite's first
    `eval_episodes` seeds (continued one by one past its last listed seed), else all it lists;
    each with `eval_max_steps` (default: the suite's limit)."""
    first: dict[str, EpisodeSpec] = {}
    listed: dict[str, list[int]] = {}
    for e in full.episodes:
        first.setdefault(e.env_id, e)
        listed.setdefault(e.env_id, []).append(e.seed)
    episodes = []
    for env_id, spec in first.items():
        seeds = _eval_seeds(config, env_id, listed[env_id])
        steps = per_env(config.eval_max_steps, env_id) or spec.max_steps
        episodes += [msgspec.structs.replace(spec, seed=s, max_steps=steps) for s in seeds]
    return Suite(name=full.name, episodes=episodes, skipped=full.skipped)


def _eval_seeds(config: Loop2Config, env_id: str, listed: list[int]) -> list[int]:
    if config.eval_seeds is not None:
        return list(config.eval_seeds)
    count = per_env(config.eval_episodes, env_id)
    if count is None:
        return list(listed)
    seeds = listed[:count]
    nxt = listed[-1] + 1 if listed else 0
    while len(seeds) < count:
        seeds.append(nxt)
        nxt += 1
    return seeds


def pool_suite_of(
    config: Loop2Config,
    full: Suite,
    excluded: EvalKeys = frozenset(),  # type: ignore[assignment]
) -> Suite:
    """Episodes to collect training traces from: `config.pool_episodes` in all, split evenly
    over the suite's envs, on seeds counted up from `first_collect_seed` that are not in
    `excluded` (or on `collect_seeds` for every env, when given). Each episode keeps its
    env's text, actions and timeout, with `collect_max_steps` steps (default: the evaluation's
    step limit, else the suite's)."""
    first: dict[str, EpisodeSpec] = {}
    for e in full.episodes:
        first.setdefault(e.env_id, e)
    per_env_count = max(1, math.ceil(config.pool_episodes / max(1, len(first))))
    episodes = []
    for env_id, spec in first.items():
        if config.collect_seeds is not None:
            seeds = list(config.collect_seeds)
        else:
            seeds, seed = [], config.first_collect_seed
            while len(seeds) < per_env_count:
                if (env_id, seed) not in excluded:
                    seeds.append(seed)
                seed += 1
        steps = (
            per_env(config.collect_max_steps, env_id)
            or per_env(config.eval_max_steps, env_id)
            or spec.max_steps
        )
        episodes += [msgspec.structs.replace(spec, seed=s, max_steps=steps) for s in seeds]
    return Suite(name="loop2-pool", episodes=episodes)


def drop_eval_episodes(
    examples: list[MemoryExample], excluded: EvalKeys
) -> tuple[list[MemoryExample], list[MemoryExample]]:
    """(kept, skipped): turns from episodes on evaluation seeds are skipped, never trained on."""
    kept = [e for e in examples if (e.env_id, e.seed) not in excluded]
    skipped = [e for e in examples if (e.env_id, e.seed) in excluded]
    return kept, skipped
