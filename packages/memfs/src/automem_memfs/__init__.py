"""A sandboxed directory of memory files for LLM agents: typed ops, op parsers, schemas, limits,
atomic writes, snapshots, usage stats, and an adapter for Anthropic's memory tool."""

from automem_memfs._anthropic import AnthropicMemoryAdapter
from automem_memfs._errors import MemfsError, SandboxError
from automem_memfs._grammar import GRAMMAR_OPS, call_grammar
from automem_memfs._limits import Limits
from automem_memfs._memory_store import MemoryStore
from automem_memfs._ops import (
    OP_TYPES,
    READ_ONLY_OPS,
    WRITE_OPS,
    Action,
    Append,
    Call,
    Count,
    Create,
    Delete,
    Done,
    Insert,
    Op,
    OpResult,
    ParseError,
    Read,
    Rename,
    Search,
    StrReplace,
    Tail,
    Write,
    op_kind,
)
from automem_memfs._paths import normalize_path
from automem_memfs._pipe_calls import ALIASES as PIPE_ALIASES
from automem_memfs._redact import Redactor
from automem_memfs._schema import FileRule, Schema
from automem_memfs._snapshot import MemoryDiff, Snapshot, SnapshotStore, diff
from automem_memfs._stats import RATIO_WRITE_OPS, MemoryStats
from automem_memfs._syntax import (
    SYNTAX_ALIASES,
    SYNTAXES,
    call_from_tool,
    example,
    format_call,
    parse_calls,
    strip_calls,
    syntax_help,
    tool_schemas,
)

__all__ = [
    "GRAMMAR_OPS",
    "OP_TYPES",
    "PIPE_ALIASES",
    "RATIO_WRITE_OPS",
    "READ_ONLY_OPS",
    "SYNTAXES",
    "SYNTAX_ALIASES",
    "WRITE_OPS",
    "Action",
    "AnthropicMemoryAdapter",
    "Append",
    "Call",
    "Count",
    "Create",
    "Delete",
    "Done",
    "FileRule",
    "Insert",
    "Limits",
    "MemfsError",
    "MemoryDiff",
    "MemoryStats",
    "MemoryStore",
    "Op",
    "OpResult",
    "ParseError",
    "Read",
    "Redactor",
    "Rename",
    "SandboxError",
    "Schema",
    "Search",
    "Snapshot",
    "SnapshotStore",
    "StrReplace",
    "Tail",
    "Write",
    "call_from_tool",
    "call_grammar",
    "diff",
    "example",
    "format_call",
    "normalize_path",
    "op_kind",
    "parse_calls",
    "strip_calls",
    "syntax_help",
    "tool_schemas",
]
