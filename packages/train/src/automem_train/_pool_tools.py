"""Read-only tools over Loop 2's pool and the agent's code, for the data-engine session.

`index` lists the pool's episodes, `view` shows steps of one episode as text, `grep` finds lines
in the traces with context, and `show_code` reads the agent's code (its scaffold and the step
logic). Results are bounded; mistakes come back to the model as `ToolError`s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from automem_agent.meta import Tool, ToolError

from automem_train._examples import MemoryExample
from automem_train._selector import episode_name

VIEW_CHARS = 12_000
GREP_HITS = 40


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def _step_text(step: Mapping[str, Any]) -> str:
    lines = [f"--- step {step.get('step')}: progression {step.get('progression', 0):.3f}"]
    lines.append(f"observation: {str(step.get('observation', ''))[:600]}")
    for turn in step.get("turns", []):
        lines.append(f"[{turn.get('phase')} round {turn.get('round')} {turn.get('role')}]")
        lines.append(str(turn.get("response", "")))
        for result in turn.get("results", []) or []:
            if isinstance(result, dict):
                ok = "ok" if result.get("ok") else "FAILED"
                lines.append(f"  -> {result.get('op')} {ok}: {str(result.get('text', ''))[:200]}")
    lines.append(f"action: {step.get('action')} (valid {step.get('valid_action')})")
    return "\n".join(lines)


def pool_tools(examples: Sequence[MemoryExample], code_roots: Mapping[str, Path]) -> list[Tool]:
    """`index`, `view`, `grep` over the pool's traces and `show_code` over `code_roots`."""
    episodes: dict[str, Path] = {}
    for e in examples:
        if e.source:
            episodes.setdefault(episode_name(e), Path(e.source))

    def episode(args: Mapping[str, Any]) -> Path:
        name = str(args.get("episode", ""))
        if name not in episodes:
            raise ToolError(f"no episode {name!r}; episodes: {', '.join(list(episodes)[:30])}")
        return episodes[name]

    def index(_args: Mapping[str, Any]) -> str:
        rows = []
        for name, path in episodes.items():
            records = _records(path)
            steps = [r for r in records if "turns" in r]
            summary = next((r for r in records if "stats" in r), {})
            turns = sum(1 for e in examples if e.source == str(path))
            rows.append(
                f"{name}: {len(steps)} steps, progression "
                f"{summary.get('stats', {}).get('progression', 0):.3f}, status "
                f"{summary.get('status', 'cut off')}, write/search "
                f"{summary.get('write_to_search')}, {turns} candidate turns"
            )
        return "\n".join(rows) or "(empty pool)"

    def view(args: Mapping[str, Any]) -> str:
        steps = [r for r in _records(episode(args)) if "turns" in r]
        start = int(args.get("start", 0))
        end = int(args.get("end", start + 4))
        text = "\n".join(_step_text(s) for s in steps if start <= s.get("step", -1) <= end)
        if len(text) > VIEW_CHARS:
            text = text[:VIEW_CHARS] + "\n[cut: ask for fewer steps]"
        return text or f"no steps {start}..{end}"

    def grep(args: Mapping[str, Any]) -> str:
        pattern = args.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise ToolError("grep needs a non-empty 'pattern' (a regular expression)")
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"bad pattern: {exc}") from None
        context = max(0, min(int(args.get("context", 0)), 5))
        hits: list[str] = []
        for name, path in episodes.items():
            for step in (r for r in _records(path) if "turns" in r):
                lines = _step_text(step).splitlines()
                for i, line in enumerate(lines):
                    if rx.search(line):
                        around = lines[max(0, i - context) : i + context + 1]
                        hits.append(f"{name} step {step.get('step')}: " + " | ".join(around))
                        if len(hits) >= GREP_HITS:
                            return "\n".join(hits) + f"\n[first {GREP_HITS} hits only]"
        return "\n".join(hits) or "no match"

    def show_code(args: Mapping[str, Any]) -> str:
        path = str(args.get("path", "") or "")
        if not path:
            listing = []
            for root_name, root in code_roots.items():
                files = sorted(
                    p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                )
                listing += [f"{root_name}/{p.relative_to(root)}" for p in files]
            return "\n".join(listing)
        head, _, rest = path.partition("/")
        root = code_roots.get(head)
        target = (root / rest).resolve() if root else None
        if (
            root is None
            or target is None
            or not target.is_file()
            or root.resolve() not in target.parents
        ):
            raise ToolError(f"no file {path!r}; call show_code without a path for the list")
        return target.read_text(encoding="utf-8", errors="replace")[:VIEW_CHARS]

    obj = {"type": "object"}
    return [
        Tool(
            name="index",
            description="The pool's episodes: steps, progression, status, write/search ratio.",
            input_schema={**obj, "properties": {}},
            handler=index,
        ),
        Tool(
            name="view",
            description="Steps start..end of one episode: every turn's verbatim response, op "
            "results, the action and progression.",
            input_schema={
                **obj,
                "properties": {
                    "episode": {"type": "string"},
                    "start": {"type": "integer"},
                    "end": {"type": "integer"},
                },
                "required": ["episode"],
            },
            handler=view,
        ),
        Tool(
            name="grep",
            description="Lines of the pool's rendered steps matching a regular expression.",
            input_schema={
                **obj,
                "properties": {"pattern": {"type": "string"}, "context": {"type": "integer"}},
                "required": ["pattern"],
            },
            handler=grep,
        ),
        Tool(
            name="show_code",
            description="The agent's code: without a path, the file list (scaffold/, agent/); "
            "with one, that file.",
            input_schema={**obj, "properties": {"path": {"type": "string"}}},
            handler=show_code,
        ),
    ]
