"""Meta-LLM machinery shared by Loop 1 (scaffold evolution) and Loop 2 (specialist training).

- `run_sandboxed(target, kwargs, cwd=..., limits=SandboxLimits(...))` runs Python in a child
  process with wall-time and memory limits and a secret-free environment; `SandboxResult` back.
- `ToolSession(model, tools, system=..., budget=Budget(...))` runs a budgeted tool-use loop over
  any `ChatModel` (native tool use or a tag syntax) until the model calls `finish`.
"""

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
    "SECRET_PATTERN",
    "Budget",
    "CallRecord",
    "SandboxLimits",
    "SandboxResult",
    "SessionTranscript",
    "SessionTurn",
    "TagCall",
    "Tool",
    "ToolError",
    "ToolSession",
    "describe_tools",
    "parse_tag_calls",
    "run_sandboxed",
    "scrubbed_env",
]
