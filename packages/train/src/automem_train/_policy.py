"""Selection policies as data: a built-in name or Python source written by the meta-LLM.

Source policies run in a sandboxed child process (wall-time and memory limits, secrets scrubbed
from the environment) through `automem_agent.meta.run_sandboxed`. A broken policy is a value
(`PolicyOutcome.ok == False` with a message for the model), never an exception.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import msgspec
from automem_agent.meta import SandboxLimits, run_sandboxed

from automem_train._examples import MemoryExample, write_examples
from automem_train._select import BUILTIN_SELECTORS, score_examples

_CHILD = Path(__file__).with_name("_policy_child.py")

POLICY_CONTRACT = """\
A selection policy is Python source defining `select(example) -> bool | float`.
Return False/0 to drop an example; a positive float keeps it, and higher scores are kept first
when the composition has to cut. `example` is a dict that also allows attribute access:
  env_id, seed, step, phase ("log"|"plan"), round, role, messages (list of {role, content}),
  response (the model's verbatim text), features:
    op_kinds (list[str]), n_read_ops, n_write_ops, consulted_before_write, wrote,
    written_paths, written_later_read, written_later_used, duplicate_writes, parse_errors,
    failed_ops, ended_with_done, committed_action, progression_at_step,
    progression_gain_after, next_steps_valid_rate, episode_progression, episode_status,
    episode_write_to_search.
Only the standard library is available; no file or network access is needed."""


class SelectionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """A named policy: `builtin` names one of `BUILTIN_SELECTORS`, or `code` holds the source.

    `scope="example"`: `code` defines `select(example)` over one candidate's features;
    `scope="pool"`: `code` defines `select(pool)` over the whole pool and its traces, returning
    (id, reason) pairs (see `SELECTOR_CONTRACT`)."""

    name: str = "default"
    builtin: str | None = "default"
    code: str | None = None
    scope: Literal["example", "pool"] = "example"


class PolicyOutcome(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    scores: list[float] = []
    message: str = ""


def run_policy(
    policy: SelectionPolicy,
    examples: Sequence[MemoryExample],
    *,
    limits: SandboxLimits = SandboxLimits(wall_s=120.0, memory_mb=2048),
) -> PolicyOutcome:
    """One score per example. Source policies run sandboxed; built-ins run here."""
    if policy.code is None:
        name = policy.builtin or "default"
        selector = BUILTIN_SELECTORS.get(name)
        if selector is None:
            return PolicyOutcome(
                ok=False,
                message=f"unknown built-in policy {name!r}; known: {sorted(BUILTIN_SELECTORS)}",
            )
        return PolicyOutcome(ok=True, scores=score_examples(examples, selector))
    with tempfile.TemporaryDirectory(prefix="automem-policy-") as tmp:
        work = Path(tmp)
        (work / "policy.py").write_text(policy.code, encoding="utf-8")
        write_examples(work / "examples.jsonl", examples)
        result = run_sandboxed(
            f"{_CHILD}:score",
            {"code_path": str(work / "policy.py"), "examples_path": str(work / "examples.jsonl")},
            cwd=work,
            limits=limits,
        )
    if not result.ok:
        return PolicyOutcome(ok=False, message=f"the policy failed: {result.describe()}")
    scores = result.value
    if not isinstance(scores, list) or len(scores) != len(examples):
        return PolicyOutcome(ok=False, message="the policy returned the wrong number of scores")
    return PolicyOutcome(ok=True, scores=[float(s) for s in scores])
