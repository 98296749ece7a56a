"""Names for NLE's keys and glyphs: the action vocabulary and the words of the text view."""

from __future__ import annotations

from functools import cache
from typing import Any

_COMPASS = {
    "N": "north",
    "E": "east",
    "S": "south",
    "W": "west",
    "NE": "northeast",
    "SE": "southeast",
    "SW": "southwest",
    "NW": "northwest",
}
_TEXT_NAMES = {
    "PLUS": "plus",
    "MINUS": "minus",
    "SPACE": "space",
    "APOS": "apostrophe",
    "QUOTE": "quote",
    "DOLLAR": "dollar",
}
# Short help for the commands an agent most needs (the rest are listed by name only).
DESCRIPTIONS = {
    "north": "move one step north",
    "far north": "run north until something interesting happens",
    "up": "go up a staircase (stand on <)",
    "down": "go down a staircase (stand on >)",
    "wait": "rest one turn",
    "more": "continue a --More-- message or confirm a menu (Enter)",
    "esc": "cancel a question, menu or message",
    "search": "search adjacent tiles for hidden doors and traps",
    "pickup": "pick up what is here",
    "look": "look at what is here",
    "eat": "eat something (then answer with the item letter)",
    "quaff": "drink a potion (then the item letter)",
    "read": "read a scroll or spellbook (then the item letter)",
    "wield": "wield a weapon (then the item letter)",
    "wear": "wear armor (then the item letter)",
    "puton": "put on a ring or amulet (then the item letter)",
    "apply": "use a tool (then the item letter)",
    "zap": "zap a wand (then the item letter and a direction)",
    "throw": "throw an item (then the item letter and a direction)",
    "fire": "fire from the quiver (then a direction)",
    "open": "open a door (then a direction)",
    "close": "close a door (then a direction)",
    "kick": "kick something (then a direction)",
    "fight": "attack in a direction even if no monster is shown",
    "pray": "pray to your god for help (rarely)",
    "inventory": "show your inventory",
    "travel": "travel to a map location (then a symbol such as > or <)",
}
_ALIASES = {
    "go up": "up",
    "upstairs": "up",
    "ascend": "up",
    "climb up": "up",
    "go down": "down",
    "downstairs": "down",
    "descend": "down",
    "climb down": "down",
    "rest": "wait",
    "noop": "wait",
    "do nothing": "wait",
    "stay": "wait",
    "continue": "more",
    "enter": "more",
    "return": "more",
    "next": "more",
    "escape": "esc",
    "cancel": "esc",
    "exit": "esc",
    "pick up": "pickup",
    "take": "pickup",
    "get": "pickup",
    "drink": "quaff",
    "put on": "puton",
    "take off": "takeoff",
    "take off all": "takeoffall",
    "look here": "look",
    "open door": "open",
    "close door": "close",
    "attack": "fight",
    "plus": "seespells",
    "quote": "seeamulet",
    "dollar": "seegold",
}


@cache
def key_names() -> dict[int, str]:
    """Every NLE key code with a command meaning -> its natural-language name."""
    from nle import nethack

    names: dict[int, str] = {}
    for member in nethack.CompassDirection:
        names.setdefault(int(member), _COMPASS[member.name])
    for member in nethack.CompassDirectionLonger:
        names.setdefault(int(member), "far " + _COMPASS[member.name])
    for enum in (nethack.MiscDirection, nethack.MiscAction, nethack.Command, nethack.UnsafeActions):
        for member in enum:
            names.setdefault(int(member), member.name.lower())
    for member in nethack.TextCharacters:
        name = member.name
        names.setdefault(int(member), name[4:] if name.startswith("NUM_") else _TEXT_NAMES[name])
    return names


def aliases() -> dict[str, str]:
    """Alternative phrasings -> canonical NLE action names (documented in the README)."""
    table = dict(_ALIASES)
    for direction in _COMPASS.values():
        for verb in ("move", "go", "walk", "step"):
            table[f"{verb} {direction}"] = direction
        table[f"run {direction}"] = f"far {direction}"
    return table


def _object_words(nethack: Any, glyph: int) -> str:
    # An unidentified object shows its appearance ("bubbly potion"), never its true name.
    obj = nethack.objclass(nethack.glyph_to_obj(glyph))
    name, descr = nethack.OBJ_NAME(obj), nethack.OBJ_DESCR(obj)
    klass = ord(obj.oc_class)
    if descr:
        nouns = {
            nethack.POTION_CLASS: f"{descr} potion",
            nethack.SCROLL_CLASS: f"scroll labeled {descr}",
            nethack.WAND_CLASS: f"{descr} wand",
            nethack.RING_CLASS: f"{descr} ring",
            nethack.SPBOOK_CLASS: f"{descr} spellbook",
            nethack.GEM_CLASS: f"{descr} {'stone' if name and 'stone' in name else 'gem'}",
        }
        return nouns.get(klass, descr)
    return name or "strange object"


_FEATURES_TO_SKIP = {
    "stone",
    "wall",
    "floor of a room",
    "dark part of a room",
    "corridor",
    "lit corridor",
    "",
}


@cache
def glyph_table() -> tuple[list[str], Any, list[int]]:
    """Per glyph: its words, whether the text view lists it, and a sort rank (monsters first)."""
    import numpy as np
    from nle import nethack

    count = nethack.MAX_GLYPH + 1
    words: list[str] = [""] * count
    listed = np.zeros(count, dtype=bool)
    rank = [9] * count
    for glyph in range(count):
        text, show, order = "", True, 2
        if nethack.glyph_is_pet(glyph):
            text, order = "tame " + nethack.permonst(nethack.glyph_to_mon(glyph)).mname, 1
        elif nethack.glyph_is_ridden_monster(glyph):
            text, order = "ridden " + nethack.permonst(nethack.glyph_to_mon(glyph)).mname, 1
        elif nethack.glyph_is_detected_monster(glyph):
            text, order = "detected " + nethack.permonst(nethack.glyph_to_mon(glyph)).mname, 0
        elif nethack.glyph_is_monster(glyph):
            text, order = nethack.permonst(nethack.glyph_to_mon(glyph)).mname, 0
        elif nethack.glyph_is_invisible(glyph):
            text, order = "remembered unseen monster", 0
        elif nethack.glyph_is_body(glyph):
            text = nethack.permonst(glyph - nethack.GLYPH_BODY_OFF).mname + " corpse"
        elif nethack.glyph_is_statue(glyph):
            text = "statue of " + nethack.permonst(glyph - nethack.GLYPH_STATUE_OFF).mname
        elif nethack.glyph_is_object(glyph):
            text = _object_words(nethack, glyph)
        elif nethack.glyph_is_trap(glyph):
            text, order = nethack.symdef.from_idx(nethack.glyph_to_cmap(glyph)).explanation, 3
        elif nethack.glyph_is_cmap(glyph):
            text = nethack.symdef.from_idx(nethack.glyph_to_cmap(glyph)).explanation
            order, show = 4, text not in _FEATURES_TO_SKIP
        elif nethack.glyph_is_swallow(glyph):
            text, order = "inside of a monster", 5
        elif nethack.glyph_is_warning(glyph):
            text, order = "warning of an unseen monster", 0
        elif glyph < nethack.GLYPH_SWALLOW_OFF and glyph >= nethack.GLYPH_EXPLODE_OFF:
            text, order = "magical effect", 5
        else:
            show = False
        words[glyph] = text
        listed[glyph] = show and bool(text)
        rank[glyph] = order
    return words, listed, rank
