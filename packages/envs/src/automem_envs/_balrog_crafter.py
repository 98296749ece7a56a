"""Crafter's observation text in BALROG's words (its language wrapper's default settings).

BALROG describes a 9x7 window around the player: every kind of thing in view with the
distance and direction of its nearest tile (grass, sand and path included), what the player
faces, the status and the inventory. This module rebuilds that text from the world state,
with the same window, the same tie-breaking and the same edge behaviour near the world's
border, so an agent sees what BALROG's agent sees.
"""

from __future__ import annotations

from typing import Any

import numpy as np

VITALS = ("health", "food", "drink", "energy")
# BALROG's 9x9 Crafter view (its config): a 9-wide, 7-high window of the world is described.
BALROG_VIEW = (9, 9)
# Crafter's semantic ids: 0 (no material), the materials, then these object kinds in order.
_OBJECT_KINDS = ("Player", "Cow", "Zombie", "Skeleton", "Arrow", "Plant")


class BalrogCrafterText:
    """Builds BALROG's (long-term, short-term) observation text for one Crafter world."""

    def __init__(self, world: Any) -> None:
        self._world = world
        self._names: list[str] = [
            "None" if m is None else str(m) for m in sorted(world._mat_ids, key=world._mat_ids.get)
        ]
        self._names.extend(kind.lower() for kind in _OBJECT_KINDS)
        base = len(world._mat_ids)
        self._kind_ids: dict[type, int] = {}
        self._base = base
        self._player_id = base

    def _object_id(self, obj: Any) -> int:
        cls = type(obj)
        found = self._kind_ids.get(cls)
        if found is None:
            for klass in cls.__mro__:  # our faster player subclasses Crafter's
                if klass.__name__ in _OBJECT_KINDS:
                    found = self._base + _OBJECT_KINDS.index(klass.__name__)
                    break
            else:
                raise KeyError(f"unknown Crafter object {cls.__name__}")
            self._kind_ids[cls] = found
        return found

    def semantic(self) -> np.ndarray:
        """The world's semantic map (material ids, objects drawn over them), as Crafter's."""
        canvas = self._world._mat_map.copy()
        for obj in self._world.objects:
            canvas[obj.pos[0], obj.pos[1]] = self._object_id(obj)
        return canvas

    def texts(self, player: Any) -> tuple[str, str]:
        """(long-term context, short-term context) exactly as BALROG's Crafter wrapper."""
        inventory = player.inventory
        try:
            long_term = self._frame(player)
        except Exception:  # BALROG's wrapper says this when the window leaves the world
            long_term = "Error, you are out of the map."
        return long_term, _inventory_text(inventory)

    def _frame(self, player: Any) -> str:
        if player.sleeping:
            status = "You are sleeping, and will not be able take actions until energy is full.\n\n"
        elif player.health <= 0:
            status = "You died.\n\n"
        else:
            status = ""
        return (status + "\n\n" + self._describe(player) + "\n\n").strip()

    def _describe(self, player: Any) -> str:
        semantic = self.semantic()
        px, py = int(player.pos[0]), int(player.pos[1])
        if semantic[px, py] != self._player_id:
            raise ValueError("the player is not where the world says")
        vx, vy = BALROG_VIEW
        # The same slice bounds as BALROG (numpy semantics, negative starts included).
        window = semantic[px - vx // 2 : px + vx // 2 + 1, py - vy // 2 + 1 : py + vy // 2]
        cx, cy = vx // 2, vy // 2 - 1
        width, height = window.shape
        fx, fy = int(player.facing[0]), int(player.facing[1])
        tx, ty = cx + fx, cy + fy
        if 0 <= tx < width and 0 <= ty < height:
            facing = f"You face {self._names[window[tx, ty]]} at your front."
        else:
            facing = "You face nothing at your front."
        nearest: dict[str, tuple[int, str]] = {}
        for i in range(width):
            column = window[i]
            for j in range(height):
                idx = int(column[j])
                if idx == self._player_id:
                    continue
                name = self._names[idx]
                dx, dy = i - cx, j - cy
                distance = abs(dy) + abs(dx)
                if name not in nearest or distance < nearest[name][0]:
                    nearest[name] = (distance, _where(dx, dy, distance))
        if nearest:
            seen = "You see:\n" + "\n".join(f"- {n} {w}" for n, (_, w) in nearest.items())
        else:
            seen = "You see nothing away from you."
        return (seen + "\n\n" + facing).strip()


def _where(dx: int, dy: int, distance: int) -> str:
    parts = []
    if dy < 0:
        parts.append("north")
    elif dy > 0:
        parts.append("south")
    if dx < 0:
        parts.append("west")
    elif dx > 0:
        parts.append("east")
    return f"{distance} step{'s' if distance > 1 else ''} to your {'-'.join(parts)}"


def _inventory_text(inventory: dict[str, int]) -> str:
    status = "Your status:\n" + "\n".join(f"- {v}: {inventory[v]}/9" for v in VITALS)
    items = "\n".join(f"- {k}: {n}" for k, n in inventory.items() if k not in VITALS and n != 0)
    held = f"Your inventory:\n{items}" if items else "You have nothing in your inventory."
    return (status + "\n\n" + held).strip()
