"""Read-only tools over Loop 2's pool and the agent's code, for the data-engine session.

The trace tools are Loop 1's reviewer's own (`automem_agent.meta.TraceTools` over a
`TraceLibrary` of the pool): `index` (per-episode endings, progression changes, stuck spans,
memory op counts and growth), `view` (step ranges), `prompts` (what the agent was sent), `grep`
(over the rendered pool, `pool/`, and the code roots) and `python` (sandboxed, with the trace
reader importable). `show_code` reads the agent's code (its scaffold and the step logic).
Results are bounded; mistakes come back to the model as `ToolError`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from automem_agent.meta import (
    AnalysisSettings,
    RootResolver,
    Tool,
    ToolError,
    TraceLibrary,
    TraceTools,
    schema,
)

from automem_train._examples import MemoryExample
from automem_train._selector import episode_name

VIEW_CHARS = 12_000


def pool_library(examples: Sequence[MemoryExample], cache_dir: Path) -> TraceLibrary:
    """A `TraceLibrary` of the episodes the candidate turns came from, named as selectors name
    them (`crafter__1007`), every episode indexed and rendered into `cache_dir`."""
    traces: dict[str, Path] = {}
    for e in examples:
        if e.source:
            traces.setdefault(episode_name(e), Path(e.source))
    library = TraceLibrary(traces, cache_dir)
    library.prepare()
    return library


def pool_tools(
    examples: Sequence[MemoryExample],
    code_roots: Mapping[str, Path],
    *,
    cache_dir: Path,
    python: bool = True,
) -> list[Tool]:
    """The shared trace tools over the pool (rendered into `cache_dir`, which `grep` sees as
    `pool/`), and `show_code` over `code_roots`. `python=False` turns the analysis tool off
    (a run without the sandbox)."""
    library = pool_library(examples, cache_dir)
    roots: dict[str, str | Path] = {"pool": cache_dir, **code_roots}
    tools = TraceTools(
        library,
        roots,
        analysis=AnalysisSettings() if python else None,
        analysis_cwd=cache_dir.parent / f"{cache_dir.name}-analysis",
        default_grep_path="pool",
    )
    (cache_dir.parent / f"{cache_dir.name}-analysis").mkdir(parents=True, exist_ok=True)
    code = RootResolver(code_roots)

    def show_code(args: Mapping[str, Any]) -> str:
        path = str(args.get("path", "") or "")
        if not path:
            listing = []
            for name, root in code.roots.items():
                files = sorted(
                    p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                )
                listing += [f"{name}/{p.relative_to(root).as_posix()}" for p in files]
            return "\n".join(listing)
        _, target = code.resolve(path)
        if not target.is_file():
            raise ToolError(f"{path!r} is a folder; call show_code without a path for the list")
        return target.read_text(encoding="utf-8", errors="replace")[:VIEW_CHARS]

    names = ", ".join(f"{n}/" for n in code_roots)
    return [
        *tools.tools(),
        Tool(
            name="show_code",
            description=f"The agent's code: without a path, the file list ({names}); with one, "
            "that file.",
            input_schema=schema([], path="string"),
            handler=show_code,
        ),
    ]
