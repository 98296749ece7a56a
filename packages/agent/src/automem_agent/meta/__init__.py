"""Meta-LLM machinery shared by Loop 1 (scaffold evolution) and Loop 2 (specialist training).

- `run_sandboxed(target, kwargs, cwd=scratch, read_only=[...], limits=SandboxLimits(...))` runs
  LLM-written Python in bubblewrap: read-only filesystem except `scratch`, no network, its own
  pid namespace, an allow-listed environment, rlimits; `SandboxResult` back. Without a working
  bwrap it raises `SandboxUnavailable` (`sandbox_problem()` says why) unless
  `SandboxLimits(unsafe_no_sandbox=True)`.
- `ToolSession(model, tools, system=..., budget=Budget(...))` runs a budgeted tool-use loop over
  any `ChatModel` (native tool use, or the `<tool name="...">` tool-tag syntax) until the model
  calls `finish`; it shows the remaining budget every turn and trims tool results the model has
  already read.
- `TraceLibrary(traces, cache_dir)` indexes named traces once (`EpisodeIndex`) and serves step
  views and the prompts as sent by byte offset; `TraceTools(library, roots).tools()` gives a
  session `index`, `view`, `prompts`, `grep` and a sandboxed `python` over any set of traces
  (Loop 1's bundle, Loop 2's pool).
"""

from automem_agent.meta._analysis import AnalysisSettings, run_analysis
from automem_agent.meta._bwrap import (
    INSTALL_HINT,
    UNSAFE_FLAG,
    SandboxUnavailable,
    require_bwrap,
    sandbox_problem,
    warn_unsafe,
)
from automem_agent.meta._sandbox import (
    SECRET_PATTERN,
    SandboxLimits,
    SandboxResult,
    run_sandboxed,
    scrubbed_env,
)
from automem_agent.meta._session import (
    Budget,
    CallRecord,
    SessionState,
    SessionTranscript,
    SessionTurn,
    Tool,
    ToolError,
    ToolSession,
)
from automem_agent.meta._tool_tags import ToolTagCall, describe_tool_tags, parse_tool_tags
from automem_agent.meta._trace_tools import RootResolver, TraceTools, grep_files, schema
from automem_agent.meta._traces import (
    STUCK_MIN_STEPS,
    VIEW_CHARS,
    EpisodeIndex,
    MemoryFile,
    TraceLibrary,
    cut,
    episode_ending,
    format_index,
    prepare_episode,
    render_end,
    render_header,
    render_prompts,
    render_step,
)

__all__ = [
    "INSTALL_HINT",
    "SECRET_PATTERN",
    "STUCK_MIN_STEPS",
    "UNSAFE_FLAG",
    "VIEW_CHARS",
    "AnalysisSettings",
    "Budget",
    "CallRecord",
    "EpisodeIndex",
    "MemoryFile",
    "RootResolver",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "SessionState",
    "SessionTranscript",
    "SessionTurn",
    "Tool",
    "ToolError",
    "ToolSession",
    "ToolTagCall",
    "TraceLibrary",
    "TraceTools",
    "cut",
    "describe_tool_tags",
    "episode_ending",
    "format_index",
    "grep_files",
    "parse_tool_tags",
    "prepare_episode",
    "render_end",
    "render_header",
    "render_prompts",
    "render_step",
    "require_bwrap",
    "run_analysis",
    "run_sandboxed",
    "sandbox_problem",
    "schema",
    "scrubbed_env",
    "warn_unsafe",
]
