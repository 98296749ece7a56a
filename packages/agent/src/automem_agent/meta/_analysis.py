"""Sandboxed Python analysis over traces: a meta-LLM's code runs in `run_sandboxed` with the
trace reader importable and a `TraceLibrary` ready, and only its (bounded) printed output comes
back. The child side is `analysis_in_child`."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import msgspec

from automem_agent.meta._bwrap import SandboxUnavailable
from automem_agent.meta._sandbox import SandboxLimits, run_sandboxed
from automem_agent.meta._traces import cut

ANALYSIS_CHARS = 8_000

PRELUDE_HELP = (
    "Preloaded names: `library` (a TraceLibrary: library.names, library.index(name), "
    "library.steps(name, start, end) yields StepRecords, library.step(name, n), "
    "library.view(name, a, b), library.prompts(name, n)), `read_trace(path)`, "
    "`memory_at(trace, step)`, `roots` (name -> Path of each read-only root), `Counter`, `re`, "
    "`json`. Print what you want to see; the value of a final expression is printed too."
)


class AnalysisSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Limits of one analysis run: wall time, address space, and output characters.
    `unsafe_no_sandbox` runs the code without bubblewrap (the user's explicit choice where it
    cannot run; logged as a warning)."""

    wall_s: float = 60.0
    memory_mb: int = 2048
    max_output_chars: int = ANALYSIS_CHARS
    unsafe_no_sandbox: bool = False


def run_analysis(
    code: str,
    *,
    traces: Mapping[str, str | os.PathLike[str]],
    cache_dir: str | os.PathLike[str],
    cwd: str | os.PathLike[str],
    settings: AnalysisSettings = AnalysisSettings(),
    roots: Mapping[str, str | os.PathLike[str]] | None = None,
) -> str:
    """Runs `code` in the sandbox with `library` over `traces` and returns its printed output,
    cut to `settings.max_output_chars` (a cut output ends with a line saying how much was cut).
    An exception, a timeout or the memory limit comes back as text for the model. `roots`
    (read-only, like the traces) are named to the code as `roots`."""
    resolved = {k: str(Path(v).resolve()) for k, v in traces.items()}
    named = {k: str(Path(v).resolve()) for k, v in (roots or {}).items()}
    readable = sorted({str(Path(p).parent) for p in resolved.values()} | {str(Path(cwd).resolve())})
    readable += [str(Path(cache_dir).resolve()), *named.values()]
    with tempfile.TemporaryDirectory(prefix="automem-analysis-") as scratch:
        try:
            result = run_sandboxed(
                "automem_agent.meta._analysis:analysis_in_child",
                {
                    "code": code,
                    "traces": resolved,
                    "cache_dir": str(Path(cache_dir).resolve()),
                    "roots": named,
                },
                cwd=scratch,  # the only writable place; traces and cache are read-only
                read_only=readable,
                limits=SandboxLimits(
                    wall_s=settings.wall_s,
                    memory_mb=settings.memory_mb,
                    unsafe_no_sandbox=settings.unsafe_no_sandbox,
                ),
            )
        except SandboxUnavailable as exc:
            return f"the python tool cannot run here: {exc}"
    if result.ok and isinstance(result.value, dict):
        out = str(result.value.get("output", ""))
        error = result.value.get("error")
        if error:
            out = f"{out}\n{error}" if out else str(error)
        return cut(out or "(no output; print what you want to see)", settings.max_output_chars)
    return cut(f"analysis failed: {result.describe()}", settings.max_output_chars)


def analysis_in_child(
    code: str, traces: dict[str, str], cache_dir: str, roots: dict[str, str] | None = None
) -> dict[str, str]:
    """Child side: exec `code` with the preloaded names; returns its stdout and any error."""
    import ast
    import contextlib
    import io
    import json
    import re
    import traceback
    from collections import Counter

    from automem_agent.meta._traces import TraceLibrary
    from automem_agent.trace import memory_at, read_trace

    library = TraceLibrary(traces, cache_dir)
    namespace = {
        "library": library,
        "read_trace": read_trace,
        "memory_at": memory_at,
        "roots": {k: Path(v) for k, v in (roots or {}).items()},
        "Counter": Counter,
        "re": re,
        "json": json,
        "__name__": "__analysis__",
    }
    buffer = io.StringIO()
    error = None
    try:
        tree = ast.parse(code, "<analysis>")
        tail = tree.body[-1] if tree.body else None
        last = tail if isinstance(tail, ast.Expr) else None
        if last is not None:
            tree.body.pop()
        with contextlib.redirect_stdout(buffer):
            exec(compile(tree, "<analysis>", "exec"), namespace)
            if last is not None:
                value = eval(compile(ast.Expression(last.value), "<analysis>", "eval"), namespace)
                if value is not None:
                    print(repr(value))
    except SyntaxError as exc:
        error = f"SyntaxError: {exc}"
    except Exception as exc:  # the model's bug: report its traceback, keep what it printed
        tb = traceback.format_exc().splitlines()
        frames = [line for line in tb if "<analysis>" in line][-3:]
        error = "\n".join([*frames, f"{type(exc).__name__}: {exc}"])
    return {"output": buffer.getvalue(), "error": error or ""}
