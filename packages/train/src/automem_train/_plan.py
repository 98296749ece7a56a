"""Loop 2's plan, printed before a run spends anything (and alone with `--dry-run`): the pool's
and the evaluations' episodes, step limits, agent calls and tokens (through
`automem_agent.plan_episodes`, as Loop 1's plan), the meta-LLM's token bound, the LoRA runs and
an estimated cost (GPU-hours for an unpriced agent model). Nothing is loaded or written."""

from __future__ import annotations

from pathlib import Path

import msgspec
from automem_agent import (
    PhasePlan,
    ScaffoldError,
    format_phase_table,
    plan_episodes,
    plan_replays,
    read_manifest,
    resolve_scaffold,
    with_sampling,
)

from automem_train._dataset import eval_keys
from automem_train._from_run import Loop2Error, loop1_source
from automem_train._loop_config import Loop2Config
from automem_train._pool import eval_suite_of, full_suite, pool_suite_of

GPU_TOKENS_PER_S = 2500.0  # agent tokens one GPU serves per second (as Loop 1's estimate)


class Loop2Plan(msgspec.Struct, frozen=True, kw_only=True):
    """Every phase's episodes and calls, the meta-LLM's token bound, the LoRA runs and cost."""

    phases: list[PhasePlan]
    trials: int
    train_steps: int | None  # per trial, where the default recipe (or a cap) bounds it
    meta_tokens_max: int
    meta_dollars_max: float | None
    agent_dollars: float | None  # typical, where the agent model has a price
    gpu_hours: float  # typical agent tokens at GPU_TOKENS_PER_S


def _scaffold_dir(config: Loop2Config) -> Path:
    if config.from_run:
        return Path(loop1_source(config.from_run).scaffold_dir)
    try:
        return resolve_scaffold(config.scaffold)
    except ScaffoldError as exc:
        raise Loop2Error(f"scaffold {exc}") from None


def plan_loop2(config: Loop2Config) -> Loop2Plan:
    """The plan of `config`: the pool (none with given traces), the base-only evaluation once
    and the specialist's evaluation once per trial (an upper bound: failed trials cost less)."""
    from automem_scaffold import cost_of

    manifest = with_sampling(
        read_manifest(_scaffold_dir(config)),
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        max_rounds=config.max_rounds,
    )
    full = full_suite(config)
    evaluation = eval_suite_of(config, full)
    excluded = eval_keys([full, evaluation])
    if config.from_run:
        excluded |= set(loop1_source(config.from_run).evaluation)
    phases = []
    if config.traces:
        phases.append(plan_episodes("pool", [], manifest, note="given traces"))
    else:
        pool = pool_suite_of(config, full, excluded).episodes
        phases.append(plan_episodes("pool", pool, manifest, note="seeds outside every evaluation"))
    if config.evaluate:
        phases.append(plan_episodes("eval base", evaluation.episodes, manifest, note="once"))
        phases.append(
            plan_episodes("eval special", evaluation.episodes, manifest).times(
                config.trials, f"once per trial ({config.trials})"
            )
        )
    proposals = max(0, config.trials - 1)
    if config.attribution_replays and proposals and not config.traces:
        phases.append(
            plan_replays(
                config.envs[0], config.attribution_replays, config.attribution_horizon, manifest
            ).times(proposals, f"{config.attribution_replays} replay(s) per proposal")
        )
    meta_out = proposals * config.meta_turns * config.meta_tokens_per_turn
    meta_max = config.max_meta_tokens if proposals else 0  # the run's budget, resume included
    steps = config.default_recipe.train.max_steps
    if config.max_train_steps is not None:
        steps = min(steps or config.max_train_steps, config.max_train_steps)
    tokens_in = sum(p.input_tokens for p in phases)
    tokens_out = sum(p.output_tokens for p in phases)
    return Loop2Plan(
        phases=phases,
        trials=config.trials,
        train_steps=steps,
        meta_tokens_max=meta_max,
        meta_dollars_max=cost_of(config.meta_llm, meta_max, meta_out) if meta_max else 0.0,
        agent_dollars=cost_of(config.base_llm, tokens_in, tokens_out),
        gpu_hours=(tokens_in + tokens_out) / GPU_TOKENS_PER_S / 3600,
    )


def format_loop2_plan(plan: Loop2Plan) -> str:
    """The plan as text: the phase table, then LoRA, meta-LLM and cost lines."""

    def dollars(value: float | None) -> str:
        return "unpriced" if value is None else f"${value:,.2f}"

    steps = "as the recipe's epochs give" if plan.train_steps is None else f"{plan.train_steps}"
    lines = [
        "Plan (estimates; episodes that end early cost less):",
        format_phase_table(plan.phases),
        f"training: up to {plan.trials} LoRA run(s) (one per trial), steps per run: {steps}",
        f"meta-LLM: at most {plan.meta_tokens_max:,} tokens over {max(0, plan.trials - 1)} "
        f"proposal(s) ({dollars(plan.meta_dollars_max)}"
        + (" at most)" if plan.meta_dollars_max is not None else ")")
        if plan.trials > 1
        else "meta-LLM: none (one trial: the default recipe)",
        f"agent: {dollars(plan.agent_dollars)} typical; about {plan.gpu_hours:,.2f} GPU-hours "
        f"at {GPU_TOKENS_PER_S:,.0f} tokens/s",
    ]
    return "\n".join(lines)
