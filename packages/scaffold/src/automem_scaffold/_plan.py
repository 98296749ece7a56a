"""Loop 1's plan, printed before a run spends anything (and alone with `--dry-run`): the
episodes of every phase, their step limits, the agent's and the meta-LLM's calls and tokens,
and an estimated cost from the price table (GPU-hours for an unpriced agent model)."""

from __future__ import annotations

from pathlib import Path

import msgspec
from automem_agent import (
    Manifest,
    PhasePlan,
    ScaffoldError,
    format_phase_table,
    plan_episodes,
    plan_replays,
    read_manifest,
    resolve_scaffold,
    with_sampling,
)

from automem_scaffold._config import EvolveConfig, EvolveError
from automem_scaffold._pools import seed_pools
from automem_scaffold._prices import cost_of
from automem_scaffold._screen import screen_episodes


class RunPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Every phase's episodes and calls, the meta-LLM's token bound and the cost estimate."""

    phases: list[PhasePlan]
    meta_tokens_max: int
    meta_dollars_max: float | None
    agent_dollars: float | None  # typical, where the agent model has a price
    gpu_hours: float  # typical agent tokens at `gpu_tokens_per_s`


def start_scaffold(config: EvolveConfig) -> Path:
    """The directory of the run's start scaffold (`--from`); EvolveError if there is none."""
    try:
        return resolve_scaffold(config.from_scaffold)
    except ScaffoldError as exc:
        raise EvolveError(f"--from {exc}") from None


def plan_run(config: EvolveConfig) -> RunPlan:
    """The plan of `config`, counting every candidate as screened and gated (an upper bound on
    episodes; rejected-at-screen candidates cost less)."""
    manifest = with_sampling(
        read_manifest(start_scaffold(config)),
        max_tokens=config.start_max_tokens,
        max_rounds=config.start_max_rounds,
    )
    pools = seed_pools(config)
    # every attempt of every iteration counted as reaching the gate: an upper bound
    n = config.iterations * (config.attempts + config.continuations)
    phases = [plan_episodes("start", pools.search + pools.accept, manifest, note="iteration 0")]
    if config.screen_seeds:
        screen = screen_episodes(pools.search, config.screen_seeds, config.screen_max_steps)
        phases.append(plan_episodes("screen", screen, manifest).times(n, f"{n} candidate(s)"))
    gate = plan_episodes("gate", pools.gate if pools.accept else pools.search, manifest)
    phases.append(
        gate.times(
            n, f"{n} candidate(s) at most ({config.attempts}+{config.continuations} per iteration)"
        )
    )
    if pools.report:
        phases.append(
            plan_episodes("report", pools.report, manifest).times(2, "start and final scaffold")
        )
    if config.attribution_replays and not config.rule_reviewer:
        note = f"{config.attribution_replays} replay(s) per review, {n} review(s) at most"
        phases.append(attribution_plan(config, manifest).times(n, note))
    meta_max = 0 if config.rule_reviewer else n * config.review_tokens
    meta_dollars = (
        cost_of(config.meta_llm, meta_max, n * config.review_turns * config.meta_max_tokens)
        if meta_max
        else 0.0
    )
    tokens_in = sum(p.input_tokens for p in phases)
    tokens_out = sum(p.output_tokens for p in phases)
    return RunPlan(
        phases=phases,
        meta_tokens_max=meta_max,
        meta_dollars_max=meta_dollars,
        agent_dollars=cost_of(config.agent_llm, tokens_in, tokens_out),
        gpu_hours=(tokens_in + tokens_out) / config.gpu_tokens_per_s / 3600,
    )


def attribution_plan(config: EvolveConfig, manifest: Manifest) -> PhasePlan:
    """One review session's write-attribution replays; its `calls_max` is the session's call
    allowance, which the `attribute` tool enforces."""
    return plan_replays(
        config.envs[0], config.attribution_replays, config.attribution_horizon, manifest
    )


def format_plan(plan: RunPlan) -> str:
    """The plan as text: the phase table, then meta-LLM and cost lines."""

    def dollars(value: float | None) -> str:
        return "unpriced" if value is None else f"${value:,.2f}"

    lines = [
        "Plan (estimates; episodes that end early cost less):",
        format_phase_table(plan.phases),
    ]
    lines.append(
        f"meta-LLM: at most {plan.meta_tokens_max:,} billed tokens "
        f"({dollars(plan.meta_dollars_max)} at most)"
        if plan.meta_tokens_max
        else "meta-LLM: none (rule-based reviewer)"
    )
    lines.append(
        f"agent: {dollars(plan.agent_dollars)} typical; "
        f"about {plan.gpu_hours:,.2f} GPU-hours at the configured tokens/s"
    )
    return "\n".join(lines)
