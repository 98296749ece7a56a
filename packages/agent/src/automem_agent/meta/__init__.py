"""Meta-LLM machinery shared by Loop 1 (scaffold evolution) and Loop 2 (specialist training).

- `run_sandboxed(target, kwargs, cwd=scratch, read_only=[...], limits=SandboxLimits(...))` runs
  LLM-written Python in bubblewrap: read-only filesystem except `scratch`, no network, its own
  pid namespace, an allow-listed environment, rlimits; `SandboxResult` back. Without a working
  bwrap it raises `SandboxUnavailable` (`sandbox_problem()` says why) unless
  `SandboxLimits(unsafe_no_sandbox=True)`.
- `ToolSession(model, tools, system=..., budget=Budget(...))` runs a budgeted tool-use loop over
  any `ChatModel` (native tool use or a tag syntax) until the model calls `finish`.
"""

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
    SessionTranscript,
    SessionTurn,
    Tool,
    ToolError,
    ToolSession,
)
from automem_agent.meta._tags import TagCall, describe_tools, parse_tag_calls

__all__ = [
    "INSTALL_HINT",
    "SECRET_PATTERN",
    "UNSAFE_FLAG",
    "Budget",
    "CallRecord",
    "SandboxLimits",
    "SandboxResult",
    "SandboxUnavailable",
    "SessionTranscript",
    "SessionTurn",
    "TagCall",
    "Tool",
    "ToolError",
    "ToolSession",
    "describe_tools",
    "parse_tag_calls",
    "require_bwrap",
    "run_sandboxed",
    "sandbox_problem",
    "scrubbed_env",
    "warn_unsafe",
]
