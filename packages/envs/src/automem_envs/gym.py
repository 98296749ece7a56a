"""A gymnasium adapter: text observations in, text actions out, for users' own RL code.

Importing this module registers the games with gymnasium, so `gymnasium.make("automem/crafter",
seed=3, max_steps=100)` works (or, without importing it first,
`gymnasium.make("automem_envs.gym:automem/crafter", ...)`); keyword arguments go to `make`.
"""

from __future__ import annotations

from typing import Any

from ._base import TextEnv
from ._errors import GameNotInstalled
from ._registry import BALROG_MINIHACK_TASKS, make

try:
    import gymnasium
except ImportError as error:  # pragma: no cover - exercised only without the extra
    raise GameNotInstalled("gymnasium", "gym", error) from error

# Observation text is ASCII plus the odd Latin-1 character from NetHack; tabs and newlines too.
CHARSET = "\t\n" + "".join(chr(c) for c in range(32, 256) if c != 127)
MAX_TEXT = 1 << 16


class TextGymEnv(gymnasium.Env[str, str]):
    """A `TextEnv` as a `gymnasium.Env` whose observations and actions are strings.

    `reset(seed=...)` with a new seed builds the game for that seed; `info` carries
    `progression`, `valid_action`, `action` (what ran) and `observation` (the structured record).
    Invalid action text is not an error: it runs the game's default action, as in `TextEnv`.
    """

    # Turn-based, so any rate will do; gymnasium's env checker warns without one.
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self, env_id: str, *, seed: int = 0, render_mode: str | None = None, **kwargs: Any
    ):
        self.env_id = env_id
        self._kwargs = kwargs
        self.render_mode = render_mode
        self.text_env: TextEnv = make(env_id, seed=seed, **kwargs)
        self.observation_space = gymnasium.spaces.Text(max_length=MAX_TEXT, charset=CHARSET)
        self.action_space = gymnasium.spaces.Text(max_length=256, min_length=1, charset=CHARSET)
        self._text = ""

    @property
    def actions(self) -> list[str]:
        """The action vocabulary (what `action_space` samples are matched against)."""
        return self.text_env.actions

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None and seed != self.text_env.seed:
            self.text_env.close()
            self.text_env = make(self.env_id, seed=seed, **self._kwargs)
        observation = self.text_env.reset()
        self._text = observation.text
        return observation.text, {
            "observation": observation,
            "instructions": self.text_env.instructions,
        }

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        result = self.text_env.step(action)
        self._text = result.observation.text
        info = {
            "progression": result.progression,
            "valid_action": result.valid_action,
            "action": result.action,
            "observation": result.observation,
            **result.info,
        }
        return result.observation.text, result.reward, result.done, result.truncated, info

    # gymnasium types render() with a method-level TypeVar, which no concrete override can match.
    def render(self) -> str | None:  # type: ignore[override]
        return self._text if self.render_mode == "ansi" else None

    def close(self) -> None:
        self.text_env.close()


def as_gymnasium(env_id: str, *, seed: int = 0, **kwargs: Any) -> TextGymEnv:
    """Shorthand for `TextGymEnv(env_id, seed=seed, **kwargs)`."""
    return TextGymEnv(env_id, seed=seed, **kwargs)


def gym_id(env_id: str) -> str:
    """The gymnasium id of an env id: `crafter` -> `automem/crafter`, `minihack/MazeWalk-9x9` ->
    `automem/minihack-MazeWalk-9x9` (gymnasium ids allow one `/`, after the namespace)."""
    return "automem/" + env_id.replace("/", "-")


def register_envs() -> list[str]:
    """Registers `crafter`, `nethack` and BALROG's MiniHack tasks with gymnasium under `gym_id`
    names, building `TextGymEnv`s; ids already registered are left alone. Returns the ids.
    Other MiniHack tasks: `TextGymEnv("minihack/<Task>", ...)`."""
    ids = []
    for env_id in ("crafter", "nethack", *(f"minihack/{task}" for task in BALROG_MINIHACK_TASKS)):
        name = gym_id(env_id)
        if name not in gymnasium.registry:
            gymnasium.register(
                name, entry_point=f"{__name__}:TextGymEnv", kwargs={"env_id": env_id}
            )
        ids.append(name)
    return ids


GYM_IDS = tuple(register_envs())
