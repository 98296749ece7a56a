"""Evaluation suites as data: BALROG's default evaluation, AutoMem's fixed seeds, TOML files."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import tomli_w

from ._errors import EnvError, GameNotInstalled, LevelFilesMissing
from ._registry import BALROG_MINIHACK_TASKS, DEFAULT_MAX_STEPS, DEFAULT_NO_PROGRESS_STEPS
from ._types import (
    ACTION_SETS,
    OBSERVATION_FORMATS,
    ActionSet,
    EpisodeSpec,
    ObservationFormat,
    Suite,
    env_family,
)

# (env ids, episodes per id) of BALROG's default evaluation (config.yaml, `eval.num_episodes`).
_BALROG_TASKS: tuple[tuple[tuple[str, ...], int], ...] = (
    (("crafter",), 10),
    (tuple(f"minihack/{task}" for task in BALROG_MINIHACK_TASKS), 5),
    (("nethack",), 5),
)
AUTOMEM_SEEDS = tuple(range(42, 52))


def _spec(env_id: str, seed: int) -> EpisodeSpec:
    family = env_family(env_id)
    return EpisodeSpec(
        env_id=env_id,
        seed=seed,
        max_steps=DEFAULT_MAX_STEPS[family],
        no_progress_steps=DEFAULT_NO_PROGRESS_STEPS[family],
    )


def unavailable_reason(env_id: str) -> str | None:
    """Why `env_id` cannot run on this machine (missing game or level files), or None."""
    family = env_family(env_id)
    try:
        if family == "crafter":
            from ._crafter import _crafter_class

            _crafter_class()
        else:
            from ._nle import _boxoban_check, minihack_tasks

            if family == "minihack":
                task = env_id.split("/", 1)[1]
                if task not in minihack_tasks():
                    return f"unknown MiniHack task {task!r}"
                _boxoban_check(task)
            else:
                from ._nle import _seedable_challenge

                _seedable_challenge()
    except (GameNotInstalled, LevelFilesMissing) as error:
        return str(error)
    return None


def _filter(episodes: list[EpisodeSpec], envs: Sequence[str] | None) -> list[EpisodeSpec]:
    if envs is None:
        return episodes
    if isinstance(envs, str):
        envs = [envs]
    wanted = set(envs)
    kept = [e for e in episodes if e.env_id in wanted or env_family(e.env_id) in wanted]
    known = {e.env_id for e in episodes} | {env_family(e.env_id) for e in episodes}
    missing = wanted - known
    if missing:
        raise EnvError(f"envs {sorted(missing)} are not in this suite; it has {sorted(known)}")
    return kept


def _finish(name: str, episodes: list[EpisodeSpec], skip_unavailable: bool) -> Suite:
    skipped: dict[str, str] = {}
    if skip_unavailable:
        for env_id in dict.fromkeys(e.env_id for e in episodes):
            reason = unavailable_reason(env_id)
            if reason is not None:
                skipped[env_id] = reason
        episodes = [e for e in episodes if e.env_id not in skipped]
    return Suite(name=name, episodes=episodes, skipped=skipped)


def suite(
    name: str,
    *,
    envs: Sequence[str] | None = None,
    skip_unavailable: bool = True,
    observation_format: ObservationFormat = "compact",
    action_set: ActionSet = "automem",
) -> Suite:
    """A built-in suite: `balrog` or `automem`.

    `balrog` is BALROG's default evaluation: Crafter 10 episodes of at most 2000 steps; 5
    episodes of each of its 8 MiniHack tasks, 100 steps; NetHackChallenge 5 episodes of at most
    100000 steps, ended after 150 steps without the game clock moving. BALROG draws random
    seeds; here episode i has seed i, so runs are repeatable. `automem` is the same tasks and
    limits on the AutoMem paper's fixed seeds 42..51 for every task. `envs` keeps only these
    families or env ids. Tasks that cannot run here (e.g. Boxoban without its level files) are
    left out and listed in `Suite.skipped`, unless `skip_unavailable=False`.
    `observation_format` and `action_set` go to every episode (see `make`).
    """
    episodes: list[EpisodeSpec] = []
    for env_ids, count in _BALROG_TASKS:
        for env_id in env_ids:
            if name == "balrog":
                seeds: Sequence[int] = range(count)
            elif name == "automem":
                seeds = AUTOMEM_SEEDS
            else:
                raise EnvError(f"unknown suite {name!r}; built-in suites: balrog, automem")
            episodes.extend(_spec(env_id, seed) for seed in seeds)
    if (observation_format, action_set) != ("compact", "automem"):
        _check_choices(observation_format, action_set, "suite")
        episodes = [
            msgspec.structs.replace(e, observation_format=observation_format, action_set=action_set)
            for e in episodes
        ]
    return _finish(name, _filter(episodes, envs), skip_unavailable)


def _check_choices(observation_format: Any, action_set: Any, where: str) -> None:
    if observation_format not in OBSERVATION_FORMATS:
        raise EnvError(
            f"{where}: observation_format must be one of {list(OBSERVATION_FORMATS)}, "
            f"got {observation_format!r}"
        )
    if action_set not in ACTION_SETS:
        raise EnvError(
            f"{where}: action_set must be one of {list(ACTION_SETS)}, got {action_set!r}"
        )


def _int_list(value: Any, where: str) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise EnvError(f"{where}: seeds must be a list of ints, got {value!r}")
    return value


def suite_from_dict(data: dict[str, Any], *, skip_unavailable: bool = True) -> Suite:
    """Build a suite from parsed TOML (see `load_suite` for the format)."""
    from ._registry import DEFAULT_MAX_STEPS as max_defaults

    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise EnvError("a suite needs a non-empty string `name`")
    tasks = data.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise EnvError("a suite needs a non-empty [[tasks]] list")
    episodes: list[EpisodeSpec] = []
    for i, task in enumerate(tasks):
        where = f"tasks[{i}]"
        if not isinstance(task, dict):
            raise EnvError(f"{where} must be a table")
        unknown = set(task) - {"env_id", "seeds", "episodes", "first_seed", "max_steps",
                               "no_progress_steps", "no_progress_timeout",
                               "observation_format", "action_set"}  # fmt: skip
        if unknown:
            raise EnvError(f"{where}: unknown keys {sorted(unknown)}")
        env_id = task.get("env_id")
        if not isinstance(env_id, str) or env_family(env_id) not in max_defaults:
            raise EnvError(f"{where}: env_id must be crafter, nethack or minihack/<Task>")
        if "seeds" in task:
            seeds = _int_list(task["seeds"], where)
        else:
            count, first = task.get("episodes"), task.get("first_seed", 0)
            if not isinstance(count, int) or count < 1 or not isinstance(first, int):
                raise EnvError(f"{where}: give `seeds = [...]` or `episodes = N` (+ first_seed)")
            seeds = list(range(first, first + count))
        base = _spec(env_id, 0)
        max_steps = task.get("max_steps", base.max_steps)
        if "no_progress_steps" in task and "no_progress_timeout" in task:
            raise EnvError(f"{where}: give no_progress_timeout or its alias no_progress_steps")
        patience = task.get("no_progress_timeout", task.get("no_progress_steps"))
        if patience is None:
            patience = base.no_progress_steps
        observation_format = task.get("observation_format", "compact")
        action_set = task.get("action_set", "automem")
        _check_choices(observation_format, action_set, where)
        if not isinstance(max_steps, int) or max_steps < 1:
            raise EnvError(f"{where}: max_steps must be an int >= 1, got {max_steps!r}")
        if patience is not None and (not isinstance(patience, int) or patience < 0):
            raise EnvError(f"{where}: no_progress_timeout must be an int >= 0, got {patience!r}")
        for seed in seeds:
            if seed < 0:
                raise EnvError(f"{where}: seeds must be >= 0, got {seed}")
            episodes.append(
                EpisodeSpec(
                    env_id=env_id,
                    seed=seed,
                    max_steps=max_steps,
                    no_progress_steps=patience or None,
                    observation_format=observation_format,
                    action_set=action_set,
                )
            )
    return _finish(name, episodes, skip_unavailable)


def load_suite(path: str | Path, *, skip_unavailable: bool = True) -> Suite:
    """Load a suite from TOML.

    ```toml
    name = "mazes"
    [[tasks]]
    env_id = "minihack/MazeWalk-9x9"
    seeds = [42, 43, 44]        # or: episodes = 5, first_seed = 42
    max_steps = 100             # optional, raw game steps; BALROG's default for the family
    no_progress_timeout = 150   # optional (alias no_progress_steps); 0 switches it off
    observation_format = "balrog"  # optional: "compact" (default) or "balrog"
    action_set = "balrog"       # optional: "automem" (default) or "balrog"
    ```
    """
    try:
        data = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as error:
        raise EnvError(f"{path}: not valid TOML: {error}") from error
    return suite_from_dict(data, skip_unavailable=skip_unavailable)


def suite_to_toml(value: Suite) -> str:
    """The suite as TOML that `load_suite` reads back (one [[tasks]] table per env id)."""
    groups: dict[tuple[str, int, int | None, str, str], list[int]] = {}
    for e in value.episodes:
        key = (e.env_id, e.max_steps, e.no_progress_steps, e.observation_format, e.action_set)
        groups.setdefault(key, []).append(e.seed)
    tasks = []
    for (env_id, max_steps, patience, observation_format, action_set), seeds in groups.items():
        task: dict[str, Any] = {
            "env_id": env_id,
            "seeds": seeds,
            "max_steps": max_steps,
            "no_progress_timeout": patience or 0,
        }
        if observation_format != "compact":
            task["observation_format"] = observation_format
        if action_set != "automem":
            task["action_set"] = action_set
        tasks.append(task)
    return tomli_w.dumps({"name": value.name, "tasks": tasks})
