"""The MiniHack/NetHack text view, built from NLE's observation arrays with numpy."""

from __future__ import annotations

import operator
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
_STAT_NAMES = (
    "x", "y", "depth", "dungeon_level", "hp", "max_hp", "pw", "max_pw", "ac", "xp_level",
    "xp_points", "time", "gold", "score", "str", "dex", "con", "int", "wis", "cha",
)  # fmt: skip
_STAT_KEYS = (
    "X", "Y", "DEPTH", "DLEVEL", "HP", "HPMAX", "ENE", "ENEMAX", "AC", "XP", "EXP", "TIME",
    "GOLD", "SCORE", "STR25", "DEX", "CON", "INT", "WIS", "CHA",
)  # fmt: skip
_STATUS_LINE = (
    "Status: Dlvl %d, HP %d/%d, Pw %d/%d, AC %d, Xp %d (%d pts), T %d, gold %d%s.\n"
    "You are at x=%d, y=%d."
)
# The status line's numbers, picked from the stat values in _STAT_NAMES order.
_LINE_VALUES = operator.itemgetter(*(_STAT_NAMES.index(name) for name in (
    "depth", "hp", "max_hp", "pw", "max_pw", "ac", "xp_level", "xp_points", "time", "gold"
)))  # fmt: skip
_COUNT = re.compile(r"^(\d+) ")
_MAX_LISTED = 15
_BLANK = ord(" ")


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
        self._arrays = operator.itemgetter(
            self._i_cursor, self._i_glyphs, self._i_inv_letters, self._i_inv_strs, self._i_chars
        )
        self.show_map = show_map
        self.map_radius = map_radius
        self.show_inventory = show_inventory
        self._words, self._listed, self._rank = glyph_table()
        from nle import nethack

        self._stat_index = [getattr(nethack, f"NLE_BL_{key}") for key in _STAT_KEYS]
        self._word_index = [nethack.NLE_BL_HUNGER, nethack.NLE_BL_CAP, nethack.NLE_BL_ALIGN,
                            nethack.NLE_BL_CONDITION]  # fmt: skip
        self._stat_getter = operator.itemgetter(*self._stat_index)
        self._word_getter = operator.itemgetter(*self._word_index)
        self._near_raw = b""
        self._near_at = (-1, -1)
        self._near: list[str] = []
        self._map_raw = b""
        self._map_at = (-1, -1)
        self._map: tuple[str, list[str], tuple[int, int] | None] = ("", [], None)
        self._condition_bits = [
            (getattr(nethack, f"BL_MASK_{name}"), name.lower()) for name in _CONDITIONS
        ]
        self._inv_letters = b""
        self._inv_strs = b""  # the used rows of the last inventory read (b"" letters: none yet)
        self._inv: tuple[list[str], dict[str, int]] = ([], {})
        self._inv_text = "Inventory: empty."
        self._status_b: list[int] = []
        self._status_c: list[int] = []
        self._status: dict[str, Any] = {}
        self._position = (0, 0)
        self._status_line = ""
        self._near_line = ""
        self._text_key: tuple[Any, ...] = ()
        self._text = ""

    def status(self, b: list[int]) -> dict[str, Any]:
        """The bottom-line stats (`blstats` as a list) by name."""
        return self._read_status(b)[0]

    def _read_status(self, b: list[int]) -> tuple[dict[str, Any], str]:
        # The dict and the status line from one read of the values (no lookups by name).
        values = self._stat_getter(b)
        status: dict[str, Any] = dict(zip(_STAT_NAMES, values))  # noqa: B905
        hunger, cap, align, condition = self._word_getter(b)
        hungry = status["hunger"] = HUNGER[hunger] if 0 <= hunger < 7 else "?"
        burden = status["encumbrance"] = ENCUMBRANCE[cap] if 0 <= cap < 6 else "?"
        status["alignment"] = ALIGNMENT.get(align, "?")
        conditions = status["conditions"] = (
            [name for bit, name in self._condition_bits if condition & bit] if condition else []
        )
        extra = [hungry] if hungry != "not hungry" else []
        if burden:
            extra.append(burden)
        extra += conditions
        line = _STATUS_LINE % (
            *_LINE_VALUES(values),
            (", " + ", ".join(extra)) if extra else "",
            values[0],
            values[1],
        )
        return status, line

    def inventory(self, strs: np.ndarray, letters: np.ndarray) -> tuple[list[str], dict[str, int]]:
        """Inventory lines ("a - a +1 long sword (weapon in hand)") and item -> count."""
        letters_raw = letters.tobytes()
        if letters_raw != self._inv_letters or not strs.tobytes().startswith(self._inv_strs):
            self._read_inventory(letters_raw, strs)
        return self._inv

    def _read_inventory(self, letters_raw: bytes, strs: np.ndarray) -> None:
        # The lines read stop at the first empty letter; only those rows are kept to compare.
        used = letters_raw.find(0)
        strs_raw = strs.tobytes()[: used * strs.shape[1]] if used >= 0 else strs.tobytes()
        lines: list[str] = []
        counts: dict[str, int] = {}
        for letter, row in zip(letters_raw, strs, strict=False):
            if letter == 0:
                break
            text = row.tobytes().split(b"\0", 1)[0].decode("latin-1")
            line = f"{chr(letter)} - {text}"
            lines.append(line)
            found = _COUNT.match(text)
            counts[line] = int(found.group(1)) if found else 1
        self._inv_letters, self._inv_strs, self._inv = letters_raw, strs_raw, (lines, counts)
        self._inv_text = "\n".join(["Inventory:", *lines]) if lines else "Inventory: empty."

    def nearby(self, glyphs: np.ndarray, px: int, py: int) -> list[str]:
        """What is on the map in words, monsters first, then by distance; one entry per kind."""
        raw = glyphs.tobytes()
        if raw != self._near_raw or (px, py) != self._near_at:
            self._read_nearby(glyphs, raw, (px, py))
        return self._near

    def _read_nearby(self, glyphs: np.ndarray, raw: bytes, at: tuple[int, int]) -> None:
        seen = self._nearby(glyphs, *at)
        self._near_raw, self._near_at, self._near = raw, at, seen
        self._near_line = (
            ("Nearby: " + "; ".join(seen) + ".") if seen else "Nearby: nothing of note."
        )

    def _nearby(self, glyphs: np.ndarray, px: int, py: int) -> list[str]:
        # One vectorised lookup marks the cells worth naming; bytes.find then walks the few
        # marks at C speed (numpy calls cost more than the work on a 21x79 map).
        marks = self._listed.take(glyphs).tobytes()
        width = glyphs.shape[1]
        words, rank = self._words, self._rank
        item = glyphs.item
        best: dict[str, list[int]] = {}  # name -> [rank, distance, dx, dy, count]
        h = marks.find(1)
        while h >= 0:
            y, x = divmod(h, width)
            dx, dy = x - px, y - py
            if dx or dy:  # else that is you
                glyph = item(y, x)
                name = words[glyph]
                d = max(abs(dx), abs(dy))
                entry = best.get(name)
                if entry is None:
                    best[name] = [rank[glyph], d, dx, dy, 1]
                else:
                    entry[4] += 1
                    if d < entry[1]:
                        entry[1:4] = [d, dx, dy]
            h = marks.find(1, h + 1)
        if not best:
            return []
        ranked = sorted(best.items(), key=lambda item: (item[1][0], item[1][1]))
        out = []
        for name, (_, _, dx, dy, count) in ranked[:_MAX_LISTED]:
            more = f" ({count} in view)" if count > 1 else ""
            out.append(f"{name} {_where(dx, dy)}{more}")
        return out

    def _map_rows(
        self, chars: np.ndarray, raw: bytes, px: int, py: int
    ) -> tuple[str, list[str], tuple[int, int] | None]:
        height, width = chars.shape
        if self.map_radius is not None:
            r = self.map_radius
            y0, x0 = max(0, py - r), max(0, px - r)
            y1, x1 = min(height, py + r + 1), min(width, px + r + 1)
        else:
            # The used rows from the bytes (fast strips), the used columns from one numpy mask.
            end = len(raw.rstrip(b" "))
            if not end:
                return "Map: nothing seen yet.", [], None
            start = len(raw) - len(raw.lstrip(b" "))
            y0, y1 = start // width, (end - 1) // width + 1
            used = (chars[y0:y1] != _BLANK).any(axis=0).tobytes()
            x0, x1 = used.find(1), used.rfind(1) + 1
        # One decode, then str slices: str.rstrip (not bytes.rstrip) decides what is blank.
        text = raw.decode("latin-1")
        n = x1 - x0
        grid = [text[o : o + n].rstrip() for o in range(y0 * width + x0, y1 * width, width)]
        header = f"Map (x {x0}-{x1 - 1}, y {y0}-{y1 - 1}; @ is you, north is up):"
        return header, grid, (x0, y0)

    def _compose(self, parts: tuple[Any, ...]) -> str:
        message, prompt, typing, screen, status_line, near_line, inv_text, shown = parts
        lines = []
        if message:
            lines.append(f"Message: {message}")
        if prompt:
            how = (
                'Answer with the text to type, or "esc".'
                if typing
                else 'Answer with one key (an item letter, a digit, "y" or "n"), or "esc".'
            )
            lines.append(f"Question: {prompt} {how}")
        if screen:
            lines.append("Screen:")
            lines.extend(screen)
        lines.append(status_line)
        lines.append(near_line)
        if self.show_inventory:
            lines.append(inv_text)
        if self.show_map:
            lines.append(shown[0])
            lines.extend(shown[1])
        return "\n".join(lines)

    def observe(
        self,
        obs: tuple[np.ndarray, ...],
        blstats: list[int],
        *,
        message: str,
        prompt: str | None,
        screen: list[str],
        typing: bool = False,
    ) -> Observation:
        """The observation for the raw tuple `obs` (arrays are read, never kept)."""
        cursor_a, glyphs, letters, strs, chars = self._arrays(obs)
        cursor = cursor_a.tolist()
        if blstats is not self._status_b and blstats != self._status_b:  # same in menus
            status, self._status_line = self._read_status(blstats)
            status["cursor"] = (cursor[1], cursor[0])  # (column, row) on the 80x24 terminal
            self._status_b, self._status_c, self._status = blstats, cursor, status
            self._position = (status["x"], status["y"])
        elif cursor != self._status_c:  # the cursor alone moved: the line and the rest stand
            status = self._status.copy()
            status["cursor"] = (cursor[1], cursor[0])
            self._status_c, self._status = cursor, status
        position = self._position
        # The three change checks inline (a method call costs as much as the check): each
        # part is rebuilt only when its arrays' bytes (or, where it matters, you) moved.
        raw = glyphs.tobytes()
        if raw != self._near_raw or position != self._near_at:
            self._read_nearby(glyphs, raw, position)
        letters_raw = letters.tobytes()
        # Same letters, same number of lines read: compare just those lines (no slice copy).
        if letters_raw != self._inv_letters or not strs.tobytes().startswith(self._inv_strs):
            self._read_inventory(letters_raw, strs)
        counts = self._inv[1]
        raw = chars.tobytes()
        if raw != self._map_raw or (self.map_radius is not None and position != self._map_at):
            self._map_raw, self._map_at = raw, position
            self._map = self._map_rows(chars, raw, *position)
        shown = self._map
        # Every part is a cached object while nothing changed, so this compare is cheap and
        # a step in a menu or against a wall reuses the last text.
        key = (message, prompt, typing, screen, self._status_line, self._near_line,
               self._inv_text, shown)  # fmt: skip
        if key != self._text_key:
            self._text_key, self._text = key, self._compose(key)
        return Observation(
            text=self._text,
            message=message,
            position=position,
            status=self._status,
            inventory=counts.copy(),
            grid=shown[1],
            grid_origin=shown[2],
            prompt=prompt,
        )
