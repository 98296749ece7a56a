"""The MiniHack/NetHack text view, built from NLE's observation arrays with numpy."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from ._nle_names import glyph_table
from ._types import Observation

HUNGER = ("satiated", "not hungry", "hungry", "weak", "fainting", "fainted", "starved")
ENCUMBRANCE = ("", "burdened", "stressed", "strained", "overtaxed", "overloaded")
ALIGNMENT = {-1: "chaotic", 0: "neutral", 1: "lawful"}
_CONDITIONS = (
    "STONE", "SLIME", "STRNGL", "FOODPOIS", "TERMILL", "BLIND", "DEAF",
    "STUN", "CONF", "HALLU", "LEV", "FLY", "RIDE",
)  # fmt: skip
_COUNT = re.compile(r"^(\d+) ")
_MAX_LISTED = 15


def _where(dx: int, dy: int) -> str:
    # NetHack moves diagonally, so a pure diagonal is one direction with a step count.
    ns = "north" if dy < 0 else "south"
    ew = "west" if dx < 0 else "east"
    if dx and abs(dx) == abs(dy):
        return f"{abs(dx)} {ns}{ew}"
    parts = []
    if dy:
        parts.append(f"{abs(dy)} {ns}")
    if dx:
        parts.append(f"{abs(dx)} {ew}")
    return " and ".join(parts) if parts else "here"


class NleView:
    """Turns one NLE observation (the env's raw tuple) into an `Observation`.

    `keys` are the env's observation keys, in the order of the tuple. Options: `show_map`
    (append the map), `map_radius` (None: the whole explored map cropped to its content; an int:
    only that many tiles around you), `show_inventory`.
    """

    def __init__(
        self,
        keys: list[str],
        *,
        show_map: bool = True,
        map_radius: int | None = None,
        show_inventory: bool = True,
    ) -> None:
        index = {key: i for i, key in enumerate(keys)}
        self._i_glyphs = index["glyphs"]
        self._i_chars = index["chars"]
        self._i_blstats = index["blstats"]
        self._i_inv_strs = index["inv_strs"]
        self._i_inv_letters = index["inv_letters"]
        self._i_cursor = index["tty_cursor"]
        self.show_map = show_map
        self.map_radius = map_radius
        self.show_inventory = show_inventory
        self._words, self._listed, self._rank = glyph_table()
        from nle import nethack

        self._nh = nethack
        self._condition_bits = [
            (getattr(nethack, f"BL_MASK_{name}"), name.lower()) for name in _CONDITIONS
        ]
        self._inv_key = b""
        self._inv: tuple[list[str], dict[str, int]] = ([], {})

    def status(self, blstats: np.ndarray) -> dict[str, Any]:
        """The bottom-line stats by name."""
        nh = self._nh
        b = blstats.tolist()
        condition = b[nh.NLE_BL_CONDITION]
        return {
            "x": b[nh.NLE_BL_X],
            "y": b[nh.NLE_BL_Y],
            "depth": b[nh.NLE_BL_DEPTH],
            "dungeon_level": b[nh.NLE_BL_DLEVEL],
            "hp": b[nh.NLE_BL_HP],
            "max_hp": b[nh.NLE_BL_HPMAX],
            "pw": b[nh.NLE_BL_ENE],
            "max_pw": b[nh.NLE_BL_ENEMAX],
            "ac": b[nh.NLE_BL_AC],
            "xp_level": b[nh.NLE_BL_XP],
            "xp_points": b[nh.NLE_BL_EXP],
            "time": b[nh.NLE_BL_TIME],
            "hunger": HUNGER[b[nh.NLE_BL_HUNGER]] if 0 <= b[nh.NLE_BL_HUNGER] < 7 else "?",
            "encumbrance": ENCUMBRANCE[b[nh.NLE_BL_CAP]] if 0 <= b[nh.NLE_BL_CAP] < 6 else "?",
            "gold": b[nh.NLE_BL_GOLD],
            "score": b[nh.NLE_BL_SCORE],
            "str": b[nh.NLE_BL_STR25],
            "dex": b[nh.NLE_BL_DEX],
            "con": b[nh.NLE_BL_CON],
            "int": b[nh.NLE_BL_INT],
            "wis": b[nh.NLE_BL_WIS],
            "cha": b[nh.NLE_BL_CHA],
            "alignment": ALIGNMENT.get(b[nh.NLE_BL_ALIGN], "?"),
            "conditions": [name for bit, name in self._condition_bits if condition & bit],
        }

    def inventory(self, strs: np.ndarray, letters: np.ndarray) -> tuple[list[str], dict[str, int]]:
        """Inventory lines ("a - a +1 long sword (weapon in hand)") and item -> count."""
        key = letters.tobytes() + strs.tobytes()
        if key == self._inv_key:  # the inventory rarely changes: reuse the decoded text
            return self._inv
        lines: list[str] = []
        counts: dict[str, int] = {}
        for letter, row in zip(letters.tolist(), strs, strict=False):
            if letter == 0:
                break
            text = row.tobytes().split(b"\0", 1)[0].decode("latin-1")
            line = f"{chr(letter)} - {text}"
            lines.append(line)
            found = _COUNT.match(text)
            counts[line] = int(found.group(1)) if found else 1
        self._inv_key, self._inv = key, (lines, counts)
        return self._inv

    def nearby(self, glyphs: np.ndarray, px: int, py: int) -> list[str]:
        """What is on the map in words, monsters first, then by distance; one entry per kind."""
        mask = self._listed[glyphs]
        if 0 <= py < mask.shape[0] and 0 <= px < mask.shape[1]:
            mask[py, px] = False  # that is you
        ys, xs = np.nonzero(mask)
        if not len(ys):
            return []
        found = glyphs[ys, xs]
        dist = np.maximum(np.abs(xs - px), np.abs(ys - py))
        order = np.lexsort((dist, self._rank[found]))
        words = self._words
        entries: dict[str, list[Any]] = {}
        for i in order.tolist():
            name = words[found[i]]
            entry = entries.get(name)
            if entry is None:
                if len(entries) >= _MAX_LISTED:
                    continue
                entries[name] = [int(xs[i]) - px, int(ys[i]) - py, 1]
            else:
                entry[2] += 1
        out = []
        for name, (dx, dy, count) in entries.items():
            more = f" ({count} in view)" if count > 1 else ""
            out.append(f"{name} {_where(dx, dy)}{more}")
        return out

    def map_rows(self, chars: np.ndarray, px: int, py: int) -> tuple[str, list[str]]:
        """A header naming the map's coordinates, and the map rows as text."""
        if self.map_radius is not None:
            r = self.map_radius
            y0, x0 = max(0, py - r), max(0, px - r)
            y1, x1 = min(chars.shape[0], py + r + 1), min(chars.shape[1], px + r + 1)
        else:
            used = chars != 32
            rows = np.flatnonzero(used.any(axis=1))
            cols = np.flatnonzero(used.any(axis=0))
            if not len(rows):
                return "Map: nothing seen yet.", []
            y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        block = np.ascontiguousarray(chars[y0:y1, x0:x1])
        width = x1 - x0
        raw = block.tobytes().decode("latin-1")
        rows_text = [raw[i : i + width].rstrip() for i in range(0, len(raw), width)]
        header = f"Map (x {x0}-{x1 - 1}, y {y0}-{y1 - 1}; @ is you, north is up):"
        return header, rows_text

    def observe(
        self,
        obs: tuple[np.ndarray, ...],
        *,
        message: str,
        prompt: str | None,
        screen: list[str],
    ) -> Observation:
        """The observation for the raw tuple `obs` (arrays are read, never kept)."""
        blstats = obs[self._i_blstats]
        status = self.status(blstats)
        px, py = status["x"], status["y"]
        cursor = obs[self._i_cursor]
        status["cursor"] = (int(cursor[1]), int(cursor[0]))  # (column, row) on the terminal
        lines = []
        if message:
            lines.append(f"Message: {message}")
        if prompt:
            lines.append(
                f'Question: {prompt} Answer with one key (an item letter, a digit, "y" or "n"),'
                ' or "esc".'
            )
        if screen:
            lines.append("Screen:")
            lines.extend(screen)
        extra = ", ".join(
            part
            for part in (status["hunger"], status["encumbrance"], *status["conditions"])
            if part and part != "not hungry"
        )
        lines.append(
            f"Status: Dlvl {status['depth']}, HP {status['hp']}/{status['max_hp']}, "
            f"Pw {status['pw']}/{status['max_pw']}, AC {status['ac']}, "
            f"Xp {status['xp_level']} ({status['xp_points']} pts), T {status['time']}, "
            f"gold {status['gold']}" + (f", {extra}" if extra else "") + "."
        )
        lines.append(f"You are at x={px}, y={py}.")
        seen = self.nearby(obs[self._i_glyphs], px, py)
        lines.append(("Nearby: " + "; ".join(seen) + ".") if seen else "Nearby: nothing of note.")
        inv_lines, counts = self.inventory(obs[self._i_inv_strs], obs[self._i_inv_letters])
        if self.show_inventory:
            if inv_lines:
                lines.append("Inventory:")
                lines.extend(inv_lines)
            else:
                lines.append("Inventory: empty.")
        chars = obs[self._i_chars]
        header, grid = self.map_rows(chars, px, py)
        if self.show_map:
            lines.append(header)
            lines.extend(grid)
        return Observation(
            text="\n".join(lines),
            message=message,
            position=(px, py),
            status=status,
            inventory=dict(counts),
            grid=grid,
            prompt=prompt,
        )
