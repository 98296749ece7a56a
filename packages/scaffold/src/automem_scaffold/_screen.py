"""A cheap screen before the full gate: a candidate clearly worse than the incumbent on the same
few (possibly shortened) episodes is rejected without its full evaluation.

The screen is off by default (`screen_seeds = 0`): that is the paper's rule, a full evaluation
and a strict > on the mean. The savings are estimated from what the full evaluation would have
cost, taken as the incumbent's own full evaluation on the same episodes.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from automem_envs import EpisodeSpec


class ScreenResult(msgspec.Struct, frozen=True, kw_only=True):
    """The screen's verdict, recorded in `decision.json`. Means are over `episodes`; a candidate
    is rejected iff `candidate_mean < incumbent_mean - margin`."""

    episodes: list[str]
    max_steps: int | None  # the cut step limit (None = each episode's full limit)
    margin: float
    incumbent_mean: float
    candidate_mean: float
    rejected: bool
    reason: str
    calls: int  # agent model calls the candidate's screen cost
    tokens: int
    saved_calls: int = 0  # estimated: the full evaluation that a rejection skipped
    saved_tokens: int = 0


class ScreenSavings(msgspec.Struct, frozen=True, kw_only=True):
    """Over a run: what the screens cost, what their rejections saved, and the net in GPU-hours
    at `tokens_per_s` agent tokens per GPU-second."""

    screened: int
    rejected: int
    cost_calls: int
    cost_tokens: int
    saved_calls: int
    saved_tokens: int
    tokens_per_s: float

    @property
    def net_tokens(self) -> int:
        return self.saved_tokens - self.cost_tokens

    @property
    def net_calls(self) -> int:
        return self.saved_calls - self.cost_calls

    @property
    def net_gpu_hours(self) -> float:
        return self.net_tokens / self.tokens_per_s / 3600.0


def screen_episodes(
    episodes: list[EpisodeSpec], seeds_per_env: int, max_steps: int | None
) -> list[EpisodeSpec]:
    """Per env, the first `seeds_per_env` of `episodes` (in order), cut to `max_steps` steps
    when that is set and below the episode's own limit."""
    taken: dict[str, int] = {}
    out = []
    for spec in episodes:
        if taken.get(spec.env_id, 0) >= seeds_per_env:
            continue
        taken[spec.env_id] = taken.get(spec.env_id, 0) + 1
        if max_steps is not None and (spec.max_steps <= 0 or max_steps < spec.max_steps):
            spec = msgspec.structs.replace(spec, max_steps=max_steps)
        out.append(spec)
    return out


def judge_screen(
    incumbent: dict[str, float],
    candidate: dict[str, float],
    *,
    margin: float,
    max_steps: int | None,
    calls: int,
    tokens: int,
    full_calls: int,
    full_tokens: int,
) -> ScreenResult:
    """Compares the two screens on their shared episodes. `full_calls`/`full_tokens` estimate
    the full evaluation a rejection skips."""
    keys = sorted(set(incumbent) & set(candidate))
    if not keys:
        raise ValueError("the screens share no episode; cannot compare them")
    inc = sum(incumbent[k] for k in keys) / len(keys)
    cand = sum(candidate[k] for k in keys) / len(keys)
    rejected = cand < inc - margin
    relation = "<" if rejected else ">="
    reason = (
        f"screen on {len(keys)} episode(s)"
        + (f" cut to {max_steps} steps" if max_steps is not None else "")
        + f": mean {cand:.4f} {relation} incumbent {inc:.4f} - margin {margin:g}"
        + (
            f"; rejected without the full evaluation (~{full_calls} calls saved)"
            if rejected
            else "; goes on to the full gate"
        )
    )
    return ScreenResult(
        episodes=keys,
        max_steps=max_steps,
        margin=margin,
        incumbent_mean=inc,
        candidate_mean=cand,
        rejected=rejected,
        reason=reason,
        calls=calls,
        tokens=tokens,
        saved_calls=full_calls if rejected else 0,
        saved_tokens=full_tokens if rejected else 0,
    )


def screen_savings(run_dir: Path, *, tokens_per_s: float) -> ScreenSavings:
    """Adds up every screen of the run: the rejections recorded in its decisions, and the cost
    of every screen evaluation on disk (an incumbent's screen is its own screen as a candidate,
    so it is paid once)."""
    from automem_scaffold._archive import read_decisions  # _archive's Decision holds a screen

    screens = [
        s
        for d in read_decisions(run_dir).values()
        for s in ([a.screen for a in d.attempts] if d.attempts else [d.screen])
        if s is not None
    ]
    roots = (run_dir / "iterations").glob
    costs = [
        evaluation_cost(p) for p in sorted([*roots("*/screen"), *roots("*/attempts/*/screen")])
    ]
    return ScreenSavings(
        screened=len(screens),
        rejected=sum(s.rejected for s in screens),
        cost_calls=sum(c for c, _ in costs),
        cost_tokens=sum(t for _, t in costs),
        saved_calls=sum(s.saved_calls for s in screens),
        saved_tokens=sum(s.saved_tokens for s in screens),
        tokens_per_s=tokens_per_s,
    )


def evaluation_cost(root: Path) -> tuple[int, int]:
    """(agent calls, agent tokens) of the evaluation stored under `root` ((0, 0) if none)."""
    path = root / "evaluation.json"
    if not path.exists():
        return 0, 0
    data = msgspec.json.decode(path.read_bytes())
    tokens = sum(int(v.get("input", 0)) + int(v.get("output", 0)) for v in data["tokens"].values())
    return int(data.get("calls", 0)), tokens
