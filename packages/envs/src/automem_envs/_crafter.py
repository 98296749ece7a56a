"""Crafter as a text game: readable action names, a rendered-free text view, BALROG progression."""

from __future__ import annotations

import collections
from functools import cache
from typing import Any

from ._actions import ActionVocabulary
from ._base import GameStep, TextEnv
from ._errors import EnvError, GameNotInstalled
from ._types import EpisodeStats, Observation

# Crafter's 17 actions in its own order, with readable names (BALROG's, lower-cased).
ACTION_NAMES = (
    "noop",
    "move west",
    "move east",
    "move north",
    "move south",
    "do",
    "sleep",
    "place stone",
    "place table",
    "place furnace",
    "place plant",
    "make wood pickaxe",
    "make stone pickaxe",
    "make iron pickaxe",
    "make wood sword",
    "make stone sword",
    "make iron sword",
)
ACHIEVEMENT_COUNT = 22  # BALROG divides by all 22 Crafter achievements
VITALS = ("health", "food", "drink", "energy")


def _aliases() -> dict[str, str]:
    aliases = {
        "nothing": "noop",
        "no op": "noop",
        "wait": "noop",
        "idle": "noop",
        "stay": "noop",
        "interact": "do",
        "attack": "do",
        "collect": "do",
        "mine": "do",
        "chop": "do",
        "hit": "do",
        "use": "do",
        "drink": "do",
        "eat": "do",
        "rest": "sleep",
        "place crafting table": "place table",
        "craft table": "place table",
        "build table": "place table",
        "make table": "place table",
        "place sapling": "place plant",
        "plant": "place plant",
        "plant sapling": "place plant",
        "build furnace": "place furnace",
        "make furnace": "place furnace",
    }
    for direction, old in (("west", "left"), ("east", "right"), ("north", "up"), ("south", "down")):
        for phrase in (direction, old, f"move {old}", f"go {direction}", f"walk {direction}"):
            aliases[phrase] = f"move {direction}"
    for material in ("wood", "stone", "iron"):
        for tool in ("pickaxe", "sword"):
            name = f"make {material} {tool}"
            wooden = "wooden" if material == "wood" else material
            for phrase in (
                f"craft {material} {tool}",
                f"make {wooden} {tool}",
                f"{material} {tool}",
            ):
                aliases[phrase] = name
            aliases[f"craft {wooden} {tool}"] = name
    return aliases


VOCABULARY = ActionVocabulary(ACTION_NAMES, _aliases())
# BALROG's names for the same 17 actions, in the same order; matched exactly, as BALROG does.
BALROG_ACTION_NAMES = tuple(name.title() for name in ACTION_NAMES)
BALROG_VOCABULARY = ActionVocabulary(BALROG_ACTION_NAMES, strict=True)
_ACTION_INDEX = {
    **{name: i for i, name in enumerate(ACTION_NAMES)},
    **{name: i for i, name in enumerate(BALROG_ACTION_NAMES)},
}

INSTRUCTIONS = """\
You play Crafter, a 2D survival game on a 64x64 grid world. Each step you take one action.
Goal: unlock as many of the 22 achievements as you can: {achievements}.
Rules:
- "do" acts on the tile you face: collect a material, drink water, attack or eat a creature.
  You face the direction you last moved; moving into an obstacle only turns you.
- Collecting: {collect}.
- Placing (on the tile you face): {place}.
- Making (needs the listed stations within 1 tile): {make}.
- Health, food, drink and energy go from 0 to 9. Eat (cows, ripe plants), drink (water) and
  sleep to refill them; while one of them is 0 you lose health. At 0 health you die.
- Zombies appear on grass, more at night; skeletons shoot arrows in dark tunnels; lava kills.
Actions: {actions}."""


def _rules() -> dict[str, str]:
    """Recipes read from the installed Crafter's own data, so the text matches the game."""
    from crafter import constants

    def amounts(table: dict[str, int]) -> str:
        return " and ".join(f"{n} {k.replace('_', ' ')}" for k, n in table.items()) or "nothing"

    collect = []
    for material, rule in constants.collect.items():
        text = f"{material} gives {amounts(rule['receive'])}"
        if rule["require"]:
            text += f" with {amounts(rule['require'])}"
        if "probability" in rule:
            text += f" ({rule['probability']:.0%} of the time)"
        if rule["leaves"] != material:
            text += f" and becomes {rule['leaves']}"
        collect.append(text)
    place = [f"{name} uses {amounts(rule['uses'])}" for name, rule in constants.place.items()]
    make = [
        f"{name.replace('_', ' ')} uses {amounts(rule['uses'])} near {' and '.join(rule['nearby'])}"
        for name, rule in constants.make.items()
    ]
    return {
        "achievements": ", ".join(a.replace("_", " ") for a in constants.achievements),
        "collect": "; ".join(collect),
        "place": "; ".join(place),
        "make": "; ".join(make),
    }


@cache
def _crafter_class() -> type:
    try:
        import crafter
    except ImportError as error:  # numpy, crafter or its image libraries missing
        raise GameNotInstalled("Crafter", "crafter", error) from error

    class _OrderedWorld(crafter.engine.World):
        """Crafter's world with insertion-ordered chunk sets.

        Crafter keeps each chunk's creatures in a `set`, ordered by memory address, and picks
        the creature to despawn by index into it, so games differed between processes.
        """

        def reset(self, seed: int | None = None) -> None:
            super().reset(seed)
            self._chunks: collections.defaultdict[Any, _OrderedSet] = collections.defaultdict(
                _OrderedSet
            )

    class _Player(crafter.objects.Player):
        """Crafter's player with a plain-int `distance` (same values, no numpy per call).

        Crafter asks the player's distance to every creature on every step; with numpy that
        was a third of the step time.
        """

        def distance(self, target: Any) -> int:
            if hasattr(target, "pos"):
                target = target.pos
            x, y = self.pos.tolist()
            tx, ty = target.tolist() if hasattr(target, "tolist") else target
            return abs(tx - x) + abs(ty - y)

    class _UnrenderedCrafter(crafter.Env):
        """Crafter without the per-step image and semantic map (we read the world directly)."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._world.__class__ = _OrderedWorld
            self._sem_view = _no_image
            # Crafter evaluates `max(self._view)` once per creature per step; on a numpy array
            # that costs more than the creature's update. Only rendering (never done here)
            # needs the array.
            self._view: tuple[int, ...] = tuple(int(v) for v in self._view)

        def reset(self) -> None:
            super().reset()
            self._player.__class__ = _Player

        def _obs(self) -> None:
            return None

    return _UnrenderedCrafter


def _no_image() -> None:
    return None


class _OrderedSet(dict[Any, None]):
    """The part of `set` Crafter's chunks use, iterating in insertion order."""

    def add(self, item: Any) -> None:
        self[item] = None

    def remove(self, item: Any) -> None:
        del self[item]


class CrafterEnv(TextEnv):
    """Crafter (https://github.com/danijar/crafter) with a compact text view.

    Options: `view=(9, 7)` visible tiles (Crafter's own image shows 9x7), `show_map=False`
    to append the character grid to the text, `area=(64, 64)` world size.
    """

    family = "crafter"

    def __init__(
        self,
        env_id: str,
        *,
        seed: int,
        max_steps: int,
        no_progress_steps: int | None,
        observation_format: str = "compact",
        action_set: str = "automem",
        view: tuple[int, int] = (9, 7),
        show_map: bool = False,
        area: tuple[int, int] = (64, 64),
    ) -> None:
        super().__init__(
            env_id,
            seed=seed,
            max_steps=max_steps,
            no_progress_steps=no_progress_steps,
            observation_format=observation_format,
            action_set=action_set,
        )
        try:
            view = (int(view[0]), int(view[1]))
        except (TypeError, ValueError, IndexError) as error:
            raise EnvError(f"view must be (width, height), got {view!r}") from error
        if min(view) < 1:
            raise EnvError(f"view must be at least 1x1 tiles, got {view!r}")
        # length=None: the episode limits are ours, not Crafter's 10000-step default.
        self._env = _crafter_class()(area=tuple(area), seed=seed, length=None)
        from ._crafter_view import CrafterView  # numpy: only once the game is known present

        self._view = CrafterView(self._env._world, view)
        self._show_map = bool(show_map)
        self._last_inventory: dict[str, int] = {}
        self._balrog_text = None
        if observation_format == "balrog":
            from ._balrog_crafter import BalrogCrafterText

            self._balrog_text = BalrogCrafterText(self._env._world)

    @property
    def vocabulary(self) -> ActionVocabulary:
        return BALROG_VOCABULARY if self.action_set == "balrog" else VOCABULARY

    @property
    def default_action(self) -> str:
        return "Noop" if self.action_set == "balrog" else "noop"

    @property
    def instructions(self) -> str:
        return INSTRUCTIONS.format(actions=", ".join(self.vocabulary.names), **_rules())

    def _reset_game(self) -> Observation:
        # Crafter derives each world from (seed, episode number); pinning the episode number
        # makes every reset replay the same world.
        self._env._episode = 0
        self._env.reset()
        if self._balrog_text is not None:
            # BALROG's Crafter wrapper takes one noop before its first observation; it is not
            # one of the episode's steps.
            self._env.step(0)
        self._last_inventory = dict(self._env._player.inventory)
        return self._observe("You wake up in a new world.")

    def _step_game(self, action: str) -> GameStep:
        env = self._env
        before = {k for k, v in env._player.achievements.items() if v > 0}
        _, reward, dead, _ = env.step(_ACTION_INDEX[action])
        self._count_game_step()
        player = env._player
        events = []
        unlocked = sorted(k for k, v in player.achievements.items() if v > 0 and k not in before)
        if unlocked:
            events.append(
                "Achievement unlocked: " + ", ".join(u.replace("_", " ") for u in unlocked) + "."
            )
        inventory = player.inventory
        lost = self._last_inventory.get("health", 0) - inventory["health"]
        if lost > 0:
            events.append(f"You lost {lost} health.")
        gained = [
            f"{name.replace('_', ' ')} +{inventory[name] - old}"
            for name, old in self._last_inventory.items()
            if name not in VITALS and inventory.get(name, 0) > old
        ]
        if gained:
            events.append("Got " + ", ".join(gained) + ".")
        if dead:
            events.append("You died.")
        self._last_inventory = dict(inventory)
        return GameStep(
            observation=self._observe(" ".join(events)),
            reward=float(reward),
            terminated=bool(dead),
            info={"achievements_unlocked": unlocked},
        )

    def _progression(self) -> float:
        unlocked = sum(1 for v in self._env._player.achievements.values() if v > 0)
        return unlocked / ACHIEVEMENT_COUNT

    def _update_stats(self, stats: EpisodeStats) -> None:
        stats.achievements = sorted(k for k, v in self._env._player.achievements.items() if v > 0)

    def _observe(self, message: str) -> Observation:
        player = self._env._player
        inventory = player.inventory
        view = self._view
        if self._balrog_text is not None:
            long_term, short_term = self._balrog_text.texts(player)
            self._balrog_parts = (short_term, long_term)
            return Observation(
                text=f"{short_term}\n{long_term}",
                message=message,
                position=(int(player.pos[0]), int(player.pos[1])),
                status={name: int(inventory[name]) for name in VITALS},
                inventory={k: int(v) for k, v in inventory.items() if k not in VITALS and v > 0},
            )
        vitals = ", ".join(f"{name} {inventory[name]}/9" for name in VITALS)
        extras = []
        if player.sleeping:
            extras.append("You are asleep.")
        daylight = float(self._env._world.daylight)
        if daylight < 0.35:
            extras.append("It is night.")
        thing, direction = view.facing(player)
        items = {k: int(v) for k, v in inventory.items() if k not in VITALS and v > 0}
        lines = []
        if message:
            lines.append(message)
        lines.append(f"Status: {vitals}." + ("".join(" " + e for e in extras)))
        lines.append(f"You face {thing} ({direction}).")
        seen = view.nearby(player)
        if seen:
            lines.append(
                "You see: " + "; ".join(f"{name} {where}" for _, name, where in seen) + "."
            )
        else:
            lines.append("You see only grass, sand and paths.")
        if items:
            lines.append(
                "Inventory: "
                + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in items.items())
                + "."
            )
        else:
            lines.append("Inventory: empty.")
        grid = view.grid(player)
        if self._show_map:
            lines.append(self._view.legend)
            lines.extend(grid)
        status: dict[str, Any] = {name: int(inventory[name]) for name in VITALS}
        status["sleeping"] = bool(player.sleeping)
        status["daylight"] = round(daylight, 3)
        status["facing"] = direction
        return Observation(
            text="\n".join(lines),
            message=message,
            position=(int(player.pos[0]), int(player.pos[1])),
            status=status,
            inventory=items,
            grid=grid,
        )
