"""NetHack and MiniHack in BALROG's words: its action names and its observation text.

BALROG runs NLE through `nle-language-wrapper` (shipped inside `balrog-nle`), in its "hybrid"
prompt mode: the top-line message (with automatic `--More--` continuation), a description of
what is in view by distance and direction, the cursor, the whole terminal below the top line
(so the two bottom status lines are included) and the inventory. This module rebuilds that
text in Python from NLE's observation arrays and NetHack's own monster and object tables, so
it runs on the default `nle` as well; tests compare it with text recorded from BALROG.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# --- action names ----------------------------------------------------------------------------
_DIRECTIONS = {
    "N": "north",
    "E": "east",
    "S": "south",
    "W": "west",
    "NE": "northeast",
    "SE": "southeast",
    "SW": "southwest",
    "NW": "northwest",
}
_NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_RENAMED = {
    "PREVMSG": "previous message",
    "TURN": "turnundead",
    "OVERVIEW": "wizard where",  # NLE gives ^o to both; the wrapper's table keeps the last name
    "WIZLEVELPORT": "wizard teleport",
}
# The MiniHack names BALROG offers (its MiniHack prompt's table), in its order.
MINIHACK_ACTION_NAMES = (
    "north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest",
    "far north", "far east", "far south", "far west", "far northeast", "far southeast",
    "far southwest", "far northwest", "up", "down", "wait", "more", "apply", "close", "open",
    "eat", "force", "kick", "loot", "pickup", "pray", "puton", "quaff", "search", "zap",
)  # fmt: skip
# BALROG's NetHack commands: NLE's useful actions, in the order of the wrapper's table.
NETHACK_COMMAND_NAMES = (
    "north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest",
    "far north", "far east", "far south", "far west", "far northeast", "far southeast",
    "far southwest", "far northwest", "up", "down", "wait", "more", "adjust", "apply",
    "attributes", "call", "cast", "chat", "close", "dip", "drop", "droptype", "eat", "esc",
    "engrave", "enhance", "fire", "fight", "force", "inventory", "inventtype", "invoke", "jump",
    "kick", "look", "loot", "monster", "move", "movefar", "offer", "open", "pay", "pickup",
    "pray", "puton", "quaff", "quiver", "read", "remove", "ride", "rub", "rush", "rush2",
    "search", "seeamulet", "seearmor", "seegold", "seerings", "seespells", "seetools",
    "seetrap", "seeweapon", "shell", "sit", "swap", "takeoff", "takeoffall", "throw", "tip",
    "turnundead", "twoweapon", "untrap", "versionshort", "wear", "wield", "wipe", "zap",
    "space",
)  # fmt: skip
# Named in BALROG's NetHack action space but not mapped to any key by its wrapper: the
# wrapper raises, so BALROG's episode ends with an error.
UNMAPPED_DOUBLE_DIGITS = tuple(f"{i:02d}" for i in range(100))


def action_name(action: Any) -> str | None:
    """The wrapper's name for an NLE action enum member (None for one it does not name)."""
    cls, name = type(action).__name__, action.name
    if name in _RENAMED and not (name == "OVERVIEW" and cls != "Command"):
        return _RENAMED[name]
    if cls in ("CompassDirection", "CompassIntercardinalDirection"):
        return _DIRECTIONS[name]
    if cls in ("CompassCardinalDirectionLonger", "CompassIntercardinalDirectionLonger"):
        return "far " + _DIRECTIONS[name]
    if cls == "TextCharacters":
        if name.startswith("NUM_"):
            return _NUMBERS[int(name[4:])]
        return name.lower() if name in ("MINUS", "SPACE", "APOS") else None
    if cls == "WizardCommand":
        return "wizard " + name[3:].lower()
    if cls in ("UnsafeActions", "MiscDirection", "MiscAction", "Command"):
        return name.lower()
    return None


@cache
def _named_actions() -> list[tuple[Any, str]]:
    from nle.nethack import actions as A

    members: list[tuple[Any, str]] = []
    seen: set[int] = set()
    for cls in (
        A.UnsafeActions,
        A.CompassDirection,
        A.CompassIntercardinalDirection,
        A.CompassCardinalDirectionLonger,
        A.CompassIntercardinalDirectionLonger,
        A.MiscDirection,
        A.MiscAction,
        A.Command,
        A.TextCharacters,
        A.WizardCommand,
    ):
        for member in cls:
            name = action_name(member)
            if name is None or int(member) in seen:
                continue
            seen.add(int(member))
            members.append((member, name))
    return members


def nethack_actions(game_keys: set[int]) -> dict[str, int | None]:
    """BALROG's NetHack action space, name -> key: the useful commands by name, then every
    letter and digit as itself (a raw key), then "00".."99" (None: BALROG cannot send them)."""
    by_name = {name: int(member) for member, name in _named_actions()}
    names: dict[str, int | None] = {name: by_name[name] for name in NETHACK_COMMAND_NAMES}
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    letters += [chr(c) for c in range(ord("A"), ord("Z") + 1)]
    for key in letters + [str(i) for i in range(10)]:
        names.setdefault(key, ord(key) if ord(key) in game_keys else None)
    for key in UNMAPPED_DOUBLE_DIGITS:
        names[key] = None
    return names


def minihack_actions(task_actions: list[int]) -> dict[str, int]:
    """BALROG's MiniHack actions for a task: the task's own actions that BALROG names, in the
    task's order."""
    by_key = {int(member): name for member, name in _named_actions()}
    wanted = set(MINIHACK_ACTION_NAMES)
    return {by_key[k]: k for k in task_actions if by_key.get(k) in wanted}


# --- observation text ------------------------------------------------------------------------
_WIDTH, _HEIGHT = 79, 21
_CMAP_NAMES = (
    "dark area", "vertical wall", "horizontal wall", "northwest room corner",
    "northeast room corner", "southwest corner", "southeast corner", "cross wall", "t up wall",
    "t down wall", "t west wall", "t east wall", "doorway", "vertical open door",
    "horizontal open door", "vertical closed door", "horizontal closed door", "bars", "tree",
    "room floor", "dark room floor", "corridor floor", "lit corridor floor", "stairs up",
    "stairs down", "ladder up", "ladder down", "alter", "grave", "throne", "sink", "fountain",
    "pool", "ice", "lava", "vertical lowered drawbridge", "horizontal lowered drawbridge",
    "vertical raised drawbridge", "horizontal raised drawbridge", "air floor", "cloud floor",
    "water floor", "arrow trap", "dart trap", "falling rock trap", "squeaky board", "bear trap",
    "land mine", "rolling boulder trap", "sleeping gas trap", "rust trap", "fire trap", "pit",
    "spiked pit", "hole", "trap door", "teleportation trap", "level teleporter", "magic portal",
    "web", "statue trap", "magic trap", "anti magic trap", "polymorph trap", "vibrating square",
    "vertical beam", "horizontal beam", "left slant beam", "right slant beam", "dig beam",
    "flash beam", "boom left", "boom right", "shield 1", "shield 2", "shield 3", "shield 4",
    "poison cloud", "valid position", "swallow top left", "swallow top center",
    "swallow top right", "swallow middle left", "swallow middle right", "swallow bottom left",
    "swallow bottom center", "swallow bottom right", "explosion top left",
    "explosion top center", "explosion top right", "explosion middle left",
    "explosion middle center", "explosion middle right", "explosion bottom left",
    "explosion bottom center", "explosion bottom right",
)  # fmt: skip
_FLOORS = frozenset({"room floor", "dark room floor", "corridor floor", "lit corridor floor"})
_BLOCKING = frozenset(
    {
        "dark area", "vertical wall", "horizontal wall", "northwest room corner",
        "northeast room corner", "southwest corner", "southeast corner", "cross wall",
        "t up wall", "t down wall", "t west wall", "t east wall", "horizontal closed door",
        "vertical closed door", "horizontal raised drawbridge", "vertical raised drawbridge",
    }
)  # fmt: skip
_FAR_FEATURES = frozenset(
    {
        "horizontal closed door", "vertical closed door", "bars", "tree", "stairs up",
        "stairs down", "ladder up", "ladder down", "alter", "grave", "throne", "sink",
        "fountain", "pool", "ice", "lava", "vertical raised drawbridge",
        "horizontal raised drawbridge",
    }
)  # fmt: skip
_WARNINGS = ("worry", "concern", "anxiety", "disquiet", "alarm", "dread")
_SWALLOW = _CMAP_NAMES[79:87]
_EXPLOSIONS = _CMAP_NAMES[87:96]
_ZAPS = ("horizontal zap beam", "vertical zap beam", "left slant zap beam", "right slant zap beam")
_DISTANCE_ORDER = ("very far", "far", "near", "very near", "adjacent")
_DIRECTION_ORDER = (
    "north", "northnortheast", "northeast", "eastnortheast", "east", "eastsoutheast",
    "southeast", "southsoutheast", "south", "southsouthwest", "southwest", "westsouthwest",
    "west", "westnorthwest", "northwest", "northnorthwest",
)  # fmt: skip
_RAYS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))  # E, SE, ... NE


def _object_name(nh: Any, index: int) -> str:
    descr = nh.objdescr.from_idx(index)
    name, look = descr.oc_name or "", descr.oc_descr or ""
    kind = ord(nh.objclass(index).oc_class)
    if kind in (nh.ARMOR_CLASS, nh.TOOL_CLASS):
        return look or name
    if kind == nh.RING_CLASS:
        return look + " ring"
    if kind == nh.AMULET_CLASS:
        return look if "Amulet" in look else look + " amulet"
    if kind == nh.FOOD_CLASS:
        return name + look
    if kind == nh.POTION_CLASS:
        return look + " potion"
    if kind == nh.SCROLL_CLASS:
        return "scroll labeled " + look
    if kind == nh.SPBOOK_CLASS:
        return look + " spellbook"
    if kind == nh.WAND_CLASS:
        return look + " wand"
    if kind == nh.GEM_CLASS:
        return name if look in name else look + " " + name
    if kind == nh.VENOM_CLASS:
        return "splash of " + name
    named = (nh.ILLOBJ_CLASS, nh.WEAPON_CLASS, nh.COIN_CLASS, nh.ROCK_CLASS, nh.BALL_CLASS)
    if kind in (*named, nh.CHAIN_CLASS):
        return name
    return ""


@cache
def glyph_names() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(names shown anywhere on the level, names found only by looking along the 8 rays)."""
    from nle import nethack as nh

    def monster(glyph: int) -> str:
        return nh.permonst(nh.glyph_to_mon(glyph)).mname

    screen: list[str] = []
    rays: list[str] = []
    for glyph in range(nh.MAX_GLYPH):
        ray = ""
        if glyph >= nh.GLYPH_STATUE_OFF:
            name = monster(glyph) + " statue"
        elif glyph >= nh.GLYPH_WARNING_OFF:
            name = "unknown creature causing you " + _WARNINGS[nh.glyph_to_warning(glyph)]
        elif glyph >= nh.GLYPH_SWALLOW_OFF:
            name = _SWALLOW[(glyph - nh.GLYPH_SWALLOW_OFF) % 8]
        elif glyph >= nh.GLYPH_ZAP_OFF:
            name = _ZAPS[(glyph - nh.GLYPH_ZAP_OFF) % 4]
        elif glyph >= nh.GLYPH_EXPLODE_OFF:
            name = _EXPLOSIONS[(glyph - nh.GLYPH_EXPLODE_OFF) % 9]
        elif glyph >= nh.GLYPH_CMAP_OFF:
            feature = _CMAP_NAMES[nh.glyph_to_cmap(glyph)]
            far = feature in _FAR_FEATURES and feature not in _FLOORS
            name = feature if far else ""
            ray = feature if not far and feature not in _FLOORS else ""
        elif glyph >= nh.GLYPH_OBJ_OFF:
            name = _object_name(nh, nh.glyph_to_obj(glyph))
        elif glyph >= nh.GLYPH_RIDDEN_OFF:
            name = "ridden " + monster(glyph)
        elif glyph >= nh.GLYPH_BODY_OFF:
            name = nh.permonst(glyph - nh.GLYPH_BODY_OFF).mname + " corpse"
        elif glyph >= nh.GLYPH_DETECT_OFF:
            name = "detected " + monster(glyph)
        elif glyph >= nh.GLYPH_INVIS_OFF:
            name = "invisible creature"
        elif glyph >= nh.GLYPH_PET_OFF:
            name = "tame " + monster(glyph)
        else:
            name = monster(glyph)
        screen.append(name)
        rays.append(ray)
    return tuple(screen), tuple(rays)


def _plural(noun: str) -> str:
    if noun.endswith(("boots", "shoes", "scales", "lenses", "bars")):
        return noun
    special = {
        "can of grease": "cans of grease",
        "Master of Thieves": "Masters of Thieves",
        "ice": "area of ice",
        "lava": "area of lava",
    }
    if noun in special:
        return special[noun]
    for head in (
        "boom ",
        "shield ",
        "swallow ",
        "scroll ",
        "worthless piece ",
        "unknown creature ",
    ):
        if noun.startswith(head):
            return head[:-1] + "s " + noun[len(head) :]
    if noun.endswith("y") and noun[-2:-1] not in ("a", "e", "i", "o", "u"):
        return noun[:-1] + "ies"
    # The wrapper's test for "ch" reads outside the string, so only these endings get "es".
    if noun.endswith(("z", "x", "sh", "ss")):
        return noun + "es"
    if noun.endswith("ff"):
        return noun[:-2] + "ves"
    if noun.endswith("f"):
        return noun[:-1] + "ves"
    if noun.endswith("s"):
        return noun + "es"
    return noun + "s"


@cache
def _place(dx: int, dy: int) -> tuple[str, str]:
    """(distance, direction) words for an offset with y pointing north."""
    diagonal_steps = min(abs(dx), abs(dy))
    diagonal = ""
    if diagonal_steps > 0:
        if dy < 0 and dx < 0:
            diagonal = "southwest"
        elif dy < 0 < dx:
            diagonal = "southeast"
        elif dy > 0 > dx:
            diagonal = "northwest"
        else:
            diagonal = "northeast"
    rest_y = dy - diagonal_steps if dy > 0 else dy + diagonal_steps
    rest_x = dx - diagonal_steps if dx > 0 else dx + diagonal_steps
    steps = max(abs(dx), abs(dy))
    if steps == 1:
        distance = "adjacent"
    elif steps == 2:
        distance = "very near"
    elif 2 < steps < 6:
        distance = "near"
    elif 5 < steps < 20:
        distance = "far"
    else:
        distance = "very far"
    east_west = "west" if rest_x < 0 else "east" if rest_x > 0 else ""
    north_south = "south" if rest_y < 0 else "north" if rest_y > 0 else ""
    return distance, north_south + east_west + diagonal


def text_glyphs(glyphs: Any, blstats: Any) -> str:
    """What is in view: each thing with its distance and direction, nearest last."""
    screen, rays = glyph_names()
    px, py = int(blstats[0]), int(blstats[1])
    flat = glyphs.reshape(-1).tolist()
    found: list[tuple[str, str, str]] = []
    for i, glyph in enumerate(flat):
        name = screen[glyph]
        if name:
            x, y = i % _WIDTH, i // _WIDTH
            if x == px and y == py:
                continue
            found.append((name, *_place(x - px, py - y)))
    for sx, sy in _RAYS:
        for offset in range(1, 10):
            x, y = px + sx * offset, py + sy * offset
            if not (0 <= x < _WIDTH and 0 <= y < _HEIGHT):
                break
            glyph = flat[x + y * _WIDTH]
            name = rays[glyph]
            if not screen[glyph] and name:
                found.append((name, *_place(x - px, py - y)))
                if name in _BLOCKING:
                    break
    rank = {
        (d, r): i
        for i, (d, r) in enumerate((d, r) for d in _DISTANCE_ORDER for r in _DIRECTION_ORDER)
    }
    ordered = sorted(
        (entry for entry in found if (entry[1], entry[2]) in rank),
        key=lambda entry: rank[(entry[1], entry[2])],
    )
    return "\n".join(f"{n} {d} {r}" for n, d, r in _compress(ordered))


def _compress(entries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Merge one thing at one distance into a list of directions; repeats become plurals."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, distance, direction in entries:
        groups.setdefault((name, distance), []).append(direction)
    # As the wrapper: an ordered list of keys over a map, so a plural that equals its noun
    # ("boots") shows twice with the later directions.
    keys: list[tuple[str, str]] = []
    merged: dict[tuple[str, str], list[str]] = {}
    for (name, distance), directions in groups.items():
        counts: dict[str, int] = {}
        for direction in directions:
            counts[direction] = counts.get(direction, 0) + 1
        single = [d for d, n in counts.items() if n == 1]
        several = [d for d, n in counts.items() if n > 1]
        if single:
            keys.append((name, distance))
            merged[(name, distance)] = single
        if several:
            keys.append((_plural(name), distance))
            merged[(_plural(name), distance)] = several
    out = []
    for name, distance in keys:
        directions = merged[(name, distance)]
        if len(directions) == 1:
            words = directions[0]
        elif len(directions) == 2:
            words = f"{directions[0]} and {directions[1]}"
        else:
            words = ", ".join(directions[:-1]) + ", and " + directions[-1]
        out.append((name, distance, words))
    return out


def text_cursor(glyphs: Any, blstats: Any, tty_cursor: Any) -> str:
    """What is under the terminal cursor (normally the player: "Yourself a <role>")."""
    screen, _ = glyph_names()
    px, py = int(blstats[0]), int(blstats[1])
    cx, cy = int(tty_cursor[1]), int(tty_cursor[0]) - 1
    dx, dy = cx - px, py - cy
    index = cx + cy * _WIDTH
    inside = 0 <= dx + _WIDTH < 2 * _WIDTH and 0 <= dy + _HEIGHT < 2 * _HEIGHT
    if not (inside and 0 < index < glyphs.size):
        return ""
    name = screen[int(glyphs.reshape(-1)[index])]
    if dx == 0 and dy == 0:
        return "Yourself a " + name
    distance, direction = _place(dx, dy)
    return f"{distance} {direction} {name}"


def text_inventory(inv_strs: Any, inv_letters: Any) -> str:
    lines = []
    for letter, row in zip(inv_letters.tolist(), inv_strs, strict=False):
        if letter == 0:
            break
        text = row.tobytes().split(b"\0", 1)[0].decode("latin-1")
        lines.append(f"{chr(letter)}: {text}")
    return "\n".join(lines)


def _trim(text: str) -> str:
    # The wrapper's whitespace set is cut short by its NUL: only space and \x1a are stripped,
    # and a line whose only character is its last one counts as empty.
    start = len(text) - len(text.lstrip(" \x1a"))
    if start == len(text) - 1:
        return ""
    return text.strip(" \x1a")


def text_message(tty_chars: Any) -> str:
    """The top-line message; for a window that pages (--More--, (end), (n of m)) every line
    from the top to that marker."""
    rows = [bytes(r).decode("latin-1") for r in tty_chars.tolist()]
    first = _trim(rows[0])
    if not first:
        return ""
    indent = len(rows[0]) - len(rows[0].lstrip(" "))
    out = ""
    for row in rows:
        line = _trim(row[indent:])
        at = line.find(" of ")
        paged = at >= 2 and line[at - 2 : at - 1] == "(" and line[at + 5 : at + 6] == ")"
        out += line
        if paged or "--More--" in line or "(end)" in line:
            return out
        out += "\n"
    return first


def hybrid_text(
    message: str, glyphs: Any, blstats: Any, tty_chars: Any, tty_cursor: Any, inv: tuple[Any, Any]
) -> tuple[str, str]:
    """(long-term, short-term) context as BALROG's NLE wrapper builds it in hybrid mode."""
    rows = ["".join(map(chr, r)) for r in tty_chars.tolist()]
    screen = "\n".join(rows[1:]) + "\n"
    cursor = text_cursor(glyphs, blstats, tty_cursor)
    cursor += f"\n(x={int(tty_cursor[1])}, y={int(tty_cursor[0])})"
    parts = (
        ("message", message),
        ("language observation", text_glyphs(glyphs, blstats)),
        ("cursor", cursor),
        ("map", screen),
    )
    long_term = "\n".join(f"{name}:\n{value}\n" for name, value in parts)
    short_term = f"inventory:\n{text_inventory(*inv)}\n"
    return long_term, short_term
