"""`--meta-llm rules`: a rule-based reviewer, the offline default and an ablation baseline.

It is not a meta-LLM. It stands where one would stand: a `ChatModel` with native tool use that
works through the same review session, reading the same bundle with the same tools (the
per-episode `index`, `grep` over the traces, `read` of the final memories) and editing
`candidate/` with the same write tools. A fixed program turns trace
diagnostics into revisions, each stated in the rationale that lands in `review.md`:

- duplicate or bloated appends to a file  -> a keyed schema (lines that look like `key: value`)
  or a line cap for that file;
- an invalid action proposed repeatedly   -> an alias onto the closest valid action;
- stuck spans                             -> an earlier, more specific stuck warning;
- memory files never read nor written     -> removed from the initial memory;
- replies cut at max_tokens               -> a larger token budget for that phase.

It asks "does an LLM reviewer beat simple rules?" with the same gate and the same seeds.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
from collections import Counter
from collections.abc import Generator
from typing import Any

from automem_agent import ChatRequest, ChatResponse, ToolCall

RULES = "rules"  # the --meta-llm spec
NAME = "rules (rule-based baseline, not a meta-LLM)"

DUPLICATE_SHARE = 0.3  # appended lines already seen before in the same file
BLOAT_CHARS_PER_STEP = 40.0  # memory growth that calls for a cap even without duplicates
LINE_CAP = 20
INVALID_REPEATS = 2
TRUNCATED_SHARE = 0.1
MAX_TRACES = 8

# a grep result's first line: "N matching lines in M of K file(s)..." or "no line matches ..."
_GREP_HEAD = re.compile(r"^(\d+) matching lines? in ")
# a shown hit on a step header: "  12 [step 3]: === step 3 | ... | action 'x' (INVALID, ran 'y')"
_INVALID_HIT = re.compile(r"\]: === step \d+ \|.*?\| action '(?P<action>.*?)' \(INVALID, ran ")
_LISTED = re.compile(r"^(?P<path>\S+)\s+\d+ lines?\b", re.M)
_NUMBERED = re.compile(r"^\d+\t(?P<text>.*)$")
KEY_PATTERN = r"^\s*([A-Za-z][A-Za-z0-9 _-]{0,30}):"
_KEYED = re.compile(KEY_PATTERN)

Program = Generator[list[ToolCall], dict[str, str], None]


class _Calls:
    """Numbers tool calls so their results can be found again by id."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, name: str, **args: Any) -> ToolCall:
        self.n += 1
        return ToolCall(id=f"rules-{self.n}", name=name, input=args)


def _numbered_text(result: str) -> str | None:
    """The file text inside a `read` result (line numbers stripped), or None if not a file."""
    lines = result.splitlines()
    body = [m["text"] for line in lines[1:] if (m := _NUMBERED.match(line))]
    return "\n".join(body) + "\n" if body else None


def _total(result: str) -> int:
    """How many lines a grep result says matched (0 for "no line matches")."""
    head = _GREP_HEAD.match(result)
    return int(head[1]) if head else 0


def _touches(path: str) -> str:
    """A regex for a pipe-syntax op that names `path` (read, search in, write, ...)."""
    ops = "READ|SEARCH|TAIL|COUNT|APPEND|WRITE|CREATE|STR_REPLACE|INSERT|DELETE|RENAME"
    return rf"<\|({ops})\|>\s*{re.escape(path)}\b"


def _set_key(text: str, section: str, key: str, value: str) -> str:
    """`text` (TOML) with `key = value` set inside `[section]` ("" = the top level)."""
    lines = text.splitlines()
    if section:
        try:
            start = lines.index(f"[{section}]") + 1
        except ValueError:
            return text.rstrip("\n") + f"\n\n[{section}]\n{key} = {value}\n"
    else:
        start = 0
    end = next(
        (i for i in range(start, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    for i in range(start, end):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            lines[i] = f"{key} = {value}"
            return "\n".join(lines) + "\n"
    at = end
    while at > start and not lines[at - 1].strip():
        at -= 1
    lines.insert(at, f"{key} = {value}")
    return "\n".join(lines) + "\n"


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RulesReviewer:
    """The rule-based reviewer as a tool-using `ChatModel` (see the module docstring)."""

    name = NAME
    supports_tools = True
    supports_grammar = False

    def __init__(self) -> None:
        self._program: Program | None = None
        self._pending: dict[str, ToolCall] = {}

    async def complete(self, request: ChatRequest) -> ChatResponse:
        if not any(m.role == "assistant" for m in request.messages):
            self._program = self._review()  # a new session
            results: dict[str, str] | None = None
        else:
            last = request.messages[-1]
            results = {r.call_id: r.content for r in last.tool_results}
        calls: list[ToolCall] | None = None
        if self._program is not None:
            try:
                calls = next(self._program) if results is None else self._program.send(results)
            except StopIteration:
                self._program = None
        if calls is None:  # the program is done: a repair request or a finish refusal
            note = request.messages[-1].content.strip().splitlines()
            why = note[0] if note else "no further rule applies"
            calls = [
                ToolCall(
                    id="rules-end",
                    name="finish",
                    input={"rationale": f"Rule-based baseline: nothing more to change ({why})."},
                )
            ]
        return ChatResponse(
            text="", model=NAME, finish_reason="tool_use", tool_calls=calls, latency_s=0.0
        )

    # -- the program -----------------------------------------------------------------------
    def _review(self) -> Program:
        call = _Calls()
        first = [
            call("read", path="bundle/summary.md"),
            call("read", path="candidate/scaffold.toml"),
            call("index", format="json"),
            call("list", path="bundle/memory"),
            call("list", path="candidate/memory"),
        ]
        got = yield first
        _, manifest_res, index_res, memory_res, initial_res = (got[c.id] for c in first)
        manifest_text = _numbered_text(manifest_res) or ""
        try:
            manifest = tomllib.loads(manifest_text)
        except tomllib.TOMLDecodeError:
            manifest = None
        try:
            indexes = json.loads(index_res)[:MAX_TRACES]
        except ValueError:
            indexes = []  # no traces (or an index too big to parse): the rules see nothing
        final_files = _LISTED.findall(memory_res)
        actions_files = [p for p in final_files if p.endswith("reference/actions.md")]
        initial = [
            p.removeprefix("candidate/memory/")
            for p in _LISTED.findall(initial_res)
            if p.startswith("candidate/memory/")
        ]

        second: list[ToolCall] = []
        memory_reads: dict[str, list[ToolCall]] = {}
        invalid_greps: list[ToolCall] = []
        for ix in indexes:
            where = f"bundle/memory/{ix['env_id']}/{ix['seed']}/"
            for f in ix.get("memory_files", []):
                if f["path"].startswith("reference/") or f["lines"] < 3:
                    continue
                bloated = ix.get("memory_growth_per_step", 0.0) >= BLOAT_CHARS_PER_STEP
                if f["duplicate_lines"] / f["lines"] >= DUPLICATE_SHARE or bloated:
                    read = call("read", path=where + f["path"])
                    memory_reads.setdefault(f["path"], []).append(read)
                    second.append(read)
            if ix.get("invalid_steps"):
                grep = call(
                    "grep",
                    path=f"bundle/traces/{ix['name']}.txt",
                    pattern="INVALID, ran",
                    per_file=20,
                )
                invalid_greps.append(grep)
                second.append(grep)
        phase_greps = {}
        for phase in ("log", "plan"):
            phase_greps[phase] = (
                call("grep", path="bundle/traces", pattern=f"^--- {phase} round ", regex=True),
                call(
                    "grep",
                    path="bundle/traces",
                    pattern=f"^--- {phase} round .*cut at max_tokens",
                    regex=True,
                ),
            )
            second.extend(phase_greps[phase])
        read_greps = {
            f: call("grep", path="bundle/traces", pattern=_touches(f), regex=True)
            for f in initial
            if not f.startswith("reference/")
        }
        second.extend(read_greps.values())
        if read_greps:
            second.append(
                search_all := call(
                    "grep", path="bundle/traces", pattern=r"<\|SEARCH\|>[^|<]*<\|END\|>", regex=True
                )
            )
        else:
            search_all = None
        if actions_files:
            second.append(actions_call := call("read", path=actions_files[0]))
        else:
            actions_call = None
        got = yield second

        findings = self._diagnose(
            indexes,
            {path: [got[c.id] for c in calls] for path, calls in memory_reads.items()},
            [got[c.id] for c in invalid_greps],
            {p: (_total(got[a.id]), _total(got[b.id])) for p, (a, b) in phase_greps.items()},
            {f: _total(got[c.id]) for f, c in read_greps.items()},
            _total(got[search_all.id]) if search_all is not None else 0,
        )
        valid_actions = []
        if actions_call is not None:
            valid_actions = [
                line.strip() for line in (_numbered_text(got[actions_call.id]) or "").splitlines()
            ]
            valid_actions = [a for a in valid_actions if a and not a.startswith("#")]
        edits, statements = self._revise(findings, manifest_text, manifest, valid_actions)
        third: list[ToolCall] = []
        for path, content in edits.get("write", {}).items():
            third.append(call("write_file", path=path, content=content))
        for path in edits.get("delete", []):
            third.append(call("delete", path=path))
        rationale = self._rationale(findings, statements)
        third.append(call("finish", rationale=rationale))
        yield third

    # -- diagnostics -------------------------------------------------------------------------
    def _diagnose(
        self,
        indexes: list[dict[str, Any]],
        memory_texts: dict[str, list[str]],
        invalid_results: list[str],
        phases: dict[str, tuple[int, int]],
        touched: dict[str, int],
        searched_all: int,
    ) -> dict[str, Any]:
        appended: dict[str, list[str]] = {}
        duplicates: dict[str, tuple[int, int]] = {}
        for path, results in memory_texts.items():
            lines = [
                line
                for result in results
                for line in (_numbered_text(result) or "").splitlines()
                if line.strip()
            ]
            appended[path] = lines
            duplicates[path] = (len(lines) - len(set(lines)), len(lines))
        invalid: Counter[str] = Counter()
        for result in invalid_results:
            for m in _INVALID_HIT.finditer(result):
                invalid[m["action"]] += 1
        growth = [ix.get("memory_growth_per_step", 0.0) for ix in indexes]
        stuck = [
            (ix["name"], ", ".join(f"{a}-{b} ({b - a + 1})" for a, b in ix["stuck_spans"][:6]))
            for ix in indexes
            if ix.get("stuck_spans")
        ]
        never_read = [f for f, n in touched.items() if n == 0 and searched_all == 0]
        return {
            "traces": len(indexes),
            "steps": sum(ix.get("steps", 0) for ix in indexes),
            "appended": appended,
            "duplicates": duplicates,
            "growth": sum(growth) / len(growth) if growth else 0.0,
            "invalid": invalid,
            "stuck": stuck,
            "never_read": never_read,
            "initial_files": len(touched),
            "turns": {p: t for p, (t, _) in phases.items()},
            "cut": {p: c for p, (_, c) in phases.items()},
        }

    # -- revisions ---------------------------------------------------------------------------
    def _revise(
        self,
        f: dict[str, Any],
        text: str,
        manifest: dict[str, Any] | None,
        valid_actions: list[str],
    ) -> tuple[dict[str, Any], list[str]]:
        statements: list[str] = []
        edits: dict[str, Any] = {"write": {}, "delete": []}
        if manifest is None:
            return edits, ["candidate/scaffold.toml could not be read back as TOML: no edit made"]
        new = text
        # 1. duplicate or bloated appends -> keyed schema or line cap
        schema_rules = manifest.get("memory", {}).get("schema", {}).get("rules", [])
        governed = {
            r.get("pattern") for r in schema_rules if r.get("max_lines") or r.get("keyed_by")
        }
        for path, (dup, total) in sorted(f["duplicates"].items(), key=lambda kv: -kv[1][1]):
            if path in governed or path.startswith("reference/") or total < 3:
                continue
            share = dup / total
            if share < DUPLICATE_SHARE and f["growth"] < BLOAT_CHARS_PER_STEP:
                continue
            keys = Counter(
                m[1].strip().lower() for line in f["appended"][path] if (m := _KEYED.match(line))
            )
            keyed = keys and sum(keys.values()) >= 0.5 * total and len(keys) < sum(keys.values())
            block = ["", "[[memory.schema.rules]]", f"pattern = {_toml_str(path)}"]
            if keyed:
                block.append(f"keyed_by = {_toml_str(KEY_PATTERN)}")
                change = (
                    "a keyed schema (an append whose `key:` is already there replaces that line)"
                )
            else:
                block.append(f"max_lines = {LINE_CAP}")
                change = f"a cap of {LINE_CAP} lines (a write past it is refused with a message to compact)"
            block.append(f"description = {_toml_str('kept short: one line per fact, no repeats')}")
            new = new.rstrip("\n") + "\n" + "\n".join(block) + "\n"
            statements.append(
                f"Appends to {path}: {total} in {f['traces']} episode(s), {dup} repeating an earlier "
                f"line ({share:.0%}); memory grew {f['growth']:.1f} B/step. Change: {path} gets {change}."
            )
            break  # one schema change per revision, so the gate can attribute the effect
        # 2. repeated invalid actions -> aliases
        aliases = dict(manifest.get("action_aliases", {}))
        added = {}
        for action, n in f["invalid"].most_common():
            if n < INVALID_REPEATS or action in aliases or not valid_actions:
                continue
            target = _closest_action(action, valid_actions)
            if target is not None:
                added[action] = target
        if added:
            aliases.update(added)
            body = ", ".join(f"{_toml_str(k)} = {_toml_str(v)}" for k, v in sorted(aliases.items()))
            new = _set_key(new, "", "action_aliases", "{ " + body + " }")
            shown = "; ".join(f"{k!r} x{f['invalid'][k]} -> {v!r}" for k, v in added.items())
            statements.append(
                f"Invalid actions proposed repeatedly: {shown}. Change: action_aliases map them."
            )
        # 3. stuck spans -> stuck-warning changes
        if f["stuck"]:
            stuck = manifest.get("stuck", {})
            window = int(stuck.get("window", 5))
            new_window = max(2, window - 1)
            message = (
                "WARNING: the observation has not changed for $steps steps: your last actions did "
                "nothing. Do not repeat them; pick a different action from the list (for example "
                "move in another direction, or do when facing something useful)."
            )
            new = _set_key(new, "stuck", "window", str(new_window))
            new = _set_key(new, "stuck", "message", _toml_str(message))
            spans = "; ".join(f"{k}: {v}" for k, v in f["stuck"][:4])
            statements.append(
                f"Stuck spans ({spans}). Change: the stuck warning fires after {new_window} unchanged "
                f"steps instead of {window}, and says what to do instead."
            )
        # 4. files never read -> removal, unless none would be left: a scaffold needs its
        # initial memory directory, and an agent that ignored every file wrote its own
        unused = f["never_read"]
        if unused and len(unused) >= f["initial_files"]:
            statements.append(
                f"No initial memory file ({', '.join(unused)}) was read, searched or "
                f"written in {f['steps']} steps. No change: removing them all would leave no "
                "initial memory."
            )
            unused = []
        for path in unused:
            edits["delete"].append(f"candidate/memory/{path}")
            statements.append(
                f"{path} was never read, searched or written in {f['steps']} steps. Change: removed "
                "from the initial memory (one less file in every index the agent reads)."
            )
        # 5. truncated replies -> larger budgets
        for phase in ("log", "plan"):
            turns, cut = f["turns"][phase], f["cut"][phase]
            if not turns or cut / turns < TRUNCATED_SHARE:
                continue
            old = int(manifest.get(phase, {}).get("max_tokens", 256))
            bigger = min(4096, int(old * 1.5) + 1)
            new = _set_key(new, phase, "max_tokens", str(bigger))
            statements.append(
                f"{cut} of {turns} {phase.upper()} replies were cut at max_tokens={old}. "
                f"Change: {phase} max_tokens {old} -> {bigger}."
            )
        if new != text:
            try:
                tomllib.loads(new)
            except tomllib.TOMLDecodeError as exc:
                return {"write": {}, "delete": []}, [
                    f"internal error: the edited manifest is not TOML ({exc}); no edit made"
                ]
            edits["write"]["candidate/scaffold.toml"] = new
        return edits, statements

    def _rationale(self, f: dict[str, Any], statements: list[str]) -> str:
        head = (
            f"Rule-based baseline (not a meta-LLM). Read {f['traces']} trace(s), {f['steps']} steps, "
            "through the review tools."
        )
        if not statements:
            return (
                head + " No rule fired: no duplicate or bloated appends, repeated invalid "
                "actions, stuck spans, unread files or truncated replies."
            )
        return head + "\n" + "\n".join(f"- {s}" for s in statements)


# Words models use for what the games call otherwise (Crafter's and NetHack's directions).
_SYNONYMS = {
    "left": "west", "right": "east", "up": "north", "down": "south",
    "walk": "move", "go": "move", "step": "move", "run": "move",
    "craft": "make", "build": "make", "attack": "do", "collect": "do", "interact": "do",
    "wait": "noop", "rest": "sleep",
}  # fmt: skip


def _closest_action(action: str, valid: list[str]) -> str | None:
    """The valid action `action` most likely means: synonyms first, then string similarity."""
    words = [_SYNONYMS.get(w, w) for w in re.findall(r"[a-z]+", action.lower())]
    normal = " ".join(words)
    lowered = {a.lower(): a for a in valid}
    if normal in lowered:
        return lowered[normal]
    match = difflib.get_close_matches(normal, list(lowered), n=1, cutoff=0.5)
    return lowered[match[0]] if match else None
