"""Records the text environments hand to agents and runners."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

EndReason = Literal["running", "done", "max_steps", "no_progress", "errored"]
# `compact`: AutoMem's short view. `balrog`: BALROG's own observation text, word for word.
ObservationFormat = Literal["compact", "balrog"]
# `automem`: named actions plus the extra NetHack commands. `balrog`: BALROG's names only.
ActionSet = Literal["automem", "balrog"]
OBSERVATION_FORMATS: tuple[str, ...] = ("compact", "balrog")
ACTION_SETS: tuple[str, ...] = ("automem", "balrog")


class Observation(msgspec.Struct, frozen=True, kw_only=True):
    """What the agent sees after a reset or a step.

    `text` is the complete view written for an LLM; the other fields are the same facts in
    structured form for code (hooks, map summaries, tests).
    """

    text: str
    message: str = ""
    position: tuple[int, int] | None = None  # (x, y) in the game's own map coordinates
    status: dict[str, Any] = {}  # health, food, depth, xp level, ... as the game names them
    inventory: dict[str, int] = {}  # item name -> count
    grid: list[str] = []  # map rows as characters, as in `text`
    # (x, y) in map coordinates of grid[0][0] when `grid` is a window of the game map (NetHack,
    # MiniHack), so `position` indexes it; None when it is not (Crafter's local view)
    grid_origin: tuple[int, int] | None = None
    prompt: str | None = None  # a question the game is asking (e.g. "What do you want to eat?")


class StepResult(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one `step(action_text)`."""

    observation: Observation
    reward: float
    done: bool  # the game ended (death, success, ...)
    truncated: bool  # the episode was cut by `max_steps` or the no-progress limit
    progression: float  # 0..1, best so far this episode, BALROG's metric
    valid_action: bool
    action: str  # the action that actually ran (the default action if `valid_action` is False)
    info: dict[str, Any] = {}


class EpisodeStats(msgspec.Struct, kw_only=True):
    """Per-episode statistics, kept up to date after every step."""

    env_id: str
    seed: int
    steps: int = 0  # agent actions
    game_steps: int = 0  # raw steps sent to the game (with --More-- presses); limits count these
    progression: float = 0.0
    total_reward: float = 0.0
    invalid_actions: int = 0
    achievements: list[str] = []
    depth: int | None = None
    experience_level: int | None = None
    end_reason: EndReason = "running"
    error: str | None = None


class EpisodeSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One episode of a suite: which game, which seed, which limits."""

    env_id: str
    seed: int
    max_steps: int  # raw game steps, as BALROG counts them
    # BALROG's (NLE's) no-progress timeout: end once the game clock has not moved for this many
    # raw game steps in a row (games without a turn clock, like Crafter, never trigger it).
    no_progress_steps: int | None = None
    observation_format: ObservationFormat = "compact"
    action_set: ActionSet = "automem"

    @property
    def key(self) -> str:
        """A file-name-safe identifier, e.g. `minihack-MazeWalk-9x9__42`."""
        return f"{self.env_id.replace('/', '-')}__{self.seed}"


class Suite(msgspec.Struct, frozen=True, kw_only=True):
    """A named list of episodes; suites are data and load from TOML."""

    name: str
    episodes: list[EpisodeSpec]
    skipped: dict[str, str] = {}  # env_id -> why it cannot run here (e.g. missing Boxoban levels)


def env_family(env_id: str) -> str:
    """The family name results are aggregated by: `crafter`, `minihack` or `nethack`."""
    return env_id.split("/", 1)[0]
