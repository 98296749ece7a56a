"""The reviewer's tools: the shared review toolset of `automem_agent.meta` over the bundle, file
ops on memfs stores, a dry run of the candidate's code on recorded steps, and validation.

The workspace has two roots: `bundle/` (read-only: traces, summary, final memories, the
incumbent scaffold) and `candidate/` (the writable copy of the scaffold being revised).

- trace tools (`index`, `view`, `prompts`, `grep`, `python`) are `TraceTools` over the bundle's
  `TraceLibrary`; `python` runs in bubblewrap with the bundle read-only;
- file tools are memfs ops, with memfs's own tool schemas (`tool_schemas`): `list`, `read`,
  `tail`, `count` on either root, and `write_file`, `create_file`, `append`, `str_replace`,
  `insert`, `delete`, `rename` on `candidate/` only. Every path goes through a memfs store, so
  `..`, absolute paths and symlinks are refused; a write aimed anywhere but `candidate/` is
  refused, reported to the model and counted in `escapes`;
- `dry_run` runs candidate/'s hooks and agent program (in their sandboxed worker) on recorded
  steps of a bundle episode (`automem_agent.replay_hooks`) and shows what they produce.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from automem_agent import HookLimits, ScaffoldError, load_scaffold, replay_hooks
from automem_agent.meta import (
    VIEW_CHARS,
    AnalysisSettings,
    Tool,
    ToolError,
    TraceTools,
    cut,
)
from automem_agent.trace import Trace
from automem_memfs import Limits, MemoryStore, Op, ParseError, call_from_tool, tool_schemas

from automem_scaffold._bundle import bundle_library, read_header

# The bundle holds whole traces: allow big files, deep trees and many files, but keep each
# result small enough for a prompt.
BUNDLE_LIMITS = Limits(
    max_file_bytes=512 * 2**20,
    max_total_bytes=4 * 2**30,
    max_files=100_000,
    max_depth=8,
    max_read_chars=12_000,
    max_line_chars=400,
)
CANDIDATE_LIMITS = Limits(
    max_file_bytes=256 * 1024,
    max_total_bytes=4 * 2**20,
    max_files=200,
    max_depth=6,
    max_read_chars=12_000,
    max_line_chars=400,
)
MAX_READ_LINES = 200
DRY_RUN_MAX_STEPS = 50
ROOTS = ("bundle", "candidate")

# tool name -> (memfs op kind, which roots it may act on, the raw-body argument in the tool-tag
# syntax)
FILE_TOOLS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "read": ("read", ROOTS, None),
    "tail": ("tail", ROOTS, None),
    "count": ("count", ROOTS, None),
    "write_file": ("write", ("candidate",), "content"),
    "create_file": ("create", ("candidate",), "content"),
    "append": ("append", ("candidate",), "content"),
    "str_replace": ("str_replace", ("candidate",), None),  # <old>..</old><new>..</new>
    "insert": ("insert", ("candidate",), "content"),
    "delete": ("delete", ("candidate",), None),
    "rename": ("rename", ("candidate",), None),
}

Validator = Callable[[], "str | Awaitable[str]"]


def _int(args: Mapping[str, Any], key: str, default: int) -> int:
    value = args.get(key, default)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ToolError(f"{key} must be an integer, got {value!r}") from None


class ReviewWorkspace:
    """Routes tool calls to the read-only bundle, the writable candidate and the trace tools.

    `unsafe_no_sandbox` lets the python tool and the dry run execute without bubblewrap (the
    user's explicit choice where it cannot run); `analysis` bounds the python tool.
    """

    def __init__(
        self,
        bundle_dir: Path,
        candidate_dir: Path,
        *,
        analysis: AnalysisSettings | None = None,
        unsafe_no_sandbox: bool = False,
        hook_limits: HookLimits | None = None,
    ):
        self.bundle_dir, self.candidate_dir = Path(bundle_dir), Path(candidate_dir)
        self.bundle = MemoryStore(
            bundle_dir, limits=BUNDLE_LIMITS, read_only=True, display_prefix="bundle/"
        )
        self.candidate = MemoryStore(
            candidate_dir, limits=CANDIDATE_LIMITS, display_prefix="candidate/"
        )
        self.library = bundle_library(self.bundle_dir)
        self.unsafe_no_sandbox = unsafe_no_sandbox
        self.hook_limits = hook_limits or HookLimits(unsafe_no_sandbox=unsafe_no_sandbox)
        self.trace_tools = TraceTools(
            self.library,
            {"bundle": self.bundle_dir, "candidate": self.candidate_dir},
            analysis=analysis or AnalysisSettings(unsafe_no_sandbox=unsafe_no_sandbox),
            analysis_cwd=self.bundle_dir,
            default_grep_path="bundle",
        )
        self.escapes: list[str] = []  # write paths refused because they left candidate/
        self.writes = 0

    # routing ---------------------------------------------------------------------------
    def _split(self, path: Any, *, writing: bool = False) -> tuple[MemoryStore, str]:
        """The store a path belongs to and the path inside it. A path without a root prefix is
        looked up in bundle/ then candidate/ for reads, and means candidate/ for writes."""
        if not isinstance(path, str):
            raise ToolError(
                "path must be a string like 'bundle/summary.md' or 'candidate/scaffold.toml'"
            )
        clean = path.strip()
        while clean.startswith("./"):
            clean = clean[2:]
        head, _, rest = clean.partition("/")
        if head == "candidate":
            return self.candidate, rest
        if head == "bundle":
            if writing:
                self.escapes.append(path)
                raise ToolError(
                    f"refused: bundle/ is read-only; write under candidate/ (got {path!r})"
                )
            return self.bundle, rest
        if writing:
            return self.candidate, clean
        for store in (self.bundle, self.candidate):
            if (store.root / clean).exists():
                return store, clean
        raise ToolError(f"no file {path!r}; paths start with bundle/ or candidate/ (try list)")

    def _apply(self, store: MemoryStore, op: Op, *, writing: bool = False) -> str:
        result = store.apply(op)
        if not result.ok:
            if writing and result.error == "sandbox":
                self.escapes.append(str(getattr(op, "path", "")))
                raise ToolError(
                    f"refused: writes are limited to your scaffold copy under candidate/. {result.text}"
                )
            raise ToolError(result.text)
        if writing:
            self.writes += 1
        return result.text

    def file_op(self, name: str, args: Mapping[str, Any]) -> str:
        """Runs the memfs op behind file tool `name` on the store its path names."""
        kind, roots, _ = FILE_TOOLS[name]
        writing = roots == ("candidate",)
        store, rel = self._split(args.get("path"), writing=writing)
        given = dict(args, path=rel)
        if kind == "rename":
            new_store, new_rel = self._split(args.get("new_path"), writing=True)
            if new_store is not store:
                raise ToolError("rename stays inside candidate/")
            given["new_path"] = new_rel
        if kind == "read" and (args.get("start") is not None or args.get("end") is not None):
            start = max(1, _int(args, "start", 1))
            end = min(_int(args, "end", start + MAX_READ_LINES - 1), start + MAX_READ_LINES - 1)
            given.update(start=start, end=end)
        if kind == "tail":
            given["n"] = max(1, min(_int(args, "n", 40), MAX_READ_LINES))
        op = call_from_tool(kind, given)
        if isinstance(op, ParseError):
            raise ToolError(op.message)
        return self._apply(store, op, writing=writing)  # type: ignore[arg-type]

    def list(self, args: Mapping[str, Any]) -> str:
        path = str(args.get("path", "") or "").strip().strip("/")
        if path in ("", "."):
            return (
                "bundle/     read-only: summary.md, traces/ (as text, with indexes), raw/ (JSON "
                "Lines as recorded), memory/ (final memories), scaffold/ (the incumbent)\n"
                "candidate/  your writable copy of the scaffold"
            )
        return self.file_op("read", {"path": path})

    # dry run ---------------------------------------------------------------------------
    def _replay(self, name: str, start: int, end: int) -> str:
        index = self.library.index(name)
        header = read_header(self.library.traces[name])
        if header is None:
            raise ToolError(f"{name}: the trace has no header line")
        recorded = list(self.library.steps(name, 0, end))
        trace = Trace(path=str(self.library.traces[name]), header=header, steps=recorded)
        try:
            scaffold = load_scaffold(self.candidate_dir, hook_limits=self.hook_limits)
        except ScaffoldError as exc:
            raise ToolError(f"candidate/ does not load: {exc}") from None
        try:
            produced = replay_hooks(scaffold, trace, start=start, stop=end + 1)
        finally:
            scaffold.close()
        by_step = {r.step: r for r in recorded}
        verdicts = [p.verdict for p in produced if p.verdict.startswith("reject")]
        lines = [
            f"dry run of candidate/ on {name} steps {start}..{end} (of {index.steps}; the env "
            f"replayed from seed {header.seed} with the recorded actions; nothing applied): "
            f"{len(verdicts)} of {len(produced)} recorded actions would be sent back"
        ]
        for p in produced:
            record = by_step.get(p.step)
            action = record.action if record else "?"
            lines.append(f"=== step {p.step} | recorded action {action!r} -> {p.verdict or '-'}")
            if record is not None and p.observation and p.observation != record.observation:
                lines.append("  observation as the model would see it:")
                lines += [f"    {line}" for line in p.observation.splitlines()]
            if p.analysis:
                lines.append(f"  analysis: {p.analysis.strip()}")
            lines += [f"  notice: {n}" for n in p.notices]
            lines += [f"  variable {k} = {v[:200]!r}" for k, v in p.variables.items()]
            lines += [f"  upkeep: {u}" for u in p.upkeep]
            if p.repaired_action:
                lines.append(f"  repair_action -> {p.repaired_action!r}")
            lines += [f"  !! {e}" for e in p.events]
        return cut("\n".join(lines) + "\n", VIEW_CHARS, hint="Ask for fewer steps.")

    async def dry_run(self, args: Mapping[str, Any]) -> str:
        name = str(args.get("episode", "") or "").strip().removesuffix(".txt")
        if name not in self.library.traces:
            known = ", ".join(self.library.names[:20]) or "none"
            raise ToolError(f"no episode {name!r}; episodes: {known}")
        steps = self.library.index(name).steps
        if steps == 0:
            raise ToolError(f"{name} has no steps")
        start = min(max(0, _int(args, "start", 0)), steps - 1)
        end = min(max(start, _int(args, "end", start + 9)), steps - 1)
        end = min(end, start + DRY_RUN_MAX_STEPS - 1)
        return await asyncio.to_thread(self._replay, name, start, end)

    # the tool list ---------------------------------------------------------------------
    # `builtins.list`: inside this class body, `list` names the `list` tool method above.
    def _file_tools(self) -> builtins.list[Tool]:
        specs = {t["name"]: t for t in tool_schemas([kind for kind, _, _ in FILE_TOOLS.values()])}
        out = []
        for name, (kind, roots, body) in FILE_TOOLS.items():
            spec = specs[kind]
            schema = dict(spec["input_schema"])
            if body is not None:
                schema["x-body"] = body
            where = "bundle/ or candidate/" if len(roots) > 1 else "candidate/ only"
            extra = f" (at most {MAX_READ_LINES} lines)" if kind in ("read", "tail") else ""
            out.append(
                Tool(
                    name=name,
                    description=f"{spec['description'][0].upper()}{spec['description'][1:]}"
                    f"{extra}; paths under {where}.",
                    input_schema=schema,
                    handler=functools.partial(self.file_op, name),
                )
            )
        read = specs["read"]["input_schema"]
        out.insert(
            0,
            Tool(
                name="list",
                description="List a directory ('' for the roots, e.g. bundle/traces).",
                input_schema={
                    "type": "object",
                    "properties": {"path": read["properties"]["path"]},
                    "required": [],
                },
                handler=self.list,
            ),
        )
        return out

    def tools(self, validator: Validator | None = None) -> builtins.list[Tool]:
        """The tool list for a `ToolSession`; `validator` adds a `validate` tool."""
        tools = [*self.trace_tools.tools(), *self._file_tools()]
        if self.library.names:
            tools.append(
                Tool(
                    name="dry_run",
                    description=(
                        "Run candidate/'s hooks and agent program on recorded steps start..end "
                        f"(at most {DRY_RUN_MAX_STEPS}) of a bundle episode and see what they "
                        "produce: the verdict on each recorded action (accept, reject: message, "
                        "replace), notices, variables, analysis, upkeep ops, the observation "
                        "as rewritten. Earlier steps are fed too, so the program's state is real."
                    ),
                    input_schema={
                        "type": "object",
                        "properties": {
                            "episode": {"type": "string"},
                            "start": {"type": "integer"},
                            "end": {"type": "integer"},
                        },
                        "required": ["episode", "start"],
                    },
                    handler=self.dry_run,
                )
            )
        if validator is not None:
            tools.append(
                Tool(
                    name="validate",
                    description=(
                        "Check candidate/ now: the manifest loads, hooks.py imports, a smoke "
                        "episode runs; shows the prompts the agent received and its replies."
                    ),
                    input_schema={"type": "object", "properties": {}, "required": []},
                    handler=lambda _args: validator(),
                )
            )
        return tools
