"""`apps/train` (`automem-train`) is built on the shared run flags: a protocol decides Loop 2's
episodes, sampling, start scaffold and scale; a real model never runs at demo scale; the first
output line names protocol, scale and every override; `--dry-run` plans without loading a
model; the old flag names keep working."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from automem_agent import ProtocolError, builtin_protocols, load_protocol
from automem_train import (
    Loop2Config,
    Loop2Error,
    build_parser,
    config_from_args,
    demo_config,
    main,
)

ROOT = Path(__file__).resolve().parents[3]
# A model that cannot load here: a run that got as far as loading it would fail.
REAL = "hf:/nonexistent/Qwen2.5-32B-Instruct"
META = "anthropic:claude-opus-4-5"


def config(*argv: str) -> Loop2Config:
    return config_from_args(build_parser().parse_args(list(argv)))


def app(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "apps" / "train"), *argv],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_dry_run_with_a_real_model_resolves_to_paper_and_loads_nothing(tmp_path):
    run = tmp_path / "run"
    done = app("--agent-llm", REAL, "--meta-llm", META, "--run-dir", str(run), "--dry-run")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    first = lines[0]
    assert first.startswith("protocol paper [full scale]: evaluate crafter 10 seeds x 2000 steps")
    assert "pool 100 episodes x 2000 steps" in first and "at least 300 examples" in first
    assert "balrog text, balrog actions" in first and "max_tokens 4096" in first
    assert "OVERRIDDEN" not in first
    # the plan: 100 pool episodes of at most 2,000 steps, the base evaluation once, the
    # specialist's once per trial, the meta-LLM's bound
    assert lines[1].startswith("Plan")
    pool = next(line for line in lines if line.startswith("pool "))
    assert pool.split()[1:3] == ["100", "200,000"]
    assert any(line.startswith("eval base ") and " 10 " in line for line in lines)
    assert any("once per trial (3)" in line for line in lines)
    assert "meta-LLM: at most 400,000 tokens over 2 proposal(s)" in done.stdout
    assert not run.exists()  # nothing written, no model loaded


def test_overrides_are_named_on_the_first_line_in_process(tmp_path, capsys):
    code = main(
        [
            "--agent-llm", REAL, "--meta-llm", META, "--run-dir", str(tmp_path / "run"),
            "--max-steps", "crafter=100", "--pool-episodes", "10", "--max-tokens", "512",
            "--dry-run",
        ]
    )  # fmt: skip
    first = capsys.readouterr().out.splitlines()[0]
    assert code == 0
    assert first.startswith("protocol paper [full scale]: evaluate crafter 10 seeds x 100 steps")
    assert first.endswith(
        "OVERRIDDEN: max_steps crafter 2000 -> 100; agent max_tokens 4096 -> 512; "
        "pool_episodes 100 -> 10"
    )


def test_version_and_help():
    done = app("--version")
    assert done.returncode == 0 and version("automem-train") in done.stdout
    text = build_parser().format_help()
    assert "(default: runs/train)" in text and "--agent-llm" in text and "--dry-run" in text
    assert "--base-llm" not in text and "--no-progress-bar" not in text  # hidden old names


def test_no_model_flags_run_the_demo_protocol_at_its_train_scale(tmp_path):
    demo = config("--run-dir", str(tmp_path / "run"))
    assert demo.protocol == "demo" and demo.demo and demo.overrides == []
    # the pool is the demo scaffold's grammar episodes on llama.cpp; LoRA trains the same
    # SmolLM2 weights through transformers, which evaluates with free decoding
    assert (demo.base_llm, demo.meta_llm, demo.scaffold) == ("smollm2", "smollm2", "demo")
    assert (demo.collect_llm, demo.eval_decoding) == ("llamacpp:smollm2", "free")
    assert (demo.pool_episodes, demo.eval_seeds, demo.eval_max_steps) == (3, [42], 4)
    assert demo.default_recipe.name == "demo-all" and demo.min_examples == 1
    assert demo.scale_line.startswith("protocol demo [DEMO scale (small caps)]")
    assert demo_config(str(tmp_path / "run")) == demo


def test_a_real_model_never_gets_the_demo_scale(tmp_path):
    paper = config("--agent-llm", REAL, "--meta-llm", META, "--run-dir", str(tmp_path / "r"))
    assert paper.protocol == "paper" and not paper.demo
    assert (paper.pool_episodes, paper.min_examples, paper.trials) == (100, 300, 3)
    assert paper.eval_episodes == {"crafter": 10, "minihack": 10, "nethack": 10}
    assert paper.eval_max_steps == {"crafter": 2000, "minihack": 100, "nethack": 100000}
    assert paper.no_progress_steps == {"nethack": 150}
    assert (paper.observation_format, paper.action_set) == ("balrog", "balrog")
    assert (paper.temperature, paper.max_tokens, paper.scaffold) == (1.0, 4096, "v0")
    assert paper.base_llm == REAL and paper.max_length is None
    # A real run without a meta-LLM would have its recipes proposed by nothing real.
    with pytest.raises(ProtocolError, match="give --meta-llm"):
        config("--agent-llm", REAL)
    assert config("--agent-llm", REAL, "--trials", "1").overrides == ["trials 3 -> 1"]


def test_the_old_flag_names_map_onto_the_shared_ones(tmp_path):
    old = config(
        "--base-llm", "tiny", "--no-progress-bar", "--eval-seeds", "42-43",
        "--eval-max-steps", "5", "--scaffold-rounds", "1", "--run-dir", str(tmp_path / "r"),
    )  # fmt: skip
    new = config(
        "--agent-llm", "tiny", "--no-progress", "--seeds", "42-43", "--max-steps", "5",
        "--max-rounds", "1", "--run-dir", str(tmp_path / "r"),
    )  # fmt: skip
    assert old == new
    assert (new.base_llm, new.progress, new.eval_seeds, new.max_rounds) == (
        "tiny",
        False,
        [42, 43],
        1,
    )
    assert new.eval_max_steps == {"crafter": 5, "minihack": 5, "nethack": 5}


def test_every_builtin_protocol_has_a_valid_train_table(tmp_path):
    for name in builtin_protocols():
        protocol = load_protocol(name)
        agent = [] if protocol.is_demo else ["--agent-llm", REAL, "--meta-llm", META]
        built = config("--protocol", name, *agent, "--run-dir", str(tmp_path / name))
        assert built.protocol == name and built.demo == protocol.is_demo
        assert built.pool_episodes == protocol.train["pool_episodes"]


def test_a_train_table_with_a_field_it_may_not_set_is_refused(tmp_path):
    path = tmp_path / "mine.toml"
    text = (ROOT / "packages/agent/src/automem_agent/protocols/paper.toml").read_text()
    path.write_text(text.replace("[train]\n", '[train]\nenvs = ["nethack"]\n'))
    assert tomllib.loads(path.read_text())["train"]["envs"] == ["nethack"]
    with pytest.raises(ProtocolError, match=r"\[train\] cannot set \['envs'\]"):
        config("--protocol", str(path), "--agent-llm", REAL, "--meta-llm", META)


def test_a_bad_input_is_one_line_without_a_traceback(tmp_path):
    done = app("--agent-llm", REAL, "--run-dir", str(tmp_path / "r"), "--dry-run")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("apps/train: error: protocol 'paper'")


def test_another_agent_plays_its_own_pool_under_the_demo_table(tmp_path):
    """The demo's [train] pairs llama.cpp (the pool) with transformers (training); naming
    another agent drops that pairing and says so on the first line."""
    other = config("--agent-llm", "tiny", "--run-dir", str(tmp_path / "run"))
    assert other.protocol == "demo" and other.base_llm == "tiny"
    assert other.collect_llm is None and other.eval_decoding is None
    assert "collect_llm llamacpp:smollm2 -> (the agent's own)" in other.scale_line


def test_a_negative_count_is_refused_not_read_as_off(tmp_path):
    for flag in ("--attribution-replays", "--pool-episodes", "--trials"):
        with pytest.raises(Loop2Error, match="must be 0 or more, got -1"):
            config(flag, "-1", "--run-dir", str(tmp_path / "run"))
