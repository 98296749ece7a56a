"""The fixed gate seeds and the held-out seeds of a run, from an `automem-envs` suite."""

from __future__ import annotations

from typing import Any

from automem_envs._types import EpisodeSpec

from automem_scaffold._config import EvolveConfig, EvolveError

FIRST_SEED = 42  # AutoMem fixes seeds 42..51


def _suite_episodes(name: str, envs: list[str]) -> list[EpisodeSpec]:
    try:
        from automem_envs import suite as load_suite  # type: ignore[attr-defined]
    except ImportError:
        load_suite = None
    if load_suite is None:
        return [
            EpisodeSpec(env_id=e, seed=FIRST_SEED + i, max_steps=0) for e in envs for i in range(10)
        ]
    try:
        loaded: Any = load_suite(name, envs=envs)
    except (KeyError, ValueError) as exc:
        raise EvolveError(f"suite {name!r} with envs {envs}: {exc}") from None
    return list(loaded.episodes)


def fixed_and_heldout(config: EvolveConfig) -> tuple[list[EpisodeSpec], list[EpisodeSpec]]:
    """Per env, the suite's first `config.seeds` seeds (fixed) and the next `config.held_out`
    seeds after them (held out), all capped at `config.max_steps` steps."""
    episodes = _suite_episodes(config.suite, list(config.envs))
    fixed: list[EpisodeSpec] = []
    heldout: list[EpisodeSpec] = []
    for env in config.envs:
        specs = sorted((e for e in episodes if e.env_id == env), key=lambda e: e.seed)
        if not specs:
            raise EvolveError(f"suite {config.suite!r} has no episodes for env {env!r}")
        template = specs[0]
        chosen = specs[: config.seeds]
        seeds = [e.seed for e in chosen]
        while len(seeds) < config.seeds:
            seeds.append(seeds[-1] + 1)
        held = [e.seed for e in specs if e.seed > seeds[-1]][: config.held_out]
        while len(held) < config.held_out:
            held.append((held[-1] if held else seeds[-1]) + 1)

        def spec(seed: int, template: EpisodeSpec = template) -> EpisodeSpec:
            return EpisodeSpec(
                env_id=template.env_id,
                seed=seed,
                max_steps=config.max_steps,
                no_progress_steps=template.no_progress_steps,
            )

        fixed += [spec(s) for s in seeds]
        heldout += [spec(s) for s in held]
    return fixed, heldout
