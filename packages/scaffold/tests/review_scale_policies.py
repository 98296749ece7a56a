"""Scripted parts of the review-at-scale test and `tools/bench_review.py` (importable as
`scripted:review_scale_policies:agent_policy`).

`agent_policy` plays real Crafter by reading its prompt: it drinks, eats and fights when it must;
otherwise it has a bad habit, `make wood pickaxe` with nothing to make it from. After the
scaffold sends an action back ("ACTION REJECTED"), it collects wood, places a table and makes
the pickaxe. Every LOG phase appends the same status lines to notes.md, so that file bloats
with duplicates.

`ScaleReviewer` is a scripted meta-LLM with native tool use. It surveys the bundle the way a
careful reviewer would (the index, targeted reads, one Python analysis), finds the bloated
duplicate-appending file and the failing craft, and writes a code-level revision: a keyed
schema for the file and an action gate in the agent program. Its token counts are what a
provider would bill: the request's characters / 4, the unchanged prefix as cache reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Generator
from typing import Any

from automem_agent import ChatRequest, ChatResponse, ToolCall

# -- the agent --------------------------------------------------------------------------------
_WHERE = re.compile(r"(\d+) (north|south|east|west)(?: and (\d+) (north|south|east|west))?")
_STATUS = re.compile(r"health (\d+)/9, food (\d+)/9, drink (\d+)/9, energy (\d+)/9")
_FACE = re.compile(r"You face ([a-z ]+?) \((\w+)\)")
DIRS = ["north", "east", "south", "west"]
WALK = ("grass", "sand", "path")


def _seen(obs: str) -> dict[str, re.Match[str]]:
    """Thing -> its offset match, from "You see: tree 3 north and 2 east; water 4 west."."""
    out: dict[str, re.Match[str]] = {}
    m = re.search(r"You see: ([^\n]*)\.", obs)
    for part in m.group(1).split("; ") if m else []:
        w = _WHERE.search(part)
        if w:
            out.setdefault(part[: w.start()].strip(), w)
    return out


def _distance(w: re.Match[str]) -> int:
    return int(w.group(1)) + int(w.group(3) or 0)


def _inventory(obs: str) -> dict[str, int]:
    m = re.search(r"Inventory: ([^\n]*)\.", obs)
    items: dict[str, int] = {}
    for part in m.group(1).split(", ") if m and m.group(1) != "empty" else []:
        name, _, n = part.rpartition(" ")
        if n.isdigit():
            items[name] = int(n)
    return items


def _toward(w: re.Match[str], obs: str) -> str:
    order = [w.group(2), w.group(4)]
    if w.group(3) and int(w.group(3)) > int(w.group(1)):
        order.reverse()
    order = [d for d in order if d]
    face = _FACE.search(obs)
    if face and face.group(1) not in WALK and face.group(2) == order[0] and _distance(w) > 1:
        if len(order) > 1:  # blocked on the way: the other axis, or a step aside
            return f"move {order[1]}"
        return f"move {DIRS[(DIRS.index(order[0]) + 1) % 4]}"
    return f"move {order[0]}"


def _explore(obs: str, step: int) -> str:
    d = DIRS[(step // 40) % 4]
    face = _FACE.search(obs)
    if face and face.group(1) not in WALK and face.group(2) == d:
        return f"move {DIRS[(DIRS.index(d) + 1 + (step // 7) % 2 * 2) % 4]}"
    return f"move {d}"


def _needs(obs: str, step: int) -> str | None:
    """What survival asks for now, if anything."""
    s = _STATUS.search(obs)
    _, food, drink, energy = (int(x) for x in s.groups()) if s else (9, 9, 9, 9)
    face = _FACE.search(obs)
    facing = face.group(1) if face else ""
    things = _seen(obs)
    if facing in ("zombie", "skeleton"):
        return "do"
    if "zombie" in things and _distance(things["zombie"]) <= 2:
        return _toward(things["zombie"], obs)
    if energy <= 1 and "zombie" not in things:
        return "sleep"
    for need, level in (("water", drink), ("cow", food)):
        if level <= 6:
            if facing == need:
                return "do"
            if need in things:
                return _toward(things[need], obs)
    if drink <= 3 or food <= 3:
        return _explore(obs, step)
    return None


def _wood_routine(obs: str, step: int) -> str:
    inv, things = _inventory(obs), _seen(obs)
    face = _FACE.search(obs)
    facing = face.group(1) if face else ""
    wood = inv.get("wood", 0)
    table_near = "table" in things and _distance(things["table"]) <= 1
    if "wood pickaxe" not in inv and wood >= 1 and table_near:
        return "make wood pickaxe"
    if "table" not in things and wood >= 2 and facing in WALK:
        return "place table"
    if facing == "tree":
        return "do"
    if "tree" in things:
        return _toward(things["tree"], obs)
    return _explore(obs, step)


def crafter_action(obs: str, step: int, *, told: bool) -> str:
    """The action of the habit-bound agent; `told`: the scaffold just sent its action back."""
    need = _needs(obs, step)
    if need:
        return need
    if not told and "wood pickaxe" not in _inventory(obs):
        return "make wood pickaxe"  # the habit: crafting with nothing to craft from
    return _wood_routine(obs, step)


def agent_policy(request: ChatRequest) -> str:
    last = request.messages[-1].content if request.messages else ""
    if last.startswith("LOG phase"):
        obs = last
        status = _STATUS.search(obs)
        face = _FACE.search(obs)
        lines = [
            f"status: {status.group(0) if status else 'unknown'}",
            f"facing: {face.group(1) if face else 'unknown'}",
        ]
        return "".join(f"<|APPEND|>notes.md|{line}<|END|>" for line in lines) + "<|DONE|>"
    plan = next((m.content for m in request.messages if m.content.startswith("PLAN phase")), "")
    m = re.match(r"PLAN phase, step (\d+)", plan)
    step = int(m.group(1)) if m else 0
    action = crafter_action(plan, step, told="ACTION REJECTED" in last)
    return f"<|ACTION|>{action}<|END|>"


# -- the revision -----------------------------------------------------------------------------
KEYED_RULE = """
[[memory.schema.rules]]
pattern = "notes.md"
keyed_by = '^\\s*([A-Za-z][A-Za-z0-9 _-]{0,30}):'
description = "one line per key (status:, facing:, ...): a new value replaces the old line"
"""

GATE = '''

import re

_NEAR_TABLE = re.compile(r"table (\\d+) \\w+(?: and (\\d+) \\w+)?[;.]")


class Agent:
    """Gate crafts whose prerequisites are missing, with a message that says what to do."""

    def __init__(self, episode):
        self.rejected = 0

    def check_action(self, action, step):
        if action != "make wood pickaxe":
            return None
        inventory = step.observation.inventory
        near = _NEAR_TABLE.search(step.observation.text)
        table = near is not None and int(near.group(1)) + int(near.group(2) or 0) <= 1
        if inventory.get("wood", 0) < 1:
            self.rejected += 1
            return "you need wood first: face a tree and use do (then place a table)"
        if not table:
            self.rejected += 1
            return "you need a table next to you: place table (it costs wood), then make it"
        return None
'''


# -- the reviewer -----------------------------------------------------------------------------
ANALYSIS = """
rows = []
for name in library.names:
    n = library.index(name).steps
    crafts = failed = appends = 0
    lines = []
    records = list(library.steps(name, 0, n - 1))
    for i, record in enumerate(records):
        if record.action == 'make wood pickaxe':
            crafts += 1
            after = records[i + 1].observation if i + 1 < n else ''
            same = re.findall('Inventory: .*', record.observation) == re.findall('Inventory: .*', after)
            failed += same
        for turn in record.turns:
            for call in turn.calls:
                if type(call).__name__ == 'Append' and call.path == 'notes.md':
                    appends += 1
                    lines.append(call.content)
    rows.append((name, n, crafts, failed, appends, len(lines) - len(set(lines))))
print(json.dumps(rows))
"""

Program = Generator[list[ToolCall], dict[str, str], None]
_MEMORY_ROW = re.compile(r"^  - (\S+): (\d+) B, (\d+) lines, (\d+) duplicates$", re.M)
_EPISODE = re.compile(r"^## (\S+): (\S+) seed (\d+), (\d+) steps, ended: (.+)$", re.M)


class ScaleReviewer:
    """The scripted meta-LLM of the scale test (see the module docstring). `reads` counts the
    targeted reads a survey makes; `findings` holds what it concluded."""

    name = "scripted-scale-reviewer"
    supports_tools = True
    supports_grammar = False

    def __init__(self, reads: int = 20) -> None:
        self.reads = reads
        self.findings: dict[str, Any] = {}
        self._program: Program | None = None
        self._previous: list[str] = []
        self.requests: list[ChatRequest] = []
        self.n = 0

    def _call(self, name: str, **args: Any) -> ToolCall:
        self.n += 1
        return ToolCall(id=f"s{self.n}", name=name, input=args)

    def _usage(self, request: ChatRequest, calls: list[ToolCall]) -> dict[str, int]:
        texts = [
            m.content + "".join(r.content for r in m.tool_results)
            + "".join(json.dumps(c.input) for c in m.tool_calls)
            for m in request.messages
        ]  # fmt: skip
        schema = sum(len(json.dumps(t.input_schema)) + len(t.description) for t in request.tools)
        same = 0
        for a, b in zip(texts, self._previous, strict=False):
            if a != b:
                break
            same += 1
        self._previous = texts
        total = (sum(map(len, texts)) + schema) // 4
        cached = (sum(map(len, texts[:same])) + schema) // 4 if same else 0
        out = sum(len(json.dumps(c.input)) for c in calls) // 4
        return {"input_tokens": total, "cache_read_tokens": cached, "output_tokens": out}

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if not any(m.role == "assistant" for m in request.messages):
            task = request.messages[-1].content
            iteration = re.search(r"Iteration (\d+)", task)
            self._program = self._survey(int(iteration.group(1)) if iteration else 1)
            calls = next(self._program)
        else:
            results = {r.call_id: r.content for r in request.messages[-1].tool_results}
            try:
                calls = self._program.send(results) if self._program else []
            except StopIteration:
                calls = []
            if not calls:
                calls = [self._call("finish", rationale="Nothing more to change.")]
        return ChatResponse(
            text="", model=self.name, finish_reason="tool_use", tool_calls=calls,
            **self._usage(request, calls),
        )  # fmt: skip

    def _survey(self, iteration: int) -> Program:
        call = self._call
        first = [call("index"), call("read", path="bundle/summary.md")]
        got = yield first
        index = got[first[0].id]
        episodes = _EPISODE.findall(index)
        memory = {}  # episode -> [(path, bytes, lines, duplicates)]
        for block in re.split(r"(?m)^(?=## )", index):
            head = _EPISODE.search(block)
            if head:
                memory[head.group(1)] = [
                    (p, int(b), int(n), int(d)) for p, b, n, d in _MEMORY_ROW.findall(block)
                ]
        bloated = sorted(
            {p for rows in memory.values() for p, _, n, d in rows if n >= 10 and d / n >= 0.5}
        )
        self.findings["episodes"] = len(episodes)
        self.findings["bloated"] = bloated
        # Targeted reads: the start, the middle and the end of a few episodes, the prompts of
        # one step, the habit in the traces, the bloated file, the incumbent's code.
        names = [e[0] for e in episodes]
        steps = {e[0]: int(e[3]) for e in episodes}
        reads: list[ToolCall] = [
            call("read", path="bundle/scaffold/scaffold.toml"),
            call("read", path="bundle/scaffold/hooks.py"),
            call("grep", pattern="action 'make wood pickaxe'", path="bundle/traces", per_file=2),
            call("prompts", episode=names[0], step=min(5, steps[names[0]] - 1)),
        ]
        for path in bloated[:1]:
            env, seed = names[0].split("__")
            reads.append(call("tail", path=f"bundle/memory/{env}/{seed}/{path}", n=20))
        i = 0
        while len(reads) < self.reads and names:
            name = names[i % len(names)]
            at = [0, steps[name] // 2, max(0, steps[name] - 5)][(i // len(names)) % 3]
            reads.append(call("view", episode=name, start=at, end=at + 4))
            i += 1
        reads = reads[: self.reads]
        got = yield reads[:10]
        self.findings["read_results"] = [got[c.id] for c in reads[:10]]
        got = yield reads[10:] or [call("index", episode=names[0])]
        self.findings["read_results"] += [got[c.id] for c in reads[10:]]
        analysis = call("python", code=ANALYSIS)
        got = yield [analysis]
        out = got[analysis.id]
        try:
            rows = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            rows = []
        crafts = sum(r[2] for r in rows)
        failed = sum(r[3] for r in rows)
        total = sum(r[1] for r in rows)
        dup = sum(r[5] for r in rows)
        appends = sum(r[4] for r in rows)
        self.findings.update(crafts=crafts, failed=failed, steps=total, dup=dup, appends=appends)
        if not (bloated and total and crafts / total > 0.3 and appends and dup / appends > 0.5):
            yield [
                call(
                    "finish",
                    rationale=(
                        f"Survey of {len(rows)} episodes ({total} steps): no bloated file with "
                        f"duplicates, failed crafts {failed}/{crafts}; nothing to change."
                    ),
                )
            ]
            return
        manifest = call("read", path="candidate/scaffold.toml")
        hooks = call("read", path="candidate/hooks.py")
        got = yield [manifest, hooks]
        code = "\n".join(
            line.split("\t", 1)[1] for line in got[hooks.id].splitlines()[1:] if "\t" in line
        )
        edits = [
            call("append", path="candidate/scaffold.toml", content=KEYED_RULE),
            call("write_file", path="candidate/hooks.py", content=code.rstrip() + "\n" + GATE),
        ]
        got = yield edits
        check = call("dry_run", episode=names[0], start=0, end=9)
        got = yield [check]
        self.findings["dry_run"] = got[check.id]
        validate = call("validate")
        got = yield [validate]
        self.findings["validate"] = got[validate.id]
        yield [
            call(
                "finish",
                rationale=(
                    f"{', '.join(bloated)} bloats: {dup} of {appends} appends repeat an earlier "
                    f"line; now keyed (one line per key). The agent spent {crafts} of {total} "
                    f"steps on `make wood pickaxe` with nothing to make it from ({failed} did "
                    "nothing); the agent program now sends such an action back with what to do "
                    "first (collect wood, place a table)."
                ),
            )
        ]
