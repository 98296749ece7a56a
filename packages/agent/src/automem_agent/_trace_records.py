"""Trace records: one JSON line per record, a header first, steps as they happen, a summary last.

Loop 1 and Loop 2 read traces only through `automem_agent.trace`, which decodes these types.
"""

from __future__ import annotations

import itertools
from typing import Any

import msgspec
from automem_envs import EpisodeStats
from automem_memfs import Call, OpResult, ParseError

from automem_agent._chat import shared_prefix

# Finish reasons that mean the reply was cut at its token budget (OpenAI/vLLM, Anthropic, ...).
TRUNCATED_REASONS = frozenset({"length", "max_tokens", "max_output_tokens"})


class TraceHeader(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="header"):
    env_id: str
    seed: int
    max_steps: int
    agent: str  # "memory" or "history"
    scaffold_name: str
    scaffold_hash: str
    models: dict[str, str]  # role -> model spec (no secrets)
    adapters: dict[str, str | None] = {}  # role -> adapter name
    started_at: str = ""  # ISO 8601
    instructions: str = ""


class LLMTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One model call inside a step, with everything needed to replay or learn from it."""

    phase: str  # "log" or "plan"
    role: str  # "memory" or "action": which model answered
    round: int
    # The exact input the model saw ({"role", "content"}). On disk a turn stores only the
    # messages after its first `shared`, which are the previous turn's in the same step (a
    # step's rounds extend one conversation); `automem_agent.trace` restores them on reading.
    messages: list[dict[str, str]]
    response: str  # verbatim
    calls: list[Call] = []  # parsed from `response`
    results: list[OpResult] = []  # one per executed op, in order
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None  # a model-caused problem reported back to the model
    model: str = ""  # added: the answering model as it names itself (e.g. "smollm2+memory-lora")
    adapter: str | None = None  # added: the adapter requested for this turn
    finish_reason: str = ""  # added: "stop", "length" (cut at max_tokens), ...
    constrained: bool = False  # added: decoded under the scaffold's grammar
    # added: the reply was cut at max_tokens (finish_reason in TRUNCATED_REASONS); reviewers
    # flag it and Loop 2 leaves it out of training data by default
    truncated: bool = False
    shared: int = 0  # added: on disk only (see `messages`); 0 in every turn a reader returns

    @property
    def parsed(self) -> bool:
        """The reply held at least one call and every call parsed."""
        return bool(self.calls) and not any(isinstance(c, ParseError) for c in self.calls)


class Rejection(msgspec.Struct, frozen=True, kw_only=True):
    """The agent program refused a committed action and sent PLAN back with `message`."""

    action: str
    message: str


class HookRecord(msgspec.Struct, frozen=True, kw_only=True):
    """What the scaffold's code produced this step, beside the prompts (which `LLMTurn.messages`
    holds as sent): the hooks' outputs and the agent program's doings."""

    observation: str | None = None  # format_observation's output, when it changed the text
    analysis: str = ""  # the analyze hook's output
    variables: dict[str, str] = {}  # prompt variables the program set
    notices: list[str] = []  # the program's notices
    rejections: list[Rejection] = []  # actions the program sent back, in order
    action_changes: list[str] = []  # e.g. "repair_action: 'Move_Left.' -> 'move left'"
    upkeep: list[OpResult] = []  # the program's scripted memory ops, run before LOG
    upkeep_op_counts: dict[str, int] = {}  # those ops by kind (not in StepRecord.op_counts)
    program_op_counts: dict[str, int] = {}  # the program's own ops the model called


class StepRecord(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="step"):
    step: int
    observation: str
    turns: list[LLMTurn]
    action: str  # what the agent proposed
    executed_action: str  # what the env ran
    valid_action: bool
    fallback: bool = False  # the agent never committed an action; the scaffold's fallback ran
    reward: float = 0.0
    progression: float = 0.0
    done: bool = False
    memory_bytes: int = 0
    op_counts: dict[str, int] = {}  # this step's ops by kind
    memory_snapshot: str | None = None  # content hash of the memory after this step
    memory_diff: dict[str, Any] | None = None  # files changed this step: path -> new text or None
    # Added: things the harness noticed this step, for reviewers (hook errors, stuck warnings,
    # a LOG phase that never said DONE, ...), e.g. "stuck: observation unchanged for 5 steps".
    events: list[str] = []
    hooks: HookRecord | None = None  # added: the scaffold code's outputs (None: it did nothing)


class EpisodeSummary(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", tag="summary"):
    stats: EpisodeStats
    status: str  # "finished" or "errored"
    error: str | None = None
    steps: int = 0
    fallback_actions: int = 0
    tokens: dict[str, dict[str, int]] = {}  # role -> {"input": n, "output": n}
    op_counts: dict[str, int] = {}
    write_to_search: float | None = None  # writes / searches (None if no search)
    memory_growth_per_step: float = 0.0  # characters added per step, end size minus start size
    wall_s: float = 0.0
    # Added: how the episode ended, for reviewers: "died", "solved", "step_limit", "no_progress",
    # "game_over" (ended otherwise), "errored" or "cut" (stopped before the env ended it).
    ending: str = ""
    upkeep_op_counts: dict[str, int] = {}  # the agent program's memory ops, by kind
    # added: per phase ("log", "plan"), turns and turns whose reply parsed (`LLMTurn.parsed`)
    turns: dict[str, int] = {}
    parsed_turns: dict[str, int] = {}
    truncated_turns: dict[str, int] = {}  # added: per phase, replies cut at max_tokens

    def parse_rate(self, phase: str | None = None) -> float | None:
        """Share of turns that parsed, in one phase or over all; None without turns."""
        phases = [phase] if phase else list(self.turns)
        total = sum(self.turns.get(p, 0) for p in phases)
        return sum(self.parsed_turns.get(p, 0) for p in phases) / total if total else None


TraceRecord = TraceHeader | StepRecord | EpisodeSummary


def compact_step(record: StepRecord) -> StepRecord:
    """`record` as it is written: each turn without the leading messages it shares with the
    turn before it. Every round of a step re-sends the conversation so far, so storing it whole
    grew with the square of the rounds: 64 kB per NetHack step under the paper protocol."""
    if len(record.turns) < 2 or any(turn.shared for turn in record.turns):
        return record
    turns = [record.turns[0]]
    for before, turn in itertools.pairwise(record.turns):
        shared = shared_prefix(before.messages, turn.messages)
        turns.append(
            msgspec.structs.replace(turn, messages=turn.messages[shared:], shared=shared)
            if shared
            else turn
        )
    return msgspec.structs.replace(record, turns=turns)


def expand_step(record: StepRecord) -> StepRecord:
    """A step as written by `compact_step` back to whole prompts (a no-op on whole ones).
    ValueError when a turn claims more shared messages than the turn before it had."""
    if not any(turn.shared for turn in record.turns):
        return record
    turns: list[LLMTurn] = []
    for i, turn in enumerate(record.turns):
        if turn.shared:
            before = turns[-1].messages if turns else []
            if turn.shared > len(before):
                raise ValueError(
                    f"step {record.step}, turn {i}: shares {turn.shared} messages with a turn "
                    f"that had {len(before)}"
                )
            turn = msgspec.structs.replace(
                turn, messages=before[: turn.shared] + turn.messages, shared=0
            )
        turns.append(turn)
    return msgspec.structs.replace(record, turns=turns)
