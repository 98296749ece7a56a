"""MiniHack and NetHack (NLE) as text games: named keys, --More-- handling, prompt answers."""

from __future__ import annotations

import contextlib
import os
import random
import re
import warnings
from collections.abc import Iterator
from functools import cache
from typing import Any

import msgspec

from ._actions import ActionVocabulary
from ._base import GameStep, TextEnv
from ._errors import EnvError, GameNotInstalled, LevelFilesMissing
from ._nle_names import DESCRIPTIONS, aliases, key_names
from ._progression import nethack_progression
from ._types import EpisodeStats, Observation

OBSERVATION_KEYS = (
    "glyphs",
    "chars",
    "blstats",
    "message",
    "inv_strs",
    "inv_letters",
    "tty_chars",
    "tty_cursor",
)
_NO_LIMIT = 10**9  # the episode limits are ours; the game's own limits must never fire first
_MORE, _ESC = 13, 27
_MAX_MORE = 64  # a --More-- chain longer than this is a broken game, not a message
_MENU = re.compile(rb"\((?:end|\d+ of \d+)\)")
_TYPE = "type "  # executed-action prefix for a line of text typed at a getlin prompt
_MAX_LINE = 80
_ANSWERS = {"yes": "y", "no": "n", "escape": "\x1b", "esc": "\x1b", "more": "\r", "enter": "\r"}

# BALROG's game settings (its config.yaml), so scores stay comparable.
MINIHACK_DEFAULTS: dict[str, Any] = {
    "character": "@",
    "penalty_step": -0.01,
    "penalty_time": 0.0,
    "penalty_mode": "constant",
    "autopickup": False,
}
NETHACK_DEFAULTS: dict[str, Any] = {"character": "@"}


@contextlib.contextmanager
def _quiet_imports() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # minihack imports the deprecated pkg_resources
        yield


@cache
def _gym_and_nle() -> Any:
    """The module NLE registers its envs with: gymnasium, or gym under BALROG's balrog-nle."""
    try:
        with _quiet_imports():
            import nle  # noqa: F401 - registers the NetHack envs

            if _balrog_nle():
                import gym as gymnasium
            else:
                import gymnasium
    except ImportError as error:
        raise GameNotInstalled("NetHack (nle)", "nethack", error) from error
    return gymnasium


@cache
def _balrog_nle() -> bool:
    """True under nle 0.x, i.e. `balrog-nle` 0.9 (the `balrog-nle` extra): BALROG's NetHack 3.6.6.

    It speaks gym 0.23's API (`step` gives four values) and has no `fix_moon_phase`, so the
    moon phase and Friday 13th follow the date, as in BALROG's own runs.
    """
    import nle

    return nle.__version__.startswith("0.")


def _four_to_five(step: Any) -> Any:
    """gym 0.23's step (obs, reward, done, info) as gymnasium's (..., terminated, truncated, ...)."""

    def five(action: int) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, done, info = step(action)
        return observation, reward, done, False, info

    return five


@cache
def minihack_tasks() -> dict[str, str]:
    """MiniHack task name (e.g. `MazeWalk-9x9`) -> its gymnasium id, for every registered task."""
    gymnasium = _gym_and_nle()
    try:
        with _quiet_imports():
            import minihack  # noqa: F401 - registers the MiniHack envs
    except ImportError as error:
        raise GameNotInstalled("MiniHack", "nethack", error) from error
    tasks: dict[str, str] = {}
    registry = gymnasium.envs.registration.registry  # gym 0.23: an EnvRegistry, not a dict
    for gym_id in sorted(getattr(registry, "env_specs", registry)):  # sorted: a later -vN wins
        if gym_id.startswith("MiniHack-"):
            tasks[re.sub(r"-v\d+$", "", gym_id[len("MiniHack-") :])] = gym_id
    return tasks


@cache
def _seedable_challenge() -> type:
    _gym_and_nle()
    from nle.env.base import NLE
    from nle.env.tasks import NetHackChallenge

    class SeedableNetHackChallenge(NetHackChallenge):
        """NetHackChallenge with identical game settings whose RNG seeds may be set.

        NetHackChallenge blocks seeding by overriding `seed` and shadowing three methods on its
        `nethack` object; this restores NLE's own versions. Nothing else changes.
        """

        seed = NLE.seed

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            for name in ("set_initial_seeds", "set_current_seeds", "get_current_seeds"):
                self.nethack.__dict__.pop(name, None)

    return SeedableNetHackChallenge


def _fixed_moon() -> dict[str, bool]:
    # Moon phase and Friday 13th from the seed, not the date (nle >= 1.1 only).
    return {} if _balrog_nle() else {"fix_moon_phase": True}


def _boxoban_check(task: str) -> None:
    if not task.startswith("Boxoban"):
        return
    from minihack.envs import boxohack

    level_set = {"Hard": "hard", "Medium": "medium", "Unfiltered": "unfiltered"}
    name = task.split("-")[1] if "-" in task else ""
    sub = level_set.get(name, name.lower())
    folder = boxohack.LEVELS_PATH + "/" + sub + ("" if sub == "hard" else "/train")
    if not os.path.isdir(folder) or not any(f.endswith(".txt") for f in os.listdir(folder)):
        raise LevelFilesMissing(
            f"MiniHack {task} needs the Boxoban level files (*.txt) in {folder}, which minihack "
            "does not ship. Get them with `python -m minihack.scripts.download_boxoban_levels` "
            "(downloads github.com/deepmind/boxoban-levels), or unzip that repository's archive "
            f"into {boxohack.LEVELS_PATH}."
        )


@contextlib.contextmanager
def _seeded_python_random(seed: int) -> Iterator[None]:
    # Boxoban picks its level with the `random` module; pin it without disturbing the caller.
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


TASK_GOALS = {
    "Boxoban": "push every boulder (`) onto a fountain ({); boulders move when you walk into them",
    "Quest": "reach the staircase down (>); cross lava and defeat monsters on the way, using "
    "the items you find (wands, rings, potions)",
    "CorridorBattle": "reach the staircase down (>) through a corridor full of monsters; "
    "fight them one at a time",
    "Sokoban": "push the boulders into the holes to open the way to the goal",
}
NETHACK_GOAL = (
    "You play NetHack, a roguelike dungeon crawler, with a randomly chosen character. Goal: "
    "descend as deep as you can (> on a staircase down) and gain experience levels while "
    "staying alive. Progress is the deepest dungeon level and highest experience level reached."
)


class NleEnv(TextEnv):
    """MiniHack tasks (`minihack/<Task>`) and NetHackChallenge (`nethack`) as text games.

    The vocabulary is the game's own action set, named. When the game asks a question (an item
    to eat, a direction, y/n) or shows a menu, any single key is also accepted, so "eat" then
    "f", or a digit, works. `--More--` is continued automatically and the messages collected.
    Options: `show_map`, `map_radius`, `show_inventory` for the view; anything else goes to
    the game's constructor (e.g. `character="val-hum-law-fem"`).
    """

    def __init__(
        self,
        env_id: str,
        *,
        seed: int,
        max_steps: int,
        no_progress_steps: int | None,
        observation_format: str = "compact",
        action_set: str = "automem",
        show_map: bool = True,
        map_radius: int | None = None,
        show_inventory: bool = True,
        **game_options: Any,
    ) -> None:
        super().__init__(
            env_id,
            seed=seed,
            max_steps=max_steps,
            no_progress_steps=no_progress_steps,
            observation_format=observation_format,
            action_set=action_set,
        )
        self.family = "nethack" if env_id == "nethack" else "minihack"
        self._minihack = self.family == "minihack"
        if map_radius is not None and (not isinstance(map_radius, int) or map_radius < 0):
            raise EnvError(f"map_radius must be None or an int >= 0, got {map_radius!r}")
        if self.family == "nethack":
            options = {**NETHACK_DEFAULTS, **game_options}
            self._task = "NetHackChallenge"
            self._env = _seedable_challenge()(
                observation_keys=OBSERVATION_KEYS,
                max_episode_steps=_NO_LIMIT,
                no_progress_timeout=_NO_LIMIT,
                **_fixed_moon(),
                **options,
            )
        else:
            self._task = env_id.split("/", 1)[1]
            gym_id = minihack_tasks()[self._task]
            _boxoban_check(self._task)
            options = {**MINIHACK_DEFAULTS, **game_options}
            gymnasium = _gym_and_nle()
            with _quiet_imports(), self._level_random():
                wrapped = gymnasium.make(
                    gym_id,
                    observation_keys=OBSERVATION_KEYS,  # no crops: MiniHack computes them per step
                    max_episode_steps=_NO_LIMIT,
                    **_fixed_moon(),
                    **options,
                )
            self._env = wrapped.unwrapped
            levels = getattr(self._env, "_levels", None)
            if isinstance(levels, list):
                levels.sort()  # Boxoban lists level files in directory order, which varies
        env = self._env
        if _balrog_nle():
            env.step = _four_to_five(env.step)
        names = key_names()
        own: list[int] = []
        for action in env.actions:
            if int(action) not in own:
                own.append(int(action))
        extra = [k for k in (*range(32, 127), _MORE, _ESC) if k not in own]
        env.actions = tuple(own) + tuple(extra)  # extra keys answer prompts; see _resolve_extra
        self._index = {key: i for i, key in enumerate(env.actions)}
        self._name_key: dict[str, int | None] = {names.get(k, chr(k)): k for k in own}
        self._vocabulary = ActionVocabulary(list(self._name_key), aliases())
        if action_set == "balrog":  # BALROG's names, matched exactly, and their keys
            from ._balrog_nle import minihack_actions, nethack_actions

            if self.family == "nethack":
                self._name_key = nethack_actions(set(env.actions))
            else:
                self._name_key = dict(minihack_actions(own))
            self._vocabulary = ActionVocabulary(list(self._name_key), strict=True)
        keys = list(env._observation_keys)
        self._keys = {name: keys.index(name) for name in OBSERVATION_KEYS}
        self._i_tty = keys.index("tty_chars")
        self._i_message = keys.index("message")
        self._i_internal = keys.index("internal")
        self._i_blstats = keys.index("blstats")
        from ._nle_view import NleView  # numpy: only once the game is known present

        self._view = NleView(
            keys, show_map=show_map, map_radius=map_radius, show_inventory=show_inventory
        )
        self._waiting = False  # the game is asking a question or showing a menu
        self._typing = False  # ... and the question wants a line of text
        self._success = False
        self._blstats: list[int] = []
        self._bl_raw = b""  # the last bottom line read, as bytes and list
        self._bl_list: list[int] = []
        self._raw_message = b""
        self._progress_facts, self._progress = (-1, -1), 0.0
        self._tty, self._more = b"", -1
        self._menu_at: int | None = -1
        self._menu: list[str] = []
        self._message = ""
        from nle import nethack

        self._bl_time, self._bl_depth = nethack.NLE_BL_TIME, nethack.NLE_BL_DEPTH
        self._bl_xp = nethack.NLE_BL_XP

    # --- TextEnv -----------------------------------------------------------------------------
    @property
    def vocabulary(self) -> ActionVocabulary:
        return self._vocabulary

    @property
    def default_action(self) -> str:
        # BALROG's fallbacks: "north" for MiniHack, "esc" for NetHack.
        return "north" if self.family == "minihack" else "esc"

    @property
    def instructions(self) -> str:
        if self.family == "nethack":
            intro = NETHACK_GOAL
        else:
            goal = next(
                (g for prefix, g in TASK_GOALS.items() if self._task.startswith(prefix)),
                "reach the staircase down (>)",
            )
            intro = (
                f"You play the MiniHack task {self._task} (a small NetHack level). Goal: {goal}."
            )
        described = [
            f"{name}: {DESCRIPTIONS[name]}" if name in DESCRIPTIONS else name
            for name in self._vocabulary.names
        ]
        return (
            f"{intro}\nThe map uses NetHack symbols: @ you, > stairs down, < stairs up, "
            ". floor, # corridor, | and - walls, + door or spellbook, letters are monsters.\n"
            "Directions: north is up on the map; diagonal moves are allowed unless the task "
            "limits you to the listed actions.\nWhen the game asks a question or shows a menu, "
            'answer with a single key: an item letter, a digit, "y"/"n", or "esc".\n'
            "Actions: " + "; ".join(described) + "."
        )

    def _resolve_extra(self, text: str) -> str | None:
        if not self._waiting:
            return None
        stripped = text.strip()
        if len(stripped) == 1 and ord(stripped) in self._index:
            return stripped
        answer = _ANSWERS.get(stripped.lower())
        if answer is None and self._typing:
            # The game wants a line of text (engrave, call, wish): type it, then Enter.
            line = stripped[5:] if stripped.lower().startswith("type ") else stripped
            if line and all(ord(c) in self._index for c in line):
                return _TYPE + line[:_MAX_LINE]
        return answer

    def _reset_game(self) -> Observation:
        env = self._env
        env.seed(self.seed, self.seed, reseed=False)  # core and display RNGs, never reseeded
        with self._level_random():
            env.reset()
        self._success = False
        if self.observation_format == "balrog":  # BALROG continues --More-- only after steps
            observation, _, _, _ = self._settle_balrog(0.0, False, {}, auto_more=False)
            return observation
        observation, _, _, _ = self._settle(0.0, False, {})
        return observation

    def _raw_step(self, key: int) -> tuple[float, bool, dict[str, Any], bool]:
        """Send one key: (reward, game over, info, episode limit reached)."""
        _, gained, terminated, truncated, info = self._env.step(self._index[key])
        clock = None
        if self.no_progress_steps is not None:
            clock = int(self._env.last_observation[self._i_blstats][self._bl_time])
        limit = self._count_game_step(clock)
        return float(gained), bool(terminated or truncated), info, limit

    def _step_game(self, action: str) -> GameStep:
        key = self._name_key.get(action)  # no name starts with "type ", so this test comes first
        if key is None and action in self._name_key:
            raise EnvError(
                f"BALROG's NetHack action space lists {action!r} but its wrapper maps it to no "
                "key, so BALROG ends the episode with an error; this run does the same"
            )
        if key is not None or not action.startswith(_TYPE):
            if key is None:
                key = ord(action)  # a raw key for a prompt
            # _raw_step inlined: this is the per-step hot path.
            _, gained, terminated, truncated, info = self._env.step(self._index[key])
            over = bool(terminated or truncated)
            clock = None
            if self.no_progress_steps is not None:
                clock = int(self._env.last_observation[self._i_blstats][self._bl_time])
            self._count_game_step(clock)
            reward = 0.0 + float(gained)  # 0.0 + : as the multi-key sum (no -0.0)
        else:
            reward, over, info = 0.0, False, {}
            for key in [ord(c) for c in action[len(_TYPE) :]] + [_MORE]:
                gained, over, info, limit = self._raw_step(key)
                reward += gained
                if over or limit:
                    break
        if self.observation_format == "balrog":
            observation, reward, done, info = self._settle_balrog(reward, over, info)
        else:
            observation, reward, done, info = self._settle(reward, over, info)
        if reward >= 1.0:
            self._success = True
        end_status = info.get("end_status")
        return GameStep(
            observation=observation,
            reward=reward,
            terminated=done,
            info={"end_status": int(end_status)} if end_status is not None else {},
        )

    def _progression(self) -> float:
        if self._minihack:
            return 1.0 if self._success else 0.0
        b = self._blstats
        facts = (b[self._bl_depth], b[self._bl_xp])
        if facts != self._progress_facts:  # they change a few times a game, not per step
            self._progress_facts = facts
            self._progress = nethack_progression(*facts)
        return self._progress

    def _observe_state(self, stats: EpisodeStats) -> float:
        # _update_stats and _progression in one pass over the bottom line (once per step).
        b = self._blstats
        depth = b[self._bl_depth]
        if depth > 0:  # the bottom line reads all zeros once the game is over
            stats.depth = depth
            xp = stats.experience_level = b[self._bl_xp]
        if self._minihack:
            success = self._success
            if success != bool(stats.achievements):
                stats.achievements = ["success"] if success else []
            return 1.0 if success else 0.0
        if depth > 0:
            facts = (depth, xp)
        else:
            facts = (depth, b[self._bl_xp])
        if facts != self._progress_facts:  # they change a few times a game, not per step
            self._progress_facts = facts
            self._progress = nethack_progression(*facts)
        return self._progress

    def _update_stats(self, stats: EpisodeStats) -> None:
        b = self._blstats
        depth = b[self._bl_depth]
        if depth > 0:  # the bottom line reads all zeros once the game is over
            stats.depth = depth
            stats.experience_level = b[self._bl_xp]
        if self._minihack and self._success != bool(stats.achievements):
            stats.achievements = ["success"] if self._success else []

    def _close_game(self) -> None:
        self._env.close()

    # --- internals ---------------------------------------------------------------------------
    def _level_random(self) -> contextlib.AbstractContextManager[None]:
        # Only Boxoban draws its level from Python's `random`; leave it alone for the rest.
        if self._task.startswith("Boxoban"):
            return _seeded_python_random(self.seed)
        return contextlib.nullcontext()

    def _settle(
        self, reward: float, done: bool, info: dict[str, Any]
    ) -> tuple[Observation, float, bool, dict[str, Any]]:
        """Continue --More-- (collecting the text), detect questions and menus, and observe."""
        env = self._env
        parts: list[str] = []
        obs = env.last_observation
        tty = obs[self._i_tty].tobytes()
        if tty != self._tty:
            self._read_screen(tty)
        continued = 0
        while self._more >= 0 and not done and continued < _MAX_MORE and self._limit is None:
            parts.extend(_window_text(tty, self._more))
            extra, done, info, _ = self._raw_step(_MORE)
            reward += extra
            obs = env.last_observation
            tty = obs[self._i_tty].tobytes()
            if tty != self._tty:
                self._read_screen(tty)
            continued += 1
        raw_message = obs[self._i_message].tobytes()
        if raw_message != self._raw_message:  # messages repeat (or stay empty) between steps
            self._raw_message = raw_message
            self._message = raw_message.split(b"\0", 1)[0].decode("latin-1").strip()
        current = self._message
        internal = obs[self._i_internal].tolist()
        yn, getlin = internal[1], internal[2]
        prompt = current if current and (yn or getlin) else None
        screen: list[str] = []
        if not done and self._menu_at is None:
            self._read_menu(tty)
        if not done and self._menu_at is not None and self._menu_at >= 0:
            screen = self._menu
            prompt = prompt or 'A menu is open: choose with its letters, confirm with "more".'
        if current and current != prompt and current not in parts:
            parts.append(current)
        self._waiting = prompt is not None
        self._typing = bool(getlin)
        raw_bl = obs[self._i_blstats].tobytes()
        if raw_bl != self._bl_raw:  # the bottom line stays put in menus and prompts
            self._bl_raw, self._bl_list = raw_bl, obs[self._i_blstats].tolist()
        blstats = self._bl_list
        if done and not blstats[self._bl_depth]:
            # Over: NLE has cleared the map and bottom line, so keep the last view's facts.
            return self._game_over(parts, info), reward, done, info
        self._blstats = blstats
        observation = self._view.observe(
            obs,
            blstats,
            message=" ".join(parts) if parts else "",
            prompt=prompt,
            screen=screen,
            typing=self._typing,
        )
        return observation, reward, done, info

    def _settle_balrog(
        self, reward: float, done: bool, info: dict[str, Any], *, auto_more: bool = True
    ) -> tuple[Observation, float, bool, dict[str, Any]]:
        """BALROG's step: continue --More-- while its message shows one, then its text."""
        from ._balrog_nle import hybrid_text, text_message

        obs = self._env.last_observation
        k = self._keys
        message = text_message(obs[k["tty_chars"]])
        while auto_more and "--More--" in message and not done and self._limit is None:
            message = message.replace("--More--", "\n")
            extra, done, info, _ = self._raw_step(_MORE)
            reward += extra
            obs = self._env.last_observation
            message += text_message(obs[k["tty_chars"]])
        blstats = obs[k["blstats"]].tolist()
        self._bl_list = self._blstats = blstats
        internal = obs[self._i_internal].tolist()
        self._waiting = bool(internal[1] or internal[2])
        self._typing = bool(internal[2])
        long_term, short_term = hybrid_text(
            message,
            obs[k["glyphs"]],
            obs[k["blstats"]],
            obs[k["tty_chars"]],
            obs[k["tty_cursor"]],
            (obs[k["inv_strs"]], obs[k["inv_letters"]]),
        )
        self._balrog_parts = (short_term, long_term)
        # The terminal's rows 1..21 are the map's rows 0..20, column for column.
        screen = obs[k["tty_chars"]][1:22].tobytes().decode("latin-1")
        observation = Observation(
            text=f"{short_term}\n{long_term}",
            message=message,
            position=(int(blstats[0]), int(blstats[1])),
            grid=[screen[o : o + 80].rstrip() for o in range(0, len(screen), 80)],
            grid_origin=(0, 0),
            prompt=message if self._waiting else None,
        )
        return observation, reward, done, info

    def _read_screen(self, tty: bytes) -> None:
        """Find --More-- (and later, on demand, a menu) on a screen unlike the last one read.

        Screens repeat (a menu or a prompt stays up while keys are tried), so the searches and
        the menu text are kept with the screen they came from.
        """
        self._tty = tty
        # A one-byte find runs at memchr speed; the screen rarely holds an "M" at all.
        m = tty.find(b"M")
        self._more = tty.find(b"--More--", max(m - 2, 0)) if m >= 0 else -1
        self._menu_at = None  # looked for only on the screen a step ends with

    def _read_menu(self, tty: bytes) -> None:
        menu = _MENU.search(tty)
        self._menu_at = menu.start() if menu else -1
        self._menu = _window_text(tty, self._menu_at) if menu else []

    def _game_over(self, parts: list[str], info: dict[str, Any]) -> Observation:
        last = self._observation
        how = {1: "You died.", 2: "Task complete."}.get(int(info.get("end_status", 0)), "")
        message = " ".join([*parts, how]).strip()
        lines = [f"Message: {message}"] if message else []
        lines.append("The game is over.")
        if last is None:
            return Observation(text="\n".join(lines), message=message)
        return msgspec.structs.replace(last, text="\n".join(lines), message=message, prompt=None)


def _window_text(tty: bytes, at: int) -> list[str]:
    """The text of the message line or window that ends at byte offset `at` of the terminal."""
    row, col = divmod(at, 80)
    if row == 0:
        line = tty[:col].decode("latin-1").strip()
        return [line] if line else []
    text = tty[: row * 80].decode("latin-1")
    width = 80 - col
    return [line for o in range(col, row * 80, 80) if (line := text[o : o + width].strip())]
