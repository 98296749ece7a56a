"""v0 hooks: map loosely written actions onto the env's vocabulary, and describe the NetHack /
MiniHack map around the player (what is adjacent, the exits, the stairs, monsters) by direction.
"""

# NetHack's default map symbols, as the text views show them.
FEATURES = {
    ".": "floor",
    "#": "corridor",
    "+": "closed door",
    "<": "stairs up",
    ">": "stairs down",
    "{": "fountain",
    "_": "altar",
    "^": "trap",
    "}": "water",
    "\\": "throne",
}
WALLS = set("|-")
ITEMS = set(")[%?/=!(\"*$`0")
MONSTERS = set("@&;:'~")  # plus every letter
# (dx, dy) -> name; north is up (y grows southwards).
DIRECTIONS = {
    (0, -1): "north",
    (1, -1): "northeast",
    (1, 0): "east",
    (1, 1): "southeast",
    (0, 1): "south",
    (-1, 1): "southwest",
    (-1, 0): "west",
    (-1, -1): "northwest",
}
MAX_LISTED = 6


def repair_action(action, actions):
    """Exact match first, then case- and punctuation-insensitive, then a unique prefix."""
    if action in actions:
        return action
    cleaned = action.strip().strip("`'\".").strip().lower()
    by_lower = {a.lower(): a for a in actions}
    if cleaned in by_lower:
        return by_lower[cleaned]
    cleaned = cleaned.replace("_", " ")
    for a in actions:
        if a.lower().replace("_", " ") == cleaned:
            return a
    matches = [a for a in actions if a.lower().startswith(cleaned)] if cleaned else []
    return matches[0] if len(matches) == 1 else action


def analyze(observation, history):
    """The map analysis for NetHack and MiniHack (their observations carry a map window);
    "" for games without one."""
    grid, origin, position = observation.grid, observation.grid_origin, observation.position
    if not grid or origin is None or position is None:
        return ""
    px, py = position[0] - origin[0], position[1] - origin[1]

    def at(x, y):
        if 0 <= y < len(grid) and 0 <= x < len(grid[y]):
            return grid[y][x]
        return " "

    if at(px, py) == " ":
        return ""  # not on the map (a menu or the end screen covers it)
    adjacent = [f"{name} {describe(at(px + dx, py + dy))}" for (dx, dy), name in DIRECTIONS.items()]
    lines = [f"Map analysis (you are @ at x={position[0]}, y={position[1]}):"]
    lines.append("Adjacent: " + "; ".join(adjacent) + ".")
    moves = [name for (dx, dy), name in DIRECTIONS.items() if walkable(at(px + dx, py + dy))]
    lines.append("You can step: " + (", ".join(moves) if moves else "nowhere (blocked)") + ".")
    stairs, exits, monsters = [], [], []
    for y, row in enumerate(grid):
        for x, ch in enumerate(row):
            dx, dy = x - px, y - py
            if not (dx or dy):
                continue
            if ch in "<>":
                stairs.append((dist(dx, dy), f"{FEATURES[ch]} {where(dx, dy)}"))
            elif ch == "+" or (ch in ".-|" and door_kind(at, x, y)):
                kind = "closed door" if ch == "+" else door_kind(at, x, y)
                exits.append((dist(dx, dy), f"{kind} {where(dx, dy)}"))
            elif ch.isalpha() or ch in MONSTERS:
                near = " (adjacent!)" if dist(dx, dy) == 1 else ""
                monsters.append((dist(dx, dy), f"'{ch}' {where(dx, dy)}{near}"))
    lines.append("Stairs: " + listing(stairs, "none seen") + ".")
    lines.append("Exits: " + listing(exits, "none seen") + ".")
    lines.append("Monsters: " + listing(monsters, "none in view") + ".")
    if history and history[-1].position == observation.position:
        lines.append("You did not move last step.")
    return "\n".join(lines)


def describe(ch):
    if ch == " ":
        return "unexplored/dark"
    if ch in WALLS:
        return "wall"
    if ch in FEATURES:
        return FEATURES[ch]
    if ch.isalpha() or ch in MONSTERS:
        return f"monster '{ch}'"
    if ch in ITEMS:
        return f"item '{ch}'"
    return f"'{ch}'"


def walkable(ch):
    return ch != " " and ch not in WALLS and ch != "+" and not ch.isalpha() and ch not in MONSTERS


def door_kind(at, x, y):
    """"doorway" for a floor gap in a wall (walls on both sides along one axis only), "open
    door" for an open door (drawn across its wall: `-` in a vertical wall, `|` in a
    horizontal one), else None."""
    ch = at(x, y)
    if ch == "." and (at(x - 1, y) in WALLS and at(x + 1, y) in WALLS) != (
        at(x, y - 1) in WALLS and at(x, y + 1) in WALLS
    ):
        return "doorway"
    if ch == "-" and at(x, y - 1) == "|" and at(x, y + 1) == "|":
        return "open door"
    if ch == "|" and at(x - 1, y) == "-" and at(x + 1, y) == "-":
        return "open door"
    return None


def dist(dx, dy):
    return max(abs(dx), abs(dy))


def where(dx, dy):
    """How far and which way, e.g. "3 north and 2 east" (NetHack moves diagonally too)."""
    ns = "north" if dy < 0 else "south"
    ew = "west" if dx < 0 else "east"
    if dx and abs(dx) == abs(dy):
        return f"{abs(dx)} {ns}{ew}"
    parts = []
    if dy:
        parts.append(f"{abs(dy)} {ns}")
    if dx:
        parts.append(f"{abs(dx)} {ew}")
    return " and ".join(parts)


def listing(entries, empty):
    if not entries:
        return empty
    entries.sort(key=lambda e: e[0])
    shown = [text for _, text in entries[:MAX_LISTED]]
    more = len(entries) - MAX_LISTED
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
