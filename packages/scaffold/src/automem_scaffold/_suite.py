"""The fixed gate seeds and the held-out seeds of a run, from an `automem-envs` suite."""

from __future__ import annotations

from automem_agent import suite_seeds
from automem_envs import EnvError, EpisodeSpec, env_family

from automem_scaffold._config import EvolveConfig, EvolveError


def per_env(value: int | dict[str, int], env_id: str) -> int:
    """A setting given for every family (an int) or per family (a dict), for `env_id`."""
    if isinstance(value, int):
        return value
    family = env_family(env_id)
    if family not in value:
        raise EvolveError(f"no value for family {family!r} (env {env_id!r}) in {value}")
    return value[family]


def _listed_seeds(config: EvolveConfig, env_id: str) -> list[int]:
    try:
        return suite_seeds(config.suite, env_id)
    except EnvError as exc:
        raise EvolveError(f"suite {config.suite!r}: {exc}") from None


def fixed_and_heldout(config: EvolveConfig) -> tuple[list[EpisodeSpec], list[EpisodeSpec]]:
    """Per env, the suite's first `seeds` seeds (fixed; or the explicit seed list) and the next
    `held_out` seeds after them (held out), with the run's step limit, no-progress timeout, observation format and action
    set. Past the suite's listed seeds, seeds continue one by one."""
    fixed: list[EpisodeSpec] = []
    heldout: list[EpisodeSpec] = []
    for env in config.envs:
        if isinstance(config.seeds, list):  # explicit seeds; held out: the ones after them
            count = len(config.seeds)
            seeds = list(config.seeds)
            listed = [s for s in _listed_seeds(config, env) if s > max(seeds)]
            seeds += listed[: config.held_out]
        else:
            count = per_env(config.seeds, env)
            seeds = _listed_seeds(config, env)[: count + config.held_out]
        while len(seeds) < count + config.held_out:
            seeds.append((max(seeds) + 1) if seeds else 0)
        no_progress = config.no_progress_steps.get(env_family(env))

        def spec(seed: int, env: str = env, no_progress: int | None = no_progress) -> EpisodeSpec:
            return EpisodeSpec(
                env_id=env,
                seed=seed,
                max_steps=per_env(config.max_steps, env),
                no_progress_steps=no_progress,
                observation_format=config.observation_format,  # type: ignore[arg-type]
                action_set=config.action_set,  # type: ignore[arg-type]
            )

        fixed += [spec(s) for s in seeds[:count]]
        heldout += [spec(s) for s in seeds[count:]]
    return fixed, heldout
