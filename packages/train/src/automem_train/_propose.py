"""The data engine: the meta-LLM proposes the next recipe in a budgeted tool-use session.

It reads the agent's code and the pool of traces through Loop 1's reviewer's tools (`index`,
`view`, `prompts`, `grep`, sandboxed `python`) and `show_code`, writes
a selector as code (`run_selector` runs a pool selector over every trace in the sandbox and
shows what it picked and why), and submits a recipe: the selector, post-processing, the
composition and the LoRA config together. Every earlier trial's outcome (data statistics, loss
curve, before/after progression, write-to-search ratio, memory growth per step) is in its task.
A recipe is accepted only if it validates and keeps at least one example; otherwise the caller
falls back to the default recipe and records why.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import automem_agent
import msgspec
from automem_agent.meta import (
    Budget,
    SandboxLimits,
    SessionTranscript,
    Tool,
    ToolError,
    ToolSession,
)

from automem_train._examples import MemoryExample
from automem_train._policy import POLICY_CONTRACT
from automem_train._pool_tools import pool_tools
from automem_train._recipe import Recipe, TrialRecord, ledger_table, trial_outcome
from automem_train._selector import SELECTOR_CONTRACT, run_selector

SYSTEM = """\
You design training data and LoRA settings for a "memory specialist": a small adapter that
handles an LLM agent's memory turns (LOG: record what matters with file ops; PLAN consultation:
search/read memory before acting). Training data are the agent's own past memory turns, kept
verbatim; you only choose which ones (a selection policy), how to mix them (a composition) and
how to train (a LoRA config). Good data: turns that consulted memory before writing, writes that
were later read, episodes that progressed; bad data: redundant writes, parse errors, failed ops.
Learn from the ledger of past trials: keep what raised the specialist's progression."""


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """A session's outcome: a validated recipe, or None with the reason. `inputs` is what the
    session was shown of earlier trials (one outcome line each)."""

    recipe: Recipe | None
    reason: str = ""
    inputs: list[str] = []
    tokens: int = 0
    transcript: SessionTranscript | None = None


def pool_stats(examples: Sequence[MemoryExample]) -> str:
    """A short description of the candidate pool for the meta-LLM."""
    n = len(examples)
    if not n:
        return "the pool is empty"
    f = [e.features for e in examples]
    by_env = Counter(e.env_id for e in examples)
    by_phase = Counter(e.phase for e in examples)
    ops = Counter(k for x in f for k in x.op_kinds)

    def share(pred: Any) -> str:
        return f"{sum(1 for x in f if pred(x)) / n:.0%}"

    return "\n".join(
        [
            f"{n} candidate turns; per env {dict(by_env)}; per phase {dict(by_phase)}",
            f"ops used: {dict(ops.most_common())}",
            f"wrote: {share(lambda x: x.wrote)}; consulted before writing: "
            f"{share(lambda x: x.consulted_before_write)}; written later read: "
            f"{share(lambda x: x.written_later_read)}; duplicate writes: "
            f"{share(lambda x: x.duplicate_writes)}; parse errors: {share(lambda x: x.parse_errors)}",
            f"episode progression: max {max(x.episode_progression for x in f):.3f}, mean "
            f"{sum(x.episode_progression for x in f) / n:.3f}",
        ]
    )


def _recipe_schema_hint(default: Recipe) -> str:
    example = msgspec.to_builtins(default)
    example["policy"] = {
        "name": "searched-first",
        "scope": "pool",
        "code": "def select(pool):\n    ...",
    }
    return json.dumps(example, indent=1)


async def propose_recipe(
    meta_model: Any,
    ledger: Sequence[TrialRecord],
    examples: Sequence[MemoryExample],
    *,
    default: Recipe,
    budget: Budget = Budget(max_turns=8, max_tokens=60_000, max_wall_s=600.0),
    max_tokens_per_turn: int = 1536,
    code_roots: Mapping[str, Path] | None = None,
    run_dir: str | Path | None = None,
    max_lora_rank: int | None = None,
    unsafe_no_sandbox: bool = False,
    extra_tools: Sequence[Tool] = (),
) -> Proposal:
    """Runs one proposal session; never raises for a model's mistakes.

    `code_roots` names the agent code the session may read (default: the agent package);
    `run_dir` lets trial outcomes include loss curves; `max_lora_rank` is the rank the serving
    side accepts (proposals above it are refused); `extra_tools` join the session's toolset (the
    write-attribution tool over the collected pool)."""
    from automem_train._loop import select_for_recipe

    submitted: dict[str, Recipe] = {}
    inputs = [trial_outcome(r, run_dir) for r in ledger]

    def check_policy(recipe: Recipe) -> str:
        kept, report, failure = select_for_recipe(
            recipe, list(examples), 1, unsafe_no_sandbox=unsafe_no_sandbox
        )
        if failure and failure[0] == "policy":
            raise ToolError(failure[1])
        if not kept:
            removed = report.removed if report else {}
            raise ToolError(f"the policy and composition keep no example ({removed})")
        return f"keeps {len(kept)} of {len(examples)}; removed {report.removed if report else {}}"

    def run_pool_selector(args: dict[str, Any]) -> str:
        code = args.get("code")
        if not isinstance(code, str) or "def select" not in code:
            raise ToolError("give `code`: Python source defining select(pool)")
        outcome = run_selector(
            code,
            examples,
            limits=SandboxLimits(wall_s=300.0, memory_mb=4096, unsafe_no_sandbox=unsafe_no_sandbox),
        )
        if not outcome.ok:
            raise ToolError(outcome.message)
        by_id = {e.id: e for e in examples}
        picked = [by_id[i] for i, _ in outcome.picks]
        phases = Counter(e.phase for e in picked)
        envs = Counter(e.env_id for e in picked)
        reasons = Counter(r for _, r in outcome.picks)
        return (
            f"picked {len(picked)} of {len(examples)} turns; per phase {dict(phases)}; per env "
            f"{dict(envs)}; reasons {dict(reasons.most_common(8))}; first ids "
            f"{[i for i, _ in outcome.picks[:5]]}"
        )

    def test_policy(args: dict[str, Any]) -> str:
        code = args.get("code")
        if not isinstance(code, str) or "def select" not in code:
            raise ToolError("give `code`: Python source defining select(example)")
        policy = msgspec.convert(
            {"name": "test", "builtin": None, "code": code}, type=default.policy.__class__
        )
        return check_policy(msgspec.structs.replace(default, policy=policy))

    def submit_recipe(args: dict[str, Any]) -> str:
        raw = args.get("recipe", args)
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as exc:
                raise ToolError(f"recipe is not valid JSON: {exc}") from None
        if isinstance(raw, dict) and isinstance(raw.get("policy"), dict):
            raw["policy"].setdefault("builtin", None if raw["policy"].get("code") else "default")
        try:
            recipe = msgspec.convert(raw, type=Recipe)
        except msgspec.ValidationError as exc:
            raise ToolError(f"recipe does not match the format: {exc}") from None
        problems = recipe.problems()
        if max_lora_rank is not None and recipe.train.lora.rank > max_lora_rank:
            problems.append(
                f"lora.rank {recipe.train.lora.rank} is above what the server serves "
                f"(--max-lora-rank {max_lora_rank})"
            )
        if problems:
            raise ToolError("; ".join(problems))
        summary = check_policy(recipe)
        submitted["recipe"] = recipe
        return f"recipe {recipe.name!r} accepted: {summary}. Call finish to end."

    roots = dict(code_roots or {"agent": Path(automem_agent.__file__).parent})
    if run_dir is None:
        scratch = tempfile.TemporaryDirectory(prefix="automem-pool-")
        cache = Path(scratch.name) / "pool-index"
    else:
        scratch, cache = None, Path(run_dir) / "pool-index"
    tools = [
        *pool_tools(examples, roots, cache_dir=cache, python=not unsafe_no_sandbox),
        *extra_tools,
        Tool(
            name="run_selector",
            description="Run a pool selector (Python source defining select(pool)) over the "
            "whole pool in the sandbox; see what it picks and why.",
            input_schema={
                "type": "object",
                "properties": {"code": {"type": "string"}},
                "required": ["code"],
            },
            handler=run_pool_selector,
        ),
        Tool(
            name="show_pool",
            description="Statistics of the candidate memory turns (features a policy can use).",
            input_schema={"type": "object", "properties": {}},
            handler=lambda _: pool_stats(examples),
        ),
        Tool(
            name="show_ledger",
            description="Past trials: recipe, data, loss curve, before/after progression, "
            "write/search ratio and memory growth per step.",
            input_schema={"type": "object", "properties": {}},
            handler=lambda _: _ledger_text(ledger, inputs),
        ),
        Tool(
            name="test_policy",
            description="Run a selection policy (Python source) on the pool in the sandbox.",
            input_schema={
                "type": "object",
                "properties": {"code": {"type": "string"}},
                "required": ["code"],
            },
            handler=test_policy,
        ),
        Tool(
            name="submit_recipe",
            description="Submit the next recipe (JSON with policy, composition, train).",
            input_schema={
                "type": "object",
                "properties": {"recipe": {"type": "object"}},
                "required": ["recipe"],
            },
            handler=submit_recipe,
        ),
    ]

    def finish_check(_rationale: str) -> str | None:
        return None if "recipe" in submitted else "submit a valid recipe with submit_recipe first"

    task = "\n\n".join(
        [
            "Propose the next Loop 2 recipe.",
            "Read the agent's code (show_code) and its traces (index, view, grep), then write "
            'a selector. Preferred: a pool selector (policy {"scope": "pool", "code": ...}).',
            SELECTOR_CONTRACT,
            'Or a per-example policy (scope "example"): ' + POLICY_CONTRACT,
            "Post-processing (recipe.postprocess): strip_plan_action (keep consulting PLAN "
            "turns without their ACTION), drop_fenced (drop turns with ``` junk); the "
            "composition dedups (dedup) and balances LOG/PLAN (log_share).",
            "Recipe format (JSON; omit a field to keep its default; policy.code or "
            "policy.builtin 'default'/'all'):\n" + _recipe_schema_hint(default),
            "Ledger so far:\n" + _ledger_text(ledger, inputs),
            "Pool:\n" + pool_stats(examples),
            "Use test_policy to try ideas, submit_recipe once, then finish.",
        ]
    )
    session = ToolSession(
        meta_model,
        tools,
        system=SYSTEM,
        budget=budget,
        max_tokens_per_turn=max_tokens_per_turn,
        finish_check=finish_check,
        max_finish_rejections=1,
    )
    try:
        transcript = await session.run(task)
    finally:
        if scratch is not None:
            scratch.cleanup()
    recipe = submitted.get("recipe")
    if recipe is not None and not recipe.rationale and transcript.rationale:
        recipe = msgspec.structs.replace(recipe, rationale=transcript.rationale)
    reason = "" if recipe else f"no valid recipe submitted (session ended: {transcript.end_reason})"
    return Proposal(
        recipe=recipe,
        reason=reason,
        inputs=inputs,
        tokens=transcript.tokens,
        transcript=transcript,
    )


def _ledger_text(ledger: Sequence[TrialRecord], outcomes: Sequence[str] = ()) -> str:
    if not ledger:
        return "(no trials yet)"
    parts = [ledger_table(list(ledger)), "Outcomes:", *outcomes]
    for r in ledger:
        parts.append(f"trial {r.index} recipe: {msgspec.json.encode(r.recipe).decode()[:1500]}")
    return "\n".join(parts)
