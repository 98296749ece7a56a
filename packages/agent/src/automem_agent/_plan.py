"""A run's plan before it spends anything: episodes, step limits, LLM calls and tokens.

Estimates are bounds and typical values, not promises: every step makes one LOG and one PLAN
call at least (no LOG at step 0 where the scaffold skips it) and at most `max_rounds` of each;
a call reads about `PROMPT_TOKENS` and writes between a typical `REPLY_TOKENS` and the phase's
`max_tokens`. Episodes that end early (a death, the no-progress timeout) cost less.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

import msgspec
from automem_envs import EpisodeSpec

from automem_agent._manifest import Manifest

# Typical prompt size of one agent call (system prompt, observation, memory index, results),
# measured on v0 traces with BALROG's Crafter text; and a typical reply.
PROMPT_TOKENS = 1500
REPLY_TOKENS = 150


class PhasePlan(msgspec.Struct, frozen=True, kw_only=True):
    """What one phase of a run will play and roughly cost."""

    phase: str
    episodes: int
    steps: int  # at most: the sum of the episodes' step limits
    calls_typical: int
    calls_max: int
    input_tokens: int  # typical
    output_tokens: int  # typical
    output_tokens_max: int
    note: str = ""

    def times(self, k: int, note: str) -> PhasePlan:
        """This phase played `k` times over (every candidate, every trial), noted as `note`."""
        return PhasePlan(
            phase=self.phase,
            episodes=self.episodes * k,
            steps=self.steps * k,
            calls_typical=self.calls_typical * k,
            calls_max=self.calls_max * k,
            input_tokens=self.input_tokens * k,
            output_tokens=self.output_tokens * k,
            output_tokens_max=self.output_tokens_max * k,
            note=note,
        )


def read_manifest(scaffold_dir: Path) -> Manifest:
    """The scaffold's `scaffold.toml`, typed (no hooks are loaded)."""
    data = tomllib.loads((scaffold_dir / "scaffold.toml").read_text(encoding="utf-8"))
    return msgspec.convert(data, Manifest)


def plan_episodes(
    phase: str, episodes: Sequence[EpisodeSpec], manifest: Manifest, *, note: str = ""
) -> PhasePlan:
    """The calls and tokens `episodes` take under `manifest`, typical and at most."""
    steps = sum(max(0, e.max_steps) for e in episodes)
    log, plan = manifest.log, manifest.plan
    typical = 2 * steps
    most = steps * (log.max_rounds + plan.max_rounds)
    return PhasePlan(
        phase=phase,
        episodes=len(episodes),
        steps=steps,
        calls_typical=typical,
        calls_max=most,
        input_tokens=typical * PROMPT_TOKENS,
        output_tokens=steps
        * (min(REPLY_TOKENS, log.max_tokens) + min(REPLY_TOKENS, plan.max_tokens)),
        output_tokens_max=steps
        * (log.max_rounds * log.max_tokens + plan.max_rounds * plan.max_tokens),
        note=note,
    )


def format_phase_table(rows: Sequence[PhasePlan]) -> str:
    """A plain-text table of phase plans with a total row."""
    head = f"{'phase':<14}{'episodes':>9}{'steps<=':>11}{'calls (typ..max)':>22}{'tokens in/out (typ)':>24}"
    lines = [head, "-" * len(head)]

    def row(name: str, r: Sequence[PhasePlan]) -> str:
        calls = f"{sum(x.calls_typical for x in r):,}..{sum(x.calls_max for x in r):,}"
        tokens = f"{sum(x.input_tokens for x in r):,}/{sum(x.output_tokens for x in r):,}"
        return (
            f"{name:<14}{sum(x.episodes for x in r):>9,}{sum(x.steps for x in r):>11,}"
            f"{calls:>22}{tokens:>24}"
        )

    lines += [row(r.phase, [r]) + (f"  {r.note}" if r.note else "") for r in rows]
    lines.append(row("total", list(rows)))
    return "\n".join(lines)


def plan_replays(env_id: str, replays: int, horizon: int, manifest: Manifest) -> PhasePlan:
    """Write attribution's cost: `replays` counterfactual replays of `horizon + 1` live steps
    each (the prefix is served from the trace, so only these steps call the model). Its
    `calls_max` is the allowance the `attribute` tool enforces."""
    replay = EpisodeSpec(env_id=env_id, seed=0, max_steps=horizon + 1)
    return plan_episodes("attribution", [replay] * replays, manifest)
