"""The meta-LLM proposes the next recipe from the ledger, in a budgeted tool-use session.

Tools let it look at the example pool and the ledger, try a selection policy in the sandbox, and
submit a recipe (policy, composition and LoRA config together). A recipe is accepted only if it
validates and its policy keeps at least one example; otherwise the caller falls back to the
default recipe and records why.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec
from automem_agent.meta import Budget, SessionTranscript, Tool, ToolError, ToolSession

from automem_train._examples import MemoryExample
from automem_train._policy import POLICY_CONTRACT, run_policy
from automem_train._recipe import Recipe, TrialRecord, ledger_table
from automem_train._select import compose

SYSTEM = """\
You design training data and LoRA settings for a "memory specialist": a small adapter that
handles an LLM agent's memory turns (LOG: record what matters with file ops; PLAN consultation:
search/read memory before acting). Training data are the agent's own past memory turns, kept
verbatim; you only choose which ones (a selection policy), how to mix them (a composition) and
how to train (a LoRA config). Good data: turns that consulted memory before writing, writes that
were later read, episodes that progressed; bad data: redundant writes, parse errors, failed ops.
Learn from the ledger of past trials: keep what raised the specialist's progression."""


class Proposal(msgspec.Struct, frozen=True, kw_only=True):
    """A session's outcome: a validated recipe, or None with the reason."""

    recipe: Recipe | None
    reason: str = ""
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
    example["policy"] = {"name": "consult-first", "code": "def select(example):\n    ..."}
    return json.dumps(example, indent=1)


async def propose_recipe(
    meta_model: Any,
    ledger: Sequence[TrialRecord],
    examples: Sequence[MemoryExample],
    *,
    default: Recipe,
    budget: Budget = Budget(max_turns=8, max_tokens=60_000, max_wall_s=600.0),
    max_tokens_per_turn: int = 1536,
) -> Proposal:
    """Runs one proposal session; never raises for a model's mistakes."""
    submitted: dict[str, Recipe] = {}

    def check_policy(recipe: Recipe) -> str:
        outcome = run_policy(recipe.policy, examples)
        if not outcome.ok:
            raise ToolError(outcome.message)
        kept, report = compose(examples, outcome.scores, recipe.composition)
        if not kept:
            raise ToolError(f"the policy and composition keep no example ({report.removed})")
        return f"keeps {len(kept)} of {len(examples)}; removed {report.removed}"

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
        if problems:
            raise ToolError("; ".join(problems))
        summary = check_policy(recipe)
        submitted["recipe"] = recipe
        return f"recipe {recipe.name!r} accepted: {summary}. Call finish to end."

    tools = [
        Tool(
            name="show_pool",
            description="Statistics of the candidate memory turns (features a policy can use).",
            input_schema={"type": "object", "properties": {}},
            handler=lambda _: pool_stats(examples),
        ),
        Tool(
            name="show_ledger",
            description="Past trials: recipe, dataset size, training loss, specialist score.",
            input_schema={"type": "object", "properties": {}},
            handler=lambda _: _ledger_text(ledger),
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
            POLICY_CONTRACT,
            "Recipe format (JSON; omit a field to keep its default; policy.code or "
            "policy.builtin 'default'/'all'):\n" + _recipe_schema_hint(default),
            "Ledger so far:\n" + _ledger_text(ledger),
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
    transcript = await session.run(task)
    recipe = submitted.get("recipe")
    if recipe is not None and not recipe.rationale and transcript.rationale:
        recipe = msgspec.structs.replace(recipe, rationale=transcript.rationale)
    reason = "" if recipe else f"no valid recipe submitted (session ended: {transcript.end_reason})"
    return Proposal(recipe=recipe, reason=reason, tokens=transcript.tokens, transcript=transcript)


def _ledger_text(ledger: Sequence[TrialRecord]) -> str:
    if not ledger:
        return "(no trials yet)"
    parts = [ledger_table(list(ledger))]
    for r in ledger:
        parts.append(f"trial {r.index} recipe: {msgspec.json.encode(r.recipe).decode()[:1500]}")
    return "\n".join(parts)
