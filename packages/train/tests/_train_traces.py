"""Hand-built traces with known turns, written with the real trace writer."""

from __future__ import annotations

from pathlib import Path

from automem_agent.trace import EpisodeSummary, LLMTurn, StepRecord, TraceHeader, TraceWriter
from automem_envs import EpisodeStats
from automem_memfs import Action, Append, Done, OpResult, ParseError, Read, Search

SYSTEM = "You keep notes in files. Use ops, then DONE."

# Verbatim responses, with odd spacing and unicode on purpose: extraction must not touch them.
LOG_SEARCH_APPEND = "<|SEARCH|> query=wood <|/SEARCH|>\n<|APPEND|> path=/log.md\nstep 0: saw trees  →  north\n<|/APPEND|>\n<|DONE|>"
LOG_BLIND_APPEND = "<|APPEND|> path=/log.md\nstep 0: saw trees  →  north\n<|/APPEND|>\n<|DONE|>"
PLAN_READ = "<|READ|> path=/log.md <|/READ|>"
PLAN_ACTION = "<|ACTION|> move north <|/ACTION|>"
LOG_BROKEN = "<|APPND|> oops"


def _msgs(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _ok(op: str, text: str = "ok", path: str | None = None) -> OpResult:
    return OpResult(op=op, ok=True, text=text, path=path)


def build_steps() -> list[StepRecord]:
    """Step 0: search then append (consult-before-write), plan reads the file (later used).
    Step 1: blind append of the same content (a duplicate write), plan acts.
    Step 2: a parse error in LOG, plan acts."""
    s0 = StepRecord(
        step=0,
        observation="You see trees.",
        turns=[
            LLMTurn(
                phase="log",
                role="memory",
                round=0,
                messages=_msgs("obs 0: trees"),
                response=LOG_SEARCH_APPEND,
                calls=[
                    Search(pattern="wood"),
                    Append(path="/log.md", content="step 0: saw trees  →  north"),
                    Done(),
                ],
                results=[_ok("search", "no matches"), _ok("append", path="/log.md")],
            ),
            LLMTurn(
                phase="plan",
                role="memory",
                round=0,
                messages=_msgs("plan 0"),
                response=PLAN_READ,
                calls=[Read(path="/log.md")],
                results=[_ok("read", "step 0: saw trees", path="/log.md")],
            ),
            LLMTurn(
                phase="plan",
                role="action",
                round=1,
                messages=_msgs("plan 0 act"),
                response=PLAN_ACTION,
                calls=[Action(text="move north")],
            ),
        ],
        action="move north",
        executed_action="move north",
        valid_action=True,
        progression=0.0,
    )
    s1 = StepRecord(
        step=1,
        observation="You collected wood.",
        turns=[
            LLMTurn(
                phase="log",
                role="memory",
                round=0,
                messages=_msgs("obs 1: wood"),
                response=LOG_BLIND_APPEND,
                calls=[Append(path="/log.md", content="step 0: saw trees → north"), Done()],
                results=[_ok("append", path="/log.md")],
            ),
            LLMTurn(
                phase="plan",
                role="action",
                round=0,
                messages=_msgs("plan 1"),
                response=PLAN_ACTION,
                calls=[Action(text="move north")],
            ),
        ],
        action="move north",
        executed_action="move north",
        valid_action=True,
        progression=1 / 22,
    )
    s2 = StepRecord(
        step=2,
        observation="Nothing.",
        turns=[
            LLMTurn(
                phase="log",
                role="memory",
                round=0,
                messages=_msgs("obs 2"),
                response=LOG_BROKEN,
                calls=[ParseError(message="unknown op APPND", raw="<|APPND|>")],
            ),
            LLMTurn(
                phase="plan",
                role="action",
                round=0,
                messages=_msgs("plan 2"),
                response="<|ACTION|> fly <|/ACTION|>",
                calls=[Action(text="fly")],
            ),
        ],
        action="fly",
        executed_action="noop",
        valid_action=False,
        progression=2 / 22,
    )
    return [s0, s1, s2]


def write_trace(
    path: Path, *, env_id: str = "crafter", seed: int = 7, finished: bool = True
) -> Path:
    header = TraceHeader(
        env_id=env_id,
        seed=seed,
        max_steps=3,
        agent="memory",
        scaffold_name="t",
        scaffold_hash="abc",
        models={"memory": "tiny", "action": "tiny"},
    )
    with TraceWriter(path, header) as writer:
        for step in build_steps():
            writer.write(step)
        if finished:
            writer.write(
                EpisodeSummary(
                    stats=EpisodeStats(env_id=env_id, seed=seed, steps=3, progression=2 / 22),
                    status="finished",
                    steps=3,
                    write_to_search=2.0,
                )
            )
    return path
