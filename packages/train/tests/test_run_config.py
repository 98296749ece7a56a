"""Loop 2's run records: `config.toml` + `recipe.json` and the resume identity check; the pool's
seeds avoid every evaluation episode; `report.md` holds the before/after table."""

from __future__ import annotations

import tomllib

import msgspec
import pytest
from automem_envs import suite
from automem_train import (
    AgentMetrics,
    Comparison,
    Composition,
    Loop2Config,
    Loop2Error,
    PoolRecord,
    Recipe,
    TrialRecord,
    check_resume,
    config_toml,
    demo_config,
    pool_suite_of,
    render_report,
)
from automem_train._loop_config import save_config


def test_config_toml_round_trips_what_it_can_and_the_recipe_whole(tmp_path):
    config = demo_config(str(tmp_path / "run")).with_overrides(
        {"default_recipe": Recipe(name="r", composition=Composition(log_share=None))}
    )
    save_config(config)
    text = (tmp_path / "run" / "config.toml").read_text()
    assert "# base_path = (unset)" in text  # TOML has no null: named in a comment
    stored = tomllib.loads(text)
    assert stored["eval_seeds"] == [42] and stored["demo"] is True
    recipe = msgspec.json.decode((tmp_path / "run" / "recipe.json").read_bytes(), type=Recipe)
    assert recipe.composition.log_share is None  # a meaningful null survives
    assert config_toml(config) == text


def test_resume_identity_check(tmp_path):
    config = demo_config(str(tmp_path / "run"))
    check_resume(config)  # a new directory passes
    save_config(config)
    check_resume(config)
    # Trials, budgets and the meta-LLM may change on resume.
    check_resume(config.with_overrides({"trials": 5, "meta_llm": "tiny", "max_hours": 1.0}))
    changed = config.with_overrides({"base_llm": "tiny", "eval_seeds": [42, 43]})
    with pytest.raises(Loop2Error) as err:
        check_resume(changed)
    message = str(err.value)
    assert "base_llm: run has 'smollm2', command asks for 'tiny'" in message
    assert "eval_seeds: run has [42], command asks for [42, 43]" in message
    assert "Use a new --run-dir" in message
    with pytest.raises(Loop2Error, match="default recipe"):
        check_resume(config.with_overrides({"default_recipe": Recipe(name="other")}))
    with pytest.raises(Loop2Error, match="eval_max_steps: run has 4, command asks for None"):
        check_resume(config.with_overrides({"eval_max_steps": None}))
    (tmp_path / "run" / "config.toml").write_text("not = [toml")
    with pytest.raises(Loop2Error, match="unreadable"):
        check_resume(config)


def test_pool_seeds_skip_every_evaluation_episode():
    full = suite("automem", envs=["crafter"])
    config = Loop2Config(run_dir="x", pool_episodes=4, first_collect_seed=44)
    excluded = {("crafter", s) for s in range(42, 52)} | {("crafter", 53)}
    pool = pool_suite_of(config, full, excluded)
    assert [e.seed for e in pool.episodes] == [52, 54, 55, 56]
    assert all(e.max_steps == full.episodes[0].max_steps for e in pool.episodes)
    capped = pool_suite_of(config.with_overrides({"collect_max_steps": 7}), full, excluded)
    assert {e.max_steps for e in capped.episodes} == {7}


def test_report_has_the_before_after_table_and_the_loss_curve(tmp_path):
    def m(progression: float, ratio: float, growth: float) -> AgentMetrics:
        return AgentMetrics(
            progression=progression,
            stderr=1.0,
            write_to_search=ratio,
            memory_growth_per_step=growth,
            episodes=10,
        )

    comparison = Comparison(
        base={"crafter": m(20.0, 0.84, 138.0)}, specialist={"crafter": m(30.0, 0.39, 6.0)}
    )
    trial = TrialRecord(
        index=0, recipe=Recipe(), proposer="default", status="ok", comparison=comparison
    )
    pool = PoolRecord(
        sources=["runs/y/pool/eval"],
        episodes=100,
        candidates=900,
        collected_seeds={"crafter": [*range(1000, 1100)]},
        skipped_turns=3,
        skipped_episodes=["crafter seed 43"],
        loop1="Loop 1 run runs/x: incumbent iteration 2",
    )
    report = render_report(tmp_path, [trial], pool)
    assert "collected crafter on seeds 1000-1099" in report
    assert "skipped 3 turns from 1 traces on evaluation seeds: crafter seed 43" in report
    assert "incumbent iteration 2" in report and "![loss curves](loss.png)" in report
    assert "0.84" in report and "0.39" in report and "138.0" in report and "6.0" in report
    assert "20.0±1.0" in report and "30.0±1.0" in report
