"""Pool selectors: code the meta-LLM writes that reads the whole pool and picks memory turns.

A selector is Python source defining `select(pool)`. It runs in the sandbox (through
`automem_agent.meta.run_sandboxed`) over every candidate turn and the traces they came from,
and returns `(id, reason)` pairs. The host maps ids back to the verbatim turns, so a selector can
choose data but never rewrite it. A broken selector is a value with a message for the model.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import msgspec
from automem_agent import read_trace, write_jsonl
from automem_agent.meta import SandboxLimits, run_sandboxed

from automem_train._examples import MemoryExample, write_examples

_CHILD = Path(__file__).with_name("_policy_child.py")

SELECTOR_CONTRACT = """\
A pool selector is Python source defining `select(pool)` that returns a list of
(id, reason) pairs (or {"id", "reason"} dicts): the memory turns to train on, each with why.
It runs sandboxed (read-only files, no network, standard library only) over the whole pool:
  pool.candidates: every candidate memory turn (attribute access): id, env_id, seed, step,
    phase ("log"|"plan"), round, role, messages (the exact context), response (verbatim),
    source (its trace file), features (op_kinds, consulted_before_write, written_later_read,
    duplicate_writes, parse_errors, failed_ops, committed_action, progression_gain_after,
    episode_progression, episode_write_to_search, ...);
  pool.episodes: {episode name: trace path}; pool.trace(name or path) -> its JSON records
    (header, one per step with `turns` (phase, role, round, response, calls, results),
    action, progression, memory_bytes, ..., summary); pool.steps(name) -> the step records.
Ids must come from pool.candidates; the turn's text is kept verbatim."""


class SelectorOutcome(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    picks: list[tuple[str, str]] = []  # (example id, reason), in the selector's order
    message: str = ""


def run_selector(
    code: str,
    examples: Sequence[MemoryExample],
    *,
    limits: SandboxLimits = SandboxLimits(wall_s=300.0, memory_mb=4096),
) -> SelectorOutcome:
    """Runs a pool selector in the sandbox; unknown ids and empty reasons are errors."""
    sources = {episode_name(e): Path(e.source) for e in examples if e.source}
    with tempfile.TemporaryDirectory(prefix="automem-selector-") as tmp:
        work = Path(tmp)
        (work / "selector.py").write_text(code, encoding="utf-8")
        write_examples(work / "candidates.jsonl", examples)
        # The traces are copied into the box's scratch: the sandbox user can read nothing else
        # of the host (a run directory may sit under a private one).
        (work / "pool").mkdir()
        episodes = {}
        for name, source in sources.items():
            # Only whole records go in (a torn tail is skipped here, by the one JSONL rule),
            # each turn with its whole prompt (a trace writes each prompt once per step), so
            # the child can read every line as it stands.
            trace = read_trace(source)
            closing = [trace.summary] if trace.summary is not None else []
            write_jsonl(work / "pool" / f"{name}.jsonl", [trace.header, *trace.steps, *closing])
            episodes[name] = str(work / "pool" / f"{name}.jsonl")
        result = run_sandboxed(
            f"{_CHILD}:select",
            {
                "code_path": str(work / "selector.py"),
                "candidates_path": str(work / "candidates.jsonl"),
                "episodes": episodes,
            },
            cwd=work,
            limits=limits,
        )
    if not result.ok:
        return SelectorOutcome(ok=False, message=f"the selector failed: {result.describe()}")
    known = {e.id for e in examples}
    picks: list[tuple[str, str]] = []
    seen: set[str] = set()
    for pair in result.value or []:
        example_id, reason = str(pair[0]), str(pair[1]).strip()
        if example_id not in known:
            return SelectorOutcome(ok=False, message=f"unknown candidate id {example_id!r}")
        if not reason:
            return SelectorOutcome(ok=False, message=f"no reason given for {example_id!r}")
        if example_id not in seen:
            seen.add(example_id)
            picks.append((example_id, reason))
    return SelectorOutcome(ok=True, picks=picks)


def episode_name(example: MemoryExample) -> str:
    """The name tools and selectors use for the episode a turn came from."""
    return f"{example.env_id.replace('/', '_')}__{example.seed}"
