"""The trace tools both loops give a meta-LLM: index, step views, prompts as sent, grep with
per-file counts and caps, and sandboxed Python. Bundle-agnostic: they take a `TraceLibrary` and
a mapping of named read-only roots (`{"bundle": Path(...)}`, `{"pool": ..., "code": ...}`)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from automem_agent.meta._analysis import PRELUDE_HELP, AnalysisSettings, run_analysis
from automem_agent.meta._session import Handler, Tool, ToolError
from automem_agent.meta._traces import VIEW_CHARS, TraceLibrary, cut, format_index

GREP_PER_FILE = 5
GREP_TOTAL = 40
GREP_MAX_CONTEXT = 5
GREP_LINE_CHARS = 300
VIEW_MAX_STEPS = 50
SKIPPED_IN_FOLDERS = (".json", ".jsonl")
JSON_LIST_ITEMS = 100
_STEP_HEADER = re.compile(rb"^=== step (\d+) ")


def schema(required: list[str], body: str | None = None, **props: str) -> dict[str, Any]:
    """A JSON schema of flat typed properties. `body` names the string argument that the tag
    syntax takes as the call's raw body (so code is never escaped into a JSON string)."""
    out: dict[str, Any] = {
        "type": "object",
        "properties": {name: {"type": kind} for name, kind in props.items()},
        "required": required,
    }
    if body is not None:
        out["x-body"] = body
    return out


def _int(args: Mapping[str, Any], key: str, default: int) -> int:
    value = args.get(key, default)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ToolError(f"{key} must be an integer, got {value!r}") from None


def _json_index(index: Any, keep: int = JSON_LIST_ITEMS) -> dict[str, Any]:
    """An `EpisodeIndex` as plain data without byte offsets; a long list keeps its first
    `keep` items and gains a `<name>_total` count."""
    out: dict[str, Any] = {}
    for key, value in msgspec.to_builtins(index).items():
        if key.endswith("_offsets"):
            continue
        if isinstance(value, list) and len(value) > keep:
            out[f"{key}_total"] = len(value)
            value = value[:keep]
        out[key] = value
    return out


class RootResolver:
    """Maps display paths (`bundle/traces/x.txt`) to files under named roots, refusing any
    path that leaves its root (`..`, absolute paths, symlinks out)."""

    def __init__(self, roots: Mapping[str, str | Path]):
        self.roots = {name: Path(path).resolve() for name, path in roots.items()}

    def resolve(self, path: str) -> tuple[str, Path]:
        clean = (path or "").strip().strip("/")
        while clean.startswith("./"):
            clean = clean[2:]
        head, _, rest = clean.partition("/")
        if head not in self.roots:
            names = ", ".join(f"{n}/" for n in self.roots)
            raise ToolError(f"paths start with one of {names} (got {path!r})")
        root = self.roots[head]
        target = (root / rest).resolve()
        if not target.is_relative_to(root):
            raise ToolError(f"refused: {path!r} leaves {head}/")
        if not target.exists():
            raise ToolError(f"no such file or folder: {path!r}")
        return head, target

    def display(self, head: str, target: Path) -> str:
        rel = target.relative_to(self.roots[head]).as_posix()
        return head if rel == "." else f"{head}/{rel}"


def grep_files(
    pattern: str,
    files: list[tuple[str, Path]],
    *,
    regex: bool = False,
    ignore_case: bool = False,
    context: int = 0,
    per_file: int = GREP_PER_FILE,
    total: int = GREP_TOTAL,
) -> str:
    """Matching lines across `files` ((display name, path) pairs): per-file match counts, at
    most `per_file` hits shown per file and `total` in all, each with its line number, the step
    it belongs to (in rendered traces) and `context` lines around it; "N more" where capped."""
    flags = re.IGNORECASE if ignore_case else 0
    try:
        compiled = re.compile(pattern.encode() if regex else re.escape(pattern.encode()), flags)
    except re.error as exc:
        raise ToolError(f"bad regex {pattern!r}: {exc}") from None
    context = max(0, min(context, GREP_MAX_CONTEXT))
    counts: list[tuple[str, int]] = []
    sections: list[str] = []
    shown_total = 0
    for display, path in files:
        try:
            lines = path.read_bytes().split(b"\n")
        except OSError:
            continue
        hits = [i for i, line in enumerate(lines) if compiled.search(line)]
        if not hits:
            continue
        counts.append((display, len(hits)))
        room = min(per_file, total - shown_total)
        if room <= 0:
            continue
        step_of = _step_finder(lines)
        block = [f"{display}: {len(hits)} matching line{'s' if len(hits) != 1 else ''}"]
        last_printed = -1
        for i in hits[:room]:
            lo, hi = max(0, i - context, last_printed + 1), min(len(lines), i + context + 1)
            if context and block and lo > last_printed + 1 and last_printed >= 0:
                block.append("  --")
            for j in range(lo, hi):
                text = lines[j].decode("utf-8", errors="replace")[:GREP_LINE_CHARS]
                step = step_of(j)
                where = f"{j + 1}" + (f" [step {step}]" if step is not None else "")
                block.append(f"  {where}{':' if j == i else '-'} {text}")
            last_printed = hi - 1
        shown_total += min(room, len(hits))
        if len(hits) > room:
            block.append(f"  ({len(hits) - room} more in this file)")
        sections.append("\n".join(block))
    if not counts:
        return f"no line matches {pattern!r} in {len(files)} file(s)"
    matched = sum(n for _, n in counts)
    head = (
        f"{matched} matching lines in {len(counts)} of {len(files)} file(s); "
        f"showing at most {per_file} per file and {total} in all"
    )
    unshown = [(d, n) for d, n in counts if not any(s.startswith(f"{d}:") for s in sections)]
    tail = []
    if unshown:
        listed = ", ".join(f"{d} ({n})" for d, n in unshown[:20])
        more = f", ... {len(unshown) - 20} more" if len(unshown) > 20 else ""
        tail.append(f"({len(unshown)} more files with matches, not shown: {listed}{more})")
    return "\n".join([head, *sections, *tail]) + "\n"


def _step_finder(lines: list[bytes]) -> Callable[[int], int | None]:
    """Line number -> the `=== step N` block it sits in (None outside any), computed lazily."""
    marks: list[tuple[int, int]] | None = None

    def find(line: int) -> int | None:
        nonlocal marks
        if marks is None:
            marks = []
            for i, text in enumerate(lines):
                if text.startswith(b"=== step "):
                    m = _STEP_HEADER.match(text)
                    if m:
                        marks.append((i, int(m.group(1))))
        lo, hi, found = 0, len(marks), None
        while lo < hi:
            mid = (lo + hi) // 2
            if marks[mid][0] <= line:
                found, lo = marks[mid][1], mid + 1
            else:
                hi = mid
        return found

    return find


class TraceTools:
    """The read-only review tools over a `TraceLibrary` and named roots.

    `tools()` returns `index`, `view`, `prompts`, `grep` and `python` as `Tool`s for a
    `ToolSession`; every result is bounded. `analysis_cwd` is where analysis code runs.
    """

    def __init__(
        self,
        library: TraceLibrary,
        roots: Mapping[str, str | Path],
        *,
        analysis: AnalysisSettings | None = AnalysisSettings(),
        analysis_cwd: str | Path | None = None,
        default_grep_path: str | None = None,
    ):
        self.library = library
        self.resolver = RootResolver(roots)
        self.analysis = analysis
        self.analysis_cwd = Path(analysis_cwd or library.cache_dir)
        self.default_grep_path = default_grep_path or next(iter(self.resolver.roots))
        self.calls: dict[str, int] = {}

    def _episode(self, args: Mapping[str, Any]) -> str:
        name = str(args.get("episode", "") or "").strip()
        if name.endswith(".txt") or name.endswith(".jsonl"):
            name = Path(name).stem
        if name not in self.library.traces:
            known = ", ".join(self.library.names[:20])
            raise ToolError(f"no episode {name!r}; episodes: {known}")
        return name

    def index(self, args: Mapping[str, Any]) -> str:
        """One episode's index, or every episode's (bounded); `format="json"` gives the
        `EpisodeIndex` records (without byte offsets) for a program to parse."""
        names = [self._episode(args)] if args.get("episode") else self.library.names
        if not names:
            return "no episode traces here"
        indexes = [self.library.index(name) for name in names]
        if str(args.get("format") or "text") == "json":
            return cut(
                json.dumps([_json_index(i) for i in indexes]),
                8 * VIEW_CHARS,
                hint="Ask for one episode.",
            )
        parts = [format_index(i) for i in indexes]
        return cut("\n".join(parts), 4 * VIEW_CHARS, hint="Ask for one episode.")

    def view(self, args: Mapping[str, Any]) -> str:
        name = self._episode(args)
        start = _int(args, "start", 0)
        end = _int(args, "end", start + 9)
        if end - start + 1 > VIEW_MAX_STEPS:
            end = start + VIEW_MAX_STEPS - 1
        return self.library.view(name, start, end)

    def prompts(self, args: Mapping[str, Any]) -> str:
        name = self._episode(args)
        step = _int(args, "step", 0)
        try:
            return self.library.prompts(name, step)
        except IndexError as exc:
            raise ToolError(str(exc)) from None

    def grep(self, args: Mapping[str, Any]) -> str:
        pattern = args.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ToolError("grep needs a non-empty 'pattern'")
        head, target = self.resolver.resolve(str(args.get("path") or self.default_grep_path))
        if target.is_dir():
            # Raw JSON Lines and index files are one huge line per record: the rendered text
            # next to them is what a search should hit (name a .jsonl file to search it).
            paths = sorted(
                p for p in target.rglob("*") if p.is_file() and p.suffix not in SKIPPED_IN_FOLDERS
            )
        else:
            paths = [target]
        files = [(self.resolver.display(head, p), p) for p in paths]
        return grep_files(
            pattern,
            files,
            regex=bool(args.get("regex", False)),
            ignore_case=bool(args.get("ignore_case", False)),
            context=_int(args, "context", 0),
            per_file=max(1, min(_int(args, "per_file", GREP_PER_FILE), 20)),
            total=max(1, min(_int(args, "max_results", GREP_TOTAL), 100)),
        )

    def python(self, args: Mapping[str, Any]) -> str:
        code = args.get("code")
        if not isinstance(code, str) or not code.strip():
            raise ToolError("python needs the code to run as its body")
        if self.analysis is None:
            raise ToolError("the python tool is off in this session")
        self.library.prepare()  # the sandbox cannot write the cache, so it must be ready
        return run_analysis(
            code,
            traces=self.library.traces,
            cache_dir=self.library.cache_dir,
            cwd=self.analysis_cwd,
            settings=self.analysis,
            roots=self.resolver.roots,
        )

    def _counted(self, name: str, fn: Handler) -> Handler:
        def handler(args: dict[str, Any]) -> str | Awaitable[str]:
            self.calls[name] = self.calls.get(name, 0) + 1
            return fn(args)

        return handler

    def tools(self) -> list[Tool]:
        s = schema
        roots = ", ".join(f"{n}/" for n in self.resolver.roots)
        episodes = ", ".join(self.library.names[:12])
        out = [
            Tool(
                name="index",
                description=(
                    "Per-episode index: steps, how it ended, progression changes, stuck spans, "
                    "invalid actions, errors, memory op counts and growth, final memory files "
                    "with duplicate lines, truncated replies, what the scaffold's code did. Omit "
                    'episode for all; format="json" for records. Episodes: '
                    f"{episodes}{' ...' if len(self.library.names) > 12 else ''}."
                ),
                input_schema=s([], episode="string", format="string"),
                handler=self.index,
            ),
            Tool(
                name="view",
                description=(
                    f"Steps start..end of an episode as text (at most {VIEW_MAX_STEPS} steps "
                    f"and {VIEW_CHARS} characters; a cut view says where to continue)."
                ),
                input_schema=s(
                    ["episode", "start"], episode="string", start="integer", end="integer"
                ),
                handler=self.view,
            ),
            Tool(
                name="prompts",
                description=(
                    "The exact messages the agent's models received at one step (system "
                    "prompt with hook output, observation, memory index, earlier rounds) and "
                    "each reply."
                ),
                input_schema=s(["episode", "step"], episode="string", step="integer"),
                handler=self.prompts,
            ),
            Tool(
                name="grep",
                description=(
                    f"Lines matching pattern under a path ({roots} default "
                    f"{self.default_grep_path}/): per-file counts, line numbers and steps, "
                    f"context lines (<= {GREP_MAX_CONTEXT}), at most per_file hits per file "
                    f"(default {GREP_PER_FILE}) and max_results in all (default {GREP_TOTAL})."
                ),
                input_schema=s(
                    ["pattern"],
                    pattern="string",
                    path="string",
                    regex="boolean",
                    ignore_case="boolean",
                    context="integer",
                    per_file="integer",
                    max_results="integer",
                ),
                handler=self.grep,
            ),
        ]
        if self.analysis is not None:
            out.append(
                Tool(
                    name="python",
                    description=(
                        "Run Python over the traces in a sandbox (read-only, no network, "
                        f"{self.analysis.wall_s:g} s) and see its printed output (at most "
                        f"{self.analysis.max_output_chars} characters). {PRELUDE_HELP}"
                    ),
                    input_schema=s(["code"], body="code", code="string"),
                    handler=self.python,
                )
            )
        return [
            Tool(
                name=t.name,
                description=t.description,
                input_schema=t.input_schema,
                handler=self._counted(t.name, t.handler),
            )
            for t in out
        ]
