"""The LOG/PLAN memory agent: chat-model backends, scaffolds, traces and the episode runner.

scaffold = load_scaffold(builtin_scaffold("v0"))
factory = memory_agent_factory(scaffold, RoleModels.single(load_model("smollm2")))
result = asyncio.run(run_suite(suite, factory, "runs/demo", concurrency=4))
print(format_summary(result))
"""

from automem_agent import trace
from automem_agent._agent import (
    Agent,
    AgentFactory,
    AgentInfo,
    Decision,
    EpisodeContext,
    RoleModels,
)
from automem_agent._balrog import (
    balrog_env_name,
    balrog_summaries,
    balrog_task,
    write_balrog_summary,
)
from automem_agent._chat import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ChatResponse,
    ModelUnavailable,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from automem_agent._episode_hooks import EpisodeHooks, episode_hooks
from automem_agent._files import write_bytes_atomic, write_json_atomic, write_text_atomic
from automem_agent._history_agent import HistoryAgent, history_agent_factory
from automem_agent._hooks import HookLimits, HookLoadError
from automem_agent._jsonl import (
    JsonlError,
    JsonlFile,
    JsonlLine,
    JsonlWriter,
    append_jsonl,
    iter_jsonl,
    read_jsonl,
    torn_notice,
    write_jsonl,
)
from automem_agent._manifest import (
    TEMPLATE_VARIABLES,
    LogPhaseSpec,
    Manifest,
    PhaseSpec,
    PlanPhaseSpec,
    with_sampling,
)
from automem_agent._memory_agent import MemoryAgent, memory_agent_factory
from automem_agent._plan import (
    PhasePlan,
    format_phase_table,
    plan_episodes,
    plan_replays,
    read_manifest,
)
from automem_agent._play import PlayConfig, parse_seeds, play
from automem_agent._play_cli import main as play_main
from automem_agent._program import (
    ActionRecord,
    EpisodeInfo,
    MemoryView,
    ProgramOutput,
    StepUpdate,
    Turn,
    Verdict,
)
from automem_agent._protocol import (
    OFFLINE_MODELS,
    Protocol,
    ProtocolError,
    builtin_protocols,
    is_offline_model,
    load_protocol,
    parse_per_family,
    resolve_protocol,
    suite_seeds,
    with_overrides,
)
from automem_agent._reference import scaffold_reference
from automem_agent._replay import ReplayStep, replay_hooks
from automem_agent._run_args import (
    RunProtocol,
    add_run_arguments,
    package_version,
    protocol_from_args,
)
from automem_agent._runner import episode_ending, memory_path, run_episode, run_suite, trace_path
from automem_agent._scaffold import (
    Scaffold,
    ScaffoldError,
    builtin_scaffold,
    content_hash,
    load_scaffold,
    resolve_scaffold,
)
from automem_agent._summary import (
    EnvSummary,
    EpisodeResult,
    SuiteResult,
    aggregate,
    format_summary,
    mean_and_stderr,
    overall_figure,
    summarize,
)
from automem_agent._trace_records import (
    EpisodeSummary,
    HookRecord,
    LLMTurn,
    Rejection,
    StepRecord,
    TraceHeader,
    TraceRecord,
)
from automem_agent.models import ReplayModel, ScriptedModel, load_model
from automem_agent.trace import Trace, TraceWriter, iter_traces, memory_at, read_trace

__all__ = [
    "OFFLINE_MODELS",
    "TEMPLATE_VARIABLES",
    "ActionRecord",
    "Agent",
    "AgentFactory",
    "AgentInfo",
    "ChatMessage",
    "ChatModel",
    "ChatRequest",
    "ChatResponse",
    "Decision",
    "EnvSummary",
    "EpisodeContext",
    "EpisodeHooks",
    "EpisodeInfo",
    "EpisodeResult",
    "EpisodeSummary",
    "HistoryAgent",
    "HookLimits",
    "HookLoadError",
    "HookRecord",
    "JsonlError",
    "JsonlFile",
    "JsonlLine",
    "JsonlWriter",
    "LLMTurn",
    "LogPhaseSpec",
    "Manifest",
    "MemoryAgent",
    "MemoryView",
    "ModelUnavailable",
    "PhasePlan",
    "PhaseSpec",
    "PlanPhaseSpec",
    "PlayConfig",
    "ProgramOutput",
    "Protocol",
    "ProtocolError",
    "Rejection",
    "ReplayModel",
    "ReplayStep",
    "RoleModels",
    "RunProtocol",
    "Scaffold",
    "ScaffoldError",
    "ScriptedModel",
    "StepRecord",
    "StepUpdate",
    "SuiteResult",
    "ToolCall",
    "ToolResult",
    "ToolSpec",
    "Trace",
    "TraceHeader",
    "TraceRecord",
    "TraceWriter",
    "Turn",
    "Verdict",
    "add_run_arguments",
    "aggregate",
    "append_jsonl",
    "balrog_env_name",
    "balrog_summaries",
    "balrog_task",
    "builtin_protocols",
    "builtin_scaffold",
    "content_hash",
    "episode_ending",
    "episode_hooks",
    "format_phase_table",
    "format_summary",
    "history_agent_factory",
    "is_offline_model",
    "iter_jsonl",
    "iter_traces",
    "load_model",
    "load_protocol",
    "load_scaffold",
    "mean_and_stderr",
    "memory_agent_factory",
    "memory_at",
    "memory_path",
    "overall_figure",
    "package_version",
    "parse_per_family",
    "parse_seeds",
    "plan_episodes",
    "plan_replays",
    "play",
    "play_main",
    "protocol_from_args",
    "read_jsonl",
    "read_manifest",
    "read_trace",
    "replay_hooks",
    "resolve_protocol",
    "resolve_scaffold",
    "run_episode",
    "run_suite",
    "scaffold_reference",
    "suite_seeds",
    "summarize",
    "torn_notice",
    "trace",
    "trace_path",
    "with_overrides",
    "with_sampling",
    "write_balrog_summary",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_jsonl",
    "write_text_atomic",
]
