"""Crafter, MiniHack and NetHack as deterministic text games with BALROG-compatible progression.

```python
from automem_envs import make
with make("minihack/MazeWalk-9x9", seed=42) as env:
    obs = env.reset()
    step = env.step("north")
    print(step.observation.text, step.progression, env.stats)
```
The gymnasium adapter lives in `automem_envs.gym` (needs the `gym` extra).
"""

from ._actions import ActionVocabulary, normalize_action
from ._base import TextEnv
from ._errors import EnvError, EpisodeOver, GameNotInstalled, LevelFilesMissing
from ._progression import (
    crafter_progression,
    minihack_progression,
    nethack_progression,
    nethack_table,
)
from ._registry import (
    BALROG_MINIHACK_TASKS,
    DEFAULT_MAX_STEPS,
    DEFAULT_NO_PROGRESS_STEPS,
    available_env_ids,
    make,
    make_from_spec,
)
from ._suites import (
    AUTOMEM_SEEDS,
    load_suite,
    suite,
    suite_from_dict,
    suite_to_toml,
    unavailable_reason,
)
from ._types import (
    ACTION_SETS,
    OBSERVATION_FORMATS,
    ActionSet,
    EndReason,
    EpisodeSpec,
    EpisodeStats,
    Observation,
    ObservationFormat,
    StepResult,
    Suite,
    env_family,
)

__all__ = [
    "ACTION_SETS",
    "AUTOMEM_SEEDS",
    "BALROG_MINIHACK_TASKS",
    "DEFAULT_MAX_STEPS",
    "DEFAULT_NO_PROGRESS_STEPS",
    "OBSERVATION_FORMATS",
    "ActionSet",
    "ActionVocabulary",
    "EndReason",
    "EnvError",
    "EpisodeOver",
    "EpisodeSpec",
    "EpisodeStats",
    "GameNotInstalled",
    "LevelFilesMissing",
    "Observation",
    "ObservationFormat",
    "StepResult",
    "Suite",
    "TextEnv",
    "available_env_ids",
    "crafter_progression",
    "env_family",
    "load_suite",
    "make",
    "make_from_spec",
    "minihack_progression",
    "nethack_progression",
    "nethack_table",
    "normalize_action",
    "suite",
    "suite_from_dict",
    "suite_to_toml",
    "unavailable_reason",
]
