"""Crafter's text view, computed from the world state (no image is ever rendered)."""

from __future__ import annotations

from typing import Any

import numpy as np

# One character per material id (index = Crafter's material id; 0 is "unknown").
MATERIAL_CHARS = {
    None: " ",
    "water": "~",
    "grass": ".",
    "stone": "#",
    "path": "_",
    "sand": ":",
    "tree": "T",
    "lava": "%",
    "coal": "c",
    "iron": "i",
    "diamond": "d",
    "table": "t",
    "furnace": "f",
}
OBJECT_CHARS = {
    "Player": "@",
    "Cow": "C",
    "Zombie": "Z",
    "Skeleton": "S",
    "Arrow": "*",
    "Plant": "p",
    "Fence": "F",
}
MAP_LEGEND = (
    "Map legend: @ you, . grass, : sand, _ path, ~ water, % lava, # stone, T tree, "
    "c coal, i iron, d diamond, t table, f furnace, C cow, Z zombie, S skeleton, * arrow, "
    "p sapling (P ripe)."
)
# Ground that is everywhere and walkable: leaving it out keeps the text short.
_BORING = frozenset({"grass", "sand", "path"})
_FACING = {(-1, 0): "west", (1, 0): "east", (0, -1): "north", (0, 1): "south"}


def offset_words(dx: int, dy: int) -> str:
    """`dx, dy` (east and south positive) as words, e.g. "2 north and 1 east"."""
    parts = []
    if dy:
        parts.append(f"{abs(dy)} {'north' if dy < 0 else 'south'}")
    if dx:
        parts.append(f"{abs(dx)} {'west' if dx < 0 else 'east'}")
    return " and ".join(parts) if parts else "here"


_KINDS: dict[type, str] = {}


def _kind(obj: Any) -> str:
    """Crafter's class name for `obj` (subclasses, like our faster player, map to their base)."""
    cls = type(obj)
    kind = _KINDS.get(cls)
    if kind is None:
        kind = next((c.__name__ for c in cls.__mro__ if c.__name__ in OBJECT_CHARS), cls.__name__)
        _KINDS[cls] = kind
    return kind


def _object_name(obj: Any) -> str:
    kind = _kind(obj)
    if kind == "Plant":
        return "ripe plant" if obj.ripe else "sapling"
    return kind.lower()


class CrafterView:
    """Builds the observation parts for one Crafter world; `view` is (width, height) in tiles."""

    def __init__(self, world: Any, view: tuple[int, int] = (9, 7)) -> None:
        self.world = world
        self.legend = MAP_LEGEND
        self.half = (view[0] // 2, view[1] // 2)
        names = world._mat_names
        size = max(names) + 1
        self._names = [names.get(i) for i in range(size)]
        self._chars = np.array([MATERIAL_CHARS.get(n, "?") for n in self._names], dtype="<U1")
        self._boring_ids = frozenset(
            i for i, n in enumerate(self._names) if n in _BORING or n is None
        )

    def window(self, pos: np.ndarray) -> tuple[int, int, int, int]:
        """The visible rectangle [x0, x1) x [y0, y1), clipped to the world."""
        (hx, hy), (w, h) = self.half, self.world.area
        x, y = int(pos[0]), int(pos[1])
        return max(0, x - hx), min(w, x + hx + 1), max(0, y - hy), min(h, y + hy + 1)

    def nearby(self, player: Any) -> list[tuple[int, str, str]]:
        """(distance, name, where) of the nearest thing of each kind in view, nearest first."""
        px, py = int(player.pos[0]), int(player.pos[1])
        x0, x1, y0, y1 = self.window(player.pos)
        world = self.world
        names, boring = self._names, self._boring_ids
        found: dict[str, tuple[int, int, int]] = {}
        # ~63 tiles: plain Python over a list beats a handful of numpy calls per material.
        for i, column in enumerate(world._mat_map[x0:x1, y0:y1].tolist()):
            dx = x0 + i - px
            for j, mid in enumerate(column):
                if mid in boring:
                    continue
                dy = y0 + j - py
                d = abs(dx) + abs(dy)
                name = names[mid]
                best = found.get(name)
                if best is None or d < best[0]:
                    found[name] = (d, dx, dy)
        for obj, ox, oy in self._visible_objects(x0, x1, y0, y1):
            if obj is player:
                continue
            dx, dy = ox - px, oy - py
            d = abs(dx) + abs(dy)
            name = _object_name(obj)
            if name not in found or d < found[name][0]:
                found[name] = (d, dx, dy)
        ranked = sorted((d, name, offset_words(dx, dy)) for name, (d, dx, dy) in found.items())
        return ranked

    def _visible_objects(self, x0: int, x1: int, y0: int, y1: int) -> list[tuple[Any, int, int]]:
        # The object map holds an index per tile, so only visible tiles are looked at.
        indices = self.world._obj_map[x0:x1, y0:y1]
        xs, ys = np.nonzero(indices)
        objects = self.world._objects
        return [
            (objects[i], x0 + x, y0 + y)
            for i, x, y in zip(indices[xs, ys].tolist(), xs.tolist(), ys.tolist(), strict=True)
            if objects[i] is not None
        ]

    def facing(self, player: Any) -> tuple[str, str]:
        """(thing, direction) the player faces; creatures beat materials."""
        fx, fy = int(player.facing[0]), int(player.facing[1])
        material, obj = self.world[(int(player.pos[0]) + fx, int(player.pos[1]) + fy)]
        direction = _FACING.get((fx, fy), "?")
        if obj is not None:
            return _object_name(obj), direction
        return (material or "the edge of the world"), direction

    def grid(self, player: Any) -> list[str]:
        """The visible window as rows of characters, north at the top; `@` is the player."""
        x0, x1, y0, y1 = self.window(player.pos)
        chars = self._chars[self.world._mat_map[x0:x1, y0:y1]].T.copy()
        for obj, ox, oy in self._visible_objects(x0, x1, y0, y1):
            kind = _kind(obj)
            char = OBJECT_CHARS.get(kind, "?")
            if kind == "Plant" and obj.ripe:
                char = "P"
            chars[oy - y0, ox - x0] = char
        return ["".join(row) for row in chars.tolist()]
