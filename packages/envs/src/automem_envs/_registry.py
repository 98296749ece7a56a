"""`make(env_id, seed=...)`: ids, defaults and argument checks for every game."""

from __future__ import annotations

import difflib
import numbers
from typing import Any

from ._base import TextEnv
from ._errors import EnvError
from ._types import ACTION_SETS, OBSERVATION_FORMATS, EpisodeSpec, env_family

# BALROG's defaults (config.yaml): step limits per family and NetHack's no-progress timeout.
DEFAULT_MAX_STEPS = {"crafter": 2000, "minihack": 100, "nethack": 100_000}
DEFAULT_NO_PROGRESS_STEPS: dict[str, int | None] = {
    "crafter": None,
    "minihack": None,
    "nethack": 150,
}
BALROG_MINIHACK_TASKS = (
    "Boxoban-Hard",
    "Boxoban-Medium",
    "MazeWalk-9x9",
    "MazeWalk-15x15",
    "Corridor-R3",
    "CorridorBattle-Dark",
    "Quest-Easy",
    "Quest-Medium",
)
CRAFTER_OPTIONS = frozenset({"view", "show_map", "area"})
_SEED_LIMIT = 2**63  # NLE takes unsigned 64-bit seeds; Crafter any int


def available_env_ids() -> list[str]:
    """Every id `make` accepts here: `crafter`, `nethack` and each registered MiniHack task.

    Without the `nethack` extra, MiniHack ids are BALROG's tasks (they still need the extra).
    """
    from ._errors import GameNotInstalled
    from ._nle import minihack_tasks

    try:
        tasks = list(minihack_tasks())
    except GameNotInstalled:
        tasks = list(BALROG_MINIHACK_TASKS)
    return ["crafter", "nethack", *(f"minihack/{task}" for task in tasks)]


def _check_int(name: str, value: Any, *, minimum: int, allow_none: bool) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise EnvError(f"{name} must be an int, got {type(value).__name__}: {value!r}")
    if value < minimum:
        raise EnvError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _unknown(env_id: str) -> EnvError:
    known = available_env_ids()
    close = difflib.get_close_matches(env_id, known, n=5, cutoff=0.5)
    if close:
        hint = "closest matches: " + ", ".join(close)
    else:
        hint = "valid ids: crafter, nethack, minihack/<Task> such as " + ", ".join(
            f"minihack/{t}" for t in BALROG_MINIHACK_TASKS[2:5]
        )
    return EnvError(f"unknown env id {env_id!r}; {hint} (all: automem_envs.available_env_ids())")


def make(
    env_id: str,
    *,
    seed: int,
    max_steps: int | None = None,
    no_progress_steps: int | None = None,
    observation_format: str = "compact",
    action_set: str = "automem",
    no_progress_timeout: int | None = None,
    **options: Any,
) -> TextEnv:
    """Create a text environment. Call `reset()` before `step()`.

    `env_id` is `crafter`, `nethack` (NetHackChallenge) or `minihack/<Task>`. The seed fixes the
    game: the same id, seed, options and actions give the same observations in any process.
    Both limits count raw game steps, as BALROG does (every key sent to the game, automatic
    `--More--` presses included). `max_steps` defaults to BALROG's value for the family.
    `no_progress_timeout` (alias `no_progress_steps`; give one) is BALROG's no-progress
    timeout, NetHack's default 150; 0 switches it off. `observation_format` is `compact`
    (AutoMem's short view) or `balrog` (BALROG's text; Crafter's reset then takes one noop, as
    BALROG's wrapper does). `action_set` is `automem` or `balrog` (BALROG's action names only).
    `options` tune the view (`show_map`, `view`, `map_radius`, ...) or go to the game's
    constructor.
    """
    if not isinstance(env_id, str):
        raise EnvError(f"env_id must be a str, got {type(env_id).__name__}: {env_id!r}")
    seed = _check_int("seed", seed, minimum=0, allow_none=False)  # type: ignore[assignment]
    if seed >= _SEED_LIMIT:
        raise EnvError(f"seed must be < 2**63, got {seed}")
    family = env_family(env_id)
    if family not in DEFAULT_MAX_STEPS or (family == "minihack") == ("/" not in env_id):
        raise _unknown(env_id)
    if family != "minihack" and env_id != family:
        raise _unknown(env_id)
    if observation_format not in OBSERVATION_FORMATS:
        raise EnvError(
            f"observation_format must be one of {list(OBSERVATION_FORMATS)}, "
            f"got {observation_format!r}"
        )
    if action_set not in ACTION_SETS:
        raise EnvError(f"action_set must be one of {list(ACTION_SETS)}, got {action_set!r}")
    steps = _check_int("max_steps", max_steps, minimum=1, allow_none=True)
    patience = _check_int("no_progress_steps", no_progress_steps, minimum=0, allow_none=True)
    timeout = _check_int("no_progress_timeout", no_progress_timeout, minimum=0, allow_none=True)
    if timeout is not None:
        if patience is not None and patience != timeout:
            raise EnvError(
                "no_progress_steps is an alias of no_progress_timeout; give one, "
                f"got {patience} and {timeout}"
            )
        patience = timeout
    if patience is None:
        patience = DEFAULT_NO_PROGRESS_STEPS[family]
    limits: dict[str, Any] = {
        "seed": seed,
        "max_steps": steps if steps is not None else DEFAULT_MAX_STEPS[family],
        "no_progress_steps": patience or None,  # 0 switches the limit off
        "observation_format": observation_format,
        "action_set": action_set,
    }
    if family == "crafter":
        from ._crafter import CrafterEnv

        unknown = set(options) - CRAFTER_OPTIONS
        if unknown:
            raise EnvError(
                f"unknown Crafter option(s) {sorted(unknown)}; valid: {sorted(CRAFTER_OPTIONS)}"
            )
        return CrafterEnv(env_id, **limits, **options)
    from ._nle import NleEnv, minihack_tasks

    if family == "minihack" and env_id.split("/", 1)[1] not in minihack_tasks():
        raise _unknown(env_id)
    try:
        return NleEnv(env_id, **limits, **options)
    except TypeError as error:  # an option the game's constructor does not take
        raise EnvError(f"bad option for {env_id}: {error}") from error


def make_from_spec(spec: EpisodeSpec, **options: Any) -> TextEnv:
    """`make` for one episode of a suite."""
    return make(
        spec.env_id,
        seed=spec.seed,
        max_steps=spec.max_steps,
        no_progress_steps=spec.no_progress_steps,
        observation_format=spec.observation_format,
        action_set=spec.action_set,
        **options,
    )
