"""The Pareto archive and the screen's verdict, as pure functions over per-episode scores."""

from __future__ import annotations

import pytest
from automem_envs import EpisodeSpec
from automem_scaffold._pareto import CandidateScores, pareto_archive
from automem_scaffold._screen import judge_screen, screen_episodes


def _c(it: int, scores: list[float], tokens: float = 100.0, growth: float = 5.0) -> CandidateScores:
    keys = [f"crafter__{42 + i}" for i in range(len(scores))]
    return CandidateScores(
        iteration=it,
        per_episode=dict(zip(keys, scores, strict=True)),
        tokens_per_step=tokens,
        memory_growth_per_step=growth,
    )


def test_archive_keeps_a_candidate_that_wins_on_one_seed_only() -> None:
    incumbent = _c(1, [0.5, 0.5, 0.5])
    specialist = _c(2, [0.0, 0.0, 0.9])  # worse mean, best on seed 44 alone
    dominated = _c(3, [0.4, 0.4, 0.4], tokens=200.0)
    archive = pareto_archive([incumbent, specialist, dominated])
    assert archive.iterations == [1, 2]
    member = archive.members[1]
    assert member.best_on == ["crafter__44"] and not member.non_dominated
    assert archive.candidates == 3


def test_archive_shows_same_progression_at_half_the_tokens() -> None:
    incumbent = _c(1, [0.5, 0.5], tokens=200.0)
    frugal = _c(2, [0.5, 0.5], tokens=100.0)  # ties everywhere: best on no seed
    archive = pareto_archive([incumbent, frugal])
    assert archive.iterations == [2]  # the incumbent is dominated by its frugal twin
    assert archive.members[0].non_dominated and archive.members[0].best_on == []
    leaner = pareto_archive([incumbent, _c(3, [0.5, 0.5], tokens=200.0, growth=1.0)])
    assert leaner.iterations == [3]


def test_screen_rejects_only_clearly_worse() -> None:
    inc = {"crafter__42": 0.3, "crafter__43": 0.3}
    args = {"max_steps": 50, "calls": 10, "tokens": 1000, "full_calls": 400, "full_tokens": 40_000}
    worse = judge_screen(inc, {"crafter__42": 0.1, "crafter__43": 0.2}, margin=0.05, **args)
    assert worse.rejected and worse.saved_calls == 400 and worse.saved_tokens == 40_000
    assert "cut to 50 steps" in worse.reason and "0.05" in worse.reason
    close = judge_screen(inc, {"crafter__42": 0.3, "crafter__43": 0.22}, margin=0.05, **args)
    assert not close.rejected and close.saved_calls == 0
    with pytest.raises(ValueError, match="share no episode"):
        judge_screen(inc, {"crafter__99": 1.0}, margin=0.0, **args)


def test_screen_episodes_take_the_first_seeds_cut_short() -> None:
    specs = [EpisodeSpec(env_id=e, seed=s, max_steps=100) for e in ("a", "b") for s in (1, 2, 3)]
    chosen = screen_episodes(specs, 2, 30)
    assert [(e.env_id, e.seed, e.max_steps) for e in chosen] == [
        ("a", 1, 30),
        ("a", 2, 30),
        ("b", 1, 30),
        ("b", 2, 30),
    ]
    assert screen_episodes(specs, 1, None)[0].max_steps == 100
