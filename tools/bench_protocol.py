"""Benchmark of the harness under the `paper` protocol, on long episodes with a scripted model.

One Crafter episode of the protocol's 2,000 steps and one NetHack episode to its end (a death,
BALROG's 150-step no-progress timeout) or a step cap, through the real runner: `run_suite` with
the memory agent on the v0 scaffold, BALROG's text and actions, real games, traces on disk. The
scripted model plays like a tidy memory agent (LOG: append a status note to log.md, DONE; PLAN:
tail log.md, then an ACTION from a pilot that reads the prompt), so the time per step is the
harness's own. The baseline is the raw game stepping the same executed actions (`env.step`
only) in the same run. The pilots try to live long, not to score: the Crafter one walls itself
in at night but can still starve or be caught (seed 42 lives ~1,200 steps); the NetHack one
keeps walking, so the game clock moves and the timeout seldom fires.

Prints per episode: steps and ending, wall time, harness time per step (the wall time between
the agent's steps minus the model's own time) p50/p99 against the raw step with the ratio, trace
bytes per step, memory bytes at the end, and the plan's LLM calls (`plan_episodes`) against the
calls made (turns in the trace).

    uv run python tools/bench_protocol.py [--crafter-steps 2000] [--nethack-steps 5000]
        [--seed 42] [--out rows.json] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import itertools
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from automem_agent import (
    ChatRequest,
    EpisodeContext,
    RoleModels,
    ScriptedModel,
    builtin_scaffold,
    load_protocol,
    load_scaffold,
    memory_agent_factory,
    memory_path,
    plan_episodes,
    read_manifest,
    read_trace,
    run_suite,
    trace_path,
    with_sampling,
)
from automem_envs import EpisodeSpec, Suite, make_from_spec, unavailable_reason
from automem_memfs import Action, Append, Done, Tail, format_call

DIRS = ("north", "east", "south", "west")
_DELTA = {"north": (0, -1), "east": (1, 0), "south": (0, 1), "west": (-1, 0)}

# -- Crafter (BALROG's text) ------------------------------------------------------------------
_VITAL = re.compile(r"^- (health|food|drink|energy): (\d+)/9$", re.M)
_ITEM = re.compile(r"^- (\w+): (\d+)$", re.M)
_SEEN = re.compile(r"^- ([a-z ]+?) (\d+) steps? to your ([a-z-]+)$", re.M)
_FACE = re.compile(r"You face (\w+) at your front\.")
_AT = re.compile(r"You are at \((\d+), (\d+)\)")
_WALK = {"grass", "sand", "path"}
_OPEN = _WALK | {"cow", "plant", "arrow"}  # what does not get in the way of building
_BACK = {"north": "south", "south": "north", "east": "west", "west": "east"}


# The night shelter, relative to its inner cell A (x east, y south): the player sleeps in A, B
# is the cell north of it. Each wall is placed from the cell next to it, facing it, which the
# player faces only right after stepping towards it: (wall, the cell to step from, direction).
_BUILD = (
    ((1, -1), (3, -1), "west"),
    ((1, 0), (3, 0), "west"),
    ((-1, -1), (-3, -1), "east"),
    ((-1, 0), (-3, 0), "east"),
)
_ENTER = (((0, -2), (0, 0), "north"), ((0, 1), (0, -1), "south"))  # into B, back into A


def _offset(where: tuple[int, int], distance: int, way: str) -> tuple[int, int]:
    """Where a thing `distance` steps to the `way` (e.g. "north-east") of `where` roughly is."""
    parts = way.split("-")
    x, y = where
    for i, part in enumerate(parts):
        n = distance // len(parts) + (i < distance % len(parts))
        x, y = x + n * _DELTA[part][0], y + n * _DELTA[part][1]
    return x, y


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


class CrafterPilot:
    """A Crafter survivor that reads BALROG's text. By day it drinks and eats before it runs
    low, fights zombies next to it, backs away from skeletons, makes a table, a wood
    pickaxe and a sword, and mines stone. With six stones it walls in two cells of open ground
    (zombies come in numbers at night and hit a sleeping player for 7) and from then on spends
    every night there, closing the door behind it and opening it in the morning. BALROG names
    no facing direction, so the pilot remembers its last move (Crafter turns the player towards
    every move, blocked or not), and it knows where it is from the LOG prompt."""

    def __init__(self) -> None:
        self.facing = "south"  # Crafter's player starts facing down
        self.leg, self.leg_steps = 0, 0  # the wander direction (index in DIRS) and its age
        self.where: tuple[int, int] | None = None
        self.walls: set[str] = set()  # directions a move failed in, here
        self.moved = False  # the last action was a move
        self.water: tuple[int, int] | None = None  # where the player last drank
        self.home: tuple[int, int] | None = None  # the shelter's cell A
        self.todo: list[tuple[tuple[int, int], tuple[int, int], str]] = []  # walls to make
        self.mode, self.budget, self.step = "", 0, 0

    def act(self, text: str, step: int, where: tuple[int, int] | None = None) -> str:
        if where != self.where:
            self.where, self.walls = where, set()
        elif self.moved:
            self.walls.add(self.facing)  # the last move left the player in place
        self.moved, self.step = False, step
        if "You are sleeping" in text:
            return "Sleep"  # the game ignores actions until the player wakes
        vital = {k: int(v) for k, v in _VITAL.findall(text)}
        inv = {k: int(v) for k, v in _ITEM.findall(text)}
        seen = {name: (int(d), w) for name, d, w in _SEEN.findall(text)}
        face = _FACE.search(text)
        front = face.group(1) if face else "grass"
        food, drink, energy = (vital.get(k, 9) for k in ("food", "drink", "energy"))
        clock = step % 300
        night = 125 <= clock < 275  # zombies come in numbers from ~140 to ~270
        if front in ("zombie", "skeleton"):
            return "Do"
        if self.mode == "rest":
            if "zombie" in seen and seen["zombie"][0] == 1:  # a wall is missing
                return self._move(seen["zombie"][1])
            if 125 <= clock < 290 and (night or min(food, drink) > 0):  # until zombies thin out
                return "Sleep" if energy < 9 else "Noop"
            self.mode = "open"
        if self.mode == "open":  # face the door (south), mine it, walk out
            if self.facing == "south" and front == "stone":
                return "Do"
            if self.facing == "south":
                self.mode = ""
            return self._move("south")
        if "zombie" in seen and seen["zombie"][0] <= (1 if self.mode else 2):
            return self._toward(*seen["zombie"], front, seen)
        if "water" in seen and where is not None:  # remember it, roughly
            self.water = _offset(where, *seen["water"])
        if "skeleton" in seen and 1 < seen["skeleton"][0] <= 4:  # out of its range
            way = seen["skeleton"][1].split("-")
            for d in [_BACK[w] for w in way] + [d for d in DIRS if d not in way]:
                if not self._blocked(d, front, seen):
                    return self._move(d)
        for thing, level in (("water", drink), ("cow", food)):
            if front == thing and level < 9:
                return "Do"
        low = 7 if 90 <= clock < 275 else 5  # top up before the night
        for thing, level in (("water", drink), ("cow", food)):
            if level <= low and self.mode != "build":
                if thing in seen:
                    return self._toward(*seen[thing], front, seen)
                if thing == "water" and self.water is not None:
                    return self._goto(self.water, front, seen)
        if self.mode in ("build", "enter"):
            return self._shelter(front, seen, inv)
        if night and self.home is not None:
            self.mode, self.todo, self.budget = "enter", list(_ENTER), 60
            return self._shelter(front, seen, inv)
        if self.home is None and inv.get("stone", 0) >= 6 and where is not None:
            near = min((d for k, (d, _) in seen.items() if k not in _OPEN), default=9)
            water = 99 if self.water is None else _distance(where, self.water)
            if near >= 4 and (water <= 12 or clock >= 100):  # open ground, water near
                self.home, self.mode = where, "build"
                self.todo, self.budget = list(_BUILD + _ENTER), 80
                return self._shelter(front, seen, inv)
        if energy <= 1:
            return "Sleep"
        return self._day(inv, front, seen, min(food, drink))

    def _day(self, inv: dict[str, int], front: str, seen, need: int) -> str:
        """Tools first (a table, then a pickaxe and a sword at it), then stone, then wander."""
        table = "table" in seen and (
            seen["table"][0] == 1 or (seen["table"][0] == 2 and "-" in seen["table"][1])
        )
        wood = inv.get("wood", 0)
        for tool in ("wood_pickaxe", "wood_sword"):
            if table and wood >= 1 and not inv.get(tool):
                return "Make " + tool.replace("_", " ").title()
        if wood >= 4 and not table and front in _WALK and not inv.get("wood_sword"):
            return "Place Table"
        if not inv.get("wood_sword") or wood < 2:
            if front == "tree":
                return "Do"
            if "tree" in seen:
                return self._toward(*seen["tree"], front, seen)
        elif inv.get("stone", 0) < 7 and not self._near_home(5):  # not the walls
            if front == "stone":
                return "Do"
            if "stone" in seen:
                return self._toward(*seen["stone"], front, seen)
        if self.home is not None and need > 3:  # stay near the shelter
            hx, hy = self.home
            x, y = self.where or self.home
            if _distance((x, y), (hx, hy)) > 12:
                return self._goto(self.home, front, seen)
        return self._wander(front, seen)

    def _near_home(self, radius: int) -> bool:
        return None not in (self.home, self.where) and _distance(self.home, self.where) <= radius

    def _shelter(self, front: str, seen, inv: dict[str, int]) -> str:
        """Works through `todo`: walk to the cell before a wall, step towards the wall, place a
        stone unless something already blocks it. The last wall is the door, placed from A."""
        assert self.home is not None
        self.budget -= 1
        if self.budget < 0 or self.where is None:  # a cow, a lake, a tree in the way
            if self.mode == "build":
                self.home = None  # never finished: build elsewhere
            self.mode, self.todo = "", []
            return self._wander(front, seen)
        hx, hy = self.home
        _, (fx, fy), d = self.todo[0]  # (the wall, the cell to step from, the way)
        start = (hx + fx, hy + fy)
        dx, dy = _DELTA[d]
        beside = (start[0] + dx, start[1] + dy)
        if self.where == beside and self.facing == d:  # facing the wall's cell
            if front in _WALK and inv.get("stone", 0) > 0:
                return "Place Stone"
            self.todo.pop(0)
            if not self.todo:
                self.mode = "rest"  # inside, the door shut (by day it opens at once)
                return "Noop"
            return self._shelter(front, seen, inv)
        if self.where == start and self.facing == d and front not in _WALK:
            if front in ("stone", "coal"):
                return "Do"  # mine the way in (and keep the stone)
            self.budget = 0  # a tree or water: give up this site
        if self.where == start:
            return self._move(d)
        return self._goto(start, front, seen)

    def _move(self, d: str) -> str:
        self.facing, self.moved = d, True
        return f"Move {d.title()}"

    def _blocked(self, d: str, front: str, seen: dict[str, tuple[int, str]]) -> bool:
        if seen.get("lava", (9, ""))[0] <= 2 and d in seen["lava"][1].split("-"):
            return True  # lava is walkable, and deadly
        return d in self.walls or (self.facing == d and front not in _WALK)

    def _toward(self, distance: int, way: str, front: str, seen) -> str:
        parts = way.split("-")
        if distance == 1:
            return self._move(parts[0])  # a blocked move turns the player to face it
        options = [p for p in parts if not self._blocked(p, front, seen)]
        if not options:
            return self._wander(front, seen)
        return self._move(options[0])

    def _goto(self, spot: tuple[int, int], front: str, seen) -> str:
        if self.where is None or self.where == spot:
            return self._wander(front, seen)
        dx, dy = spot[0] - self.where[0], spot[1] - self.where[1]
        ways = [("east" if dx > 0 else "west", abs(dx)), ("south" if dy > 0 else "north", abs(dy))]
        ways = [w for w, n in sorted(ways, key=lambda w: -w[1]) if n]
        side = DIRS[(DIRS.index(ways[0]) + 1 + self.step // 20 % 2 * 2) % 4]
        for d in [*ways, side, _BACK[side], _BACK[ways[0]]]:  # around what is in the way
            if not self._blocked(d, front, seen):
                return self._move(d)
        return self._wander(front, seen)

    def _wander(self, front: str, seen) -> str:
        self.leg_steps += 1
        if self.leg_steps > 15:
            self.leg, self.leg_steps = (self.leg + 1 + self.step % 2 * 2) % 4, 0
        if self.where is not None:  # keep BALROG's window inside the 64x64 world
            x, y = self.where
            edges = ((y < 8, "south"), (y > 55, "north"), (x < 8, "east"), (x > 55, "west"))
            for near, away in edges:
                if near:
                    self.leg = DIRS.index(away)
        for turn in (0, 1, 3, 2):
            d = DIRS[(self.leg + turn) % 4]
            if not self._blocked(d, front, seen):
                return self._move(d)
        self.walls.clear()
        return "Noop"


# -- NetHack (BALROG's text and the v0 map analysis) ----------------------------------------------
_CAN_STEP = re.compile(r"You can step: ([a-z, ]+)\.")
_ADJACENT = re.compile(r"'(.)' 1 ([a-z]+) \(adjacent!\)")
_EXIT = re.compile(r"Exits: [a-z ]+? \d+ ([a-z]+)")
_BRACKET = re.compile(r"\[([a-zA-Z])")
_COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


class NetHackPilot:
    """A NetHack wanderer that reads the v0 scaffold's map analysis in the PLAN prompt: it
    fights what stands next to it (stepping into its pet swaps places), eats when hungry, prays when weak, answers the
    game's prompts, and otherwise walks in long straight lines, turning towards a door or a
    doorway when it turns, so the game clock keeps moving."""

    def __init__(self) -> None:
        self.heading, self.turns, self.ate_at, self.prayed_at = "east", 0, -999, -9999

    def act(self, text: str, step: int) -> str:
        message = text.split("message:", 1)[-1].split("language observation:", 1)[0]
        status = text.split("map:", 1)[-1]
        if "What do you want to eat?" in message:
            letter = _BRACKET.search(message)
            return letter.group(1) if letter else "esc"
        if "Are you sure you want to pray?" in message:
            return "y"
        if "--More--" in message:
            return "more"
        if "[yn" in message or "What do you want" in message or "In what direction" in message:
            return "esc"
        if ("Weak" in status or "Fainting" in status) and step - self.prayed_at > 1000:
            self.prayed_at = step
            return "pray"
        if "Hungry" in status and step - self.ate_at > 200:
            self.ate_at = step
            return "eat"
        free = _CAN_STEP.search(text)
        steps = [d.strip() for d in free.group(1).split(",")] if free else []
        for _, way in _ADJACENT.findall(text):
            if not re.search(rf"^peaceful .* adjacent {way}$", text, re.M):
                return way  # attacks a monster, swaps places with the pet
        if not steps:
            return "search"  # passes a turn, and finds hidden doors
        if self.heading not in steps or "You did not move last step" in text:
            self.turns += 1
            back = _COMPASS[(_COMPASS.index(self.heading) + 4) % 8]
            exit_ = _EXIT.search(text)
            options = [d for d in steps if d not in (back, self.heading)] or steps
            if exit_ and exit_.group(1) in options and self.turns % 2:
                self.heading = exit_.group(1)
            else:
                self.heading = options[(self.turns * 7 + step) % len(options)]
        return self.heading


# -- the scripted model -----------------------------------------------------------------------
_STATUS_LINE = re.compile(r"^(Dlvl:.*T:\d+).*$", re.M)


def pilot_script(family: str, syntax: str):
    """The `ScriptedModel` script of one episode. LOG: append a one-line status note to log.md,
    then DONE. PLAN round 1: tail log.md; round 2: the pilot's ACTION. The phase is read from the
    conversation (the last user message that opens a phase, and the replies since)."""
    pilot = CrafterPilot() if family == "crafter" else NetHackPilot()

    def fmt(*calls) -> str:
        return "\n".join(format_call(c, syntax=syntax) for c in calls)

    def script(request: ChatRequest) -> str:
        messages = request.messages
        opens = [
            i
            for i, m in enumerate(messages)
            if m.role == "user" and m.content.startswith(("LOG phase", "PLAN phase"))
        ]
        at = opens[-1]
        prompt = messages[at].content
        step = int(re.match(r"\w+ phase, step (\d+)", prompt).group(1))  # type: ignore[union-attr]
        if prompt.startswith("LOG phase"):
            vitals = " ".join(f"{k} {v}" for k, v in _VITAL.findall(prompt))
            line = _STATUS_LINE.search(prompt)
            last = re.search(r"Your last action: (.*)", prompt)
            status = vitals or (line.group(1).strip() if line else "?")
            note = f"step {step}: {last.group(1) if last else '?'} -> {status}"
            return fmt(Append(path="log.md", content=note), Done())
        if not any(m.role == "assistant" for m in messages[at:]):
            return fmt(Tail(path="log.md", n=2))
        log = next((m.content for m in reversed(messages[:at]) if m.content.startswith("LOG")), "")
        found = _AT.findall(log)
        where = (int(found[-1][0]), int(found[-1][1])) if found else None
        if isinstance(pilot, CrafterPilot):
            action = pilot.act(prompt, step, where)
        else:
            action = pilot.act(prompt, step)
        return fmt(Action(text=action))

    return script


class _Stamps:
    """Wraps an agent factory and stamps the time each `act` starts."""

    def __init__(self, factory):
        self.factory = factory
        self.stamps: list[float] = []

    def __call__(self, ctx: EpisodeContext):
        agent = self.factory(ctx)
        inner = agent.act

        async def act(observation, previous):
            self.stamps.append(time.perf_counter())
            return await inner(observation, previous)

        agent.act = act
        return agent


# -- one episode --------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def _bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def play_episode(spec: EpisodeSpec, scaffold, out: Path) -> dict:
    """Plays `spec` through `run_suite` and measures it from the trace and the stamps."""
    family = spec.env_id.split("/")[0]
    model = ScriptedModel(pilot_script(family, scaffold.manifest.syntax), name="scripted-pilot")
    model.calls = collections.deque(maxlen=2)  # the model keeps every request otherwise
    timed = _Stamps(memory_agent_factory(scaffold, RoleModels.single(model)))
    start = time.perf_counter()
    result = asyncio.run(
        run_suite(Suite(name="bench", episodes=[spec]), timed, out, concurrency=1, progress=False)
    )
    wall = time.perf_counter() - start
    path = trace_path(out, spec)
    trace = read_trace(path)
    summary = result.episodes[0].summary
    model_s = [sum(t.latency_s for t in s.turns) for s in trace.steps]
    # A step's wall time: from its `act` to the next one (the agent, env.step, the trace line).
    harness = [
        b - a - m for (a, b), m in zip(itertools.pairwise(timed.stamps), model_s, strict=False)
    ]
    steps = len(trace.steps)
    return {
        "env": spec.env_id,
        "seed": spec.seed,
        "max_steps": spec.max_steps,
        "steps": steps,
        "ending": summary.ending if summary else "cut",
        "error": summary.error if summary else None,
        "wall_s": wall,
        "harness_p50_ms": 1000 * _pct(harness, 0.5),
        "harness_p99_ms": 1000 * _pct(harness, 0.99),
        "harness_mean_ms": 1000 * sum(harness) / max(1, len(harness)),
        "harness": harness,
        "model_ms_per_step": 1000 * sum(model_s) / max(1, steps),
        "trace_bytes_per_step": path.stat().st_size / max(1, steps),
        "memory_bytes_end": trace.steps[-1].memory_bytes if trace.steps else 0,
        "memory_dir_bytes": _bytes(memory_path(out, spec)),
        "calls_made": sum(len(s.turns) for s in trace.steps),
        "ops": dict(summary.op_counts) if summary else {},
        "actions": [s.executed_action for s in trace.steps],
    }


def raw_steps(spec: EpisodeSpec, actions: list[str]) -> tuple[list[float], int]:
    """The baseline: a fresh game stepping the same executed actions, `env.step` timed alone.
    Returns the times and the step the replay ended at (it should be the last one)."""
    env = make_from_spec(spec)
    env.reset()
    times, ended = [], len(actions)
    for i, action in enumerate(actions):
        t = time.perf_counter()
        result = env.step(action)
        times.append(time.perf_counter() - t)
        if result.done or result.truncated:
            ended = i + 1
            break
    env.close()
    return times, ended


# -- the table ----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--crafter-steps", type=int, default=None, help="default: the protocol's")
    p.add_argument("--nethack-steps", type=int, default=5000, help="cap (protocol: 100,000)")
    p.add_argument("--seed", type=int, default=42, help="the episodes' seed (paper: 42..51)")
    p.add_argument("--out", default=None, help="also write the rows as JSON here")
    p.add_argument("--keep", default=None, help="a directory to keep the runs in")
    args = p.parse_args(argv)
    protocol = load_protocol("paper")
    agent = protocol.agent
    manifest = with_sampling(
        read_manifest(builtin_scaffold(agent.scaffold)),
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
        max_rounds=agent.max_rounds,
    )
    scaffold = load_scaffold(builtin_scaffold(agent.scaffold))
    scaffold = dataclasses.replace(scaffold, manifest=manifest)  # as apps/play applies it
    print(f"# bench_protocol: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(protocol.summary(["crafter", "nethack"]) + f"; scripted pilot; seed {args.seed}")
    caps = {
        "crafter": args.crafter_steps or protocol.max_steps_for("crafter"),
        "nethack": min(args.nethack_steps, protocol.max_steps_for("nethack")),
    }
    work = Path(args.keep or tempfile.mkdtemp(prefix="bench-protocol-"))
    rows = []
    for env_id, cap in caps.items():
        missing = unavailable_reason(env_id)
        if missing:
            print(f"skip {env_id}: {missing}")
            continue
        spec = protocol.episode(env_id, args.seed, max_steps=cap)
        row = play_episode(spec, scaffold, work / env_id)
        raw, ended = raw_steps(spec, row.pop("actions"))
        beyond = [h - r for h, r in zip(row.pop("harness"), raw, strict=False)]  # same steps
        plan = plan_episodes(env_id, [spec], manifest)
        full = plan_episodes(env_id, [protocol.episode(env_id, args.seed)], manifest)
        row.update(
            raw_p50_ms=1000 * _pct(raw, 0.5),
            raw_p99_ms=1000 * _pct(raw, 0.99),
            beyond_p50_ms=1000 * _pct(beyond, 0.5),
            beyond_p99_ms=1000 * _pct(beyond, 0.99),
            replay_ended_at=ended,
            plan_calls=(plan.calls_typical, plan.calls_max),
            protocol_plan_calls=(full.calls_typical, full.calls_max),
            no_progress_steps=spec.no_progress_steps,
        )
        rows.append(row)
        print(
            f"  {env_id}: {row['steps']} steps, {row['ending']}, {row['wall_s']:.0f} s", flush=True
        )
    _table(rows)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _table(rows: list[dict]) -> None:
    head = (
        "| env | steps (cap) | ended | wall s | harness ms/step p50 / p99 | raw env.step ms p50 / "
        "p99 | ratio p50 | trace B/step | memory B at end | LLM calls plan typ..max | calls made |"
    )
    print("\n" + head)
    print("|" + "---|" * (head.count("|") - 1))
    for r in rows:
        ratio = r["harness_p50_ms"] / r["raw_p50_ms"] if r["raw_p50_ms"] else float("nan")
        typ, most = r["plan_calls"]
        print(
            f"| {r['env']} | {r['steps']:,} ({r['max_steps']:,}) | {r['ending']} | "
            f"{r['wall_s']:.1f} | {r['harness_p50_ms']:.2f} / {r['harness_p99_ms']:.2f} | "
            f"{r['raw_p50_ms']:.3f} / {r['raw_p99_ms']:.3f} | {ratio:.1f}x | "
            f"{r['trace_bytes_per_step']:,.0f} | {r['memory_bytes_end']:,} | "
            f"{typ:,}..{most:,} | {r['calls_made']:,} |"
        )
    for r in rows:
        typ, most = r["protocol_plan_calls"]
        notes = [
            f"harness mean {r['harness_mean_ms']:.2f} ms/step",
            f"beyond env.step (same step, harness - raw) p50 {r['beyond_p50_ms']:.2f} / "
            f"p99 {r['beyond_p99_ms']:.2f} ms",
            f"model's own time {r['model_ms_per_step']:.2f} ms/step (subtracted)",
            f"calls/step {r['calls_made'] / max(1, r['steps']):.2f}",
            f"ops {r['ops']}",
            f"raw replay ended at step {r['replay_ended_at']:,}",
        ]
        if r["max_steps"] != typ // 2:
            notes.append(f"uncapped protocol plan {typ:,}..{most:,} calls")
        if r["error"]:
            notes.append(f"error: {r['error'].splitlines()[0]}")
        print(f"- {r['env']}: " + "; ".join(notes))
    print(
        "(harness = wall between the agent's steps minus the model's time; ratio = harness / raw)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
