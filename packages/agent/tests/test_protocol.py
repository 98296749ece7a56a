"""Protocols as data: the shipped files, how a run resolves one, and flag overrides."""

from __future__ import annotations

import argparse

import pytest
from automem_agent import (
    ProtocolError,
    add_run_arguments,
    builtin_protocols,
    load_protocol,
    play_main,
    protocol_from_args,
    resolve_protocol,
    with_overrides,
)

REAL_AGENT = "openai:http://gpu-host:8000/v1#Qwen/Qwen2.5-32B-Instruct"


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, distribution="automem-agent", run_dir_default=None)
    return parser.parse_args(list(argv))


def test_the_paper_protocol_is_the_automem_setting():
    paper = load_protocol("paper")
    assert {"paper", "balrog", "demo"} <= set(builtin_protocols())
    assert paper.scale == "full" and paper.agent.scaffold == "v0"
    assert paper.seed_list("crafter") == list(range(42, 52))
    assert paper.max_steps == {"crafter": 2000, "minihack": 100, "nethack": 100000}
    assert paper.no_progress_for("nethack") == 150 and paper.no_progress_for("crafter") is None
    assert (paper.observation_format, paper.action_set) == ("balrog", "balrog")
    assert (paper.agent.temperature, paper.agent.max_tokens) == (1.0, 4096)
    spec = paper.episode("nethack", 42)
    assert (spec.max_steps, spec.no_progress_steps, spec.observation_format) == (
        100000,
        150,
        "balrog",
    )


def test_the_balrog_protocol_uses_balrog_counts_on_seeds_from_zero():
    balrog = load_protocol("balrog")
    assert balrog.seed_list("crafter") == list(range(10))
    assert balrog.seed_list("nethack") == list(range(5))
    assert balrog.seed_list("minihack/MazeWalk-9x9") == list(range(5))


def test_a_real_model_never_falls_back_to_demo():
    assert resolve_protocol(None, REAL_AGENT).name == "paper"
    assert resolve_protocol(None, "anthropic:claude-opus-4-5").name == "paper"
    assert resolve_protocol(None, "llamacpp:smollm2").name == "demo"
    assert resolve_protocol(None, None).name == "demo"
    assert resolve_protocol("balrog", "smollm2").name == "balrog"
    run = protocol_from_args(parse("--agent-llm", REAL_AGENT))
    assert run.protocol.name == "paper" and not run.overrides
    assert "protocol paper [full scale]" in run.first_line()


def test_only_demo_has_small_caps_and_an_offline_model():
    demo = load_protocol("demo")
    assert demo.is_demo and demo.agent.llm == "llamacpp:smollm2"
    for name in builtin_protocols():
        protocol = load_protocol(name)
        if name != "demo":
            assert not protocol.is_demo and protocol.agent.llm is None
            assert min(protocol.max_steps.values()) >= 100


def test_overrides_are_named_on_the_first_line():
    run = protocol_from_args(
        parse("--agent-llm", REAL_AGENT, "--max-steps", "crafter=100", "--temperature", "0")
    )
    assert run.protocol.max_steps["crafter"] == 100
    assert run.protocol.max_steps["nethack"] == 100000
    assert "OVERRIDDEN: max_steps crafter 2000 -> 100; agent temperature 1.0 -> 0.0" in (
        run.first_line()
    )
    protocol, changes = with_overrides(load_protocol("paper"), seeds=3)
    assert protocol.seeds == {"crafter": 3, "minihack": 3, "nethack": 3} and len(changes) == 3


def test_explicit_seeds_use_one_syntax():
    run = protocol_from_args(parse("--seeds", "42-44,60", "--env", "crafter,nethack"))
    assert [(e.env_id, e.seed) for e in run.episodes()][:5] == [
        ("crafter", 42),
        ("crafter", 43),
        ("crafter", 44),
        ("crafter", 60),
        ("nethack", 42),
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--protocol", "nope"], "unknown protocol 'nope'"),
        (["--protocol", "paper"], "names no agent model: give --agent-llm"),
        (["--max-steps", "crafter=x"], "bad --max-steps"),
        (["--episodes", "chess=3"], "unknown family 'chess'"),
        (["--seeds", "a-b"], "bad --seeds"),
    ],
)
def test_bad_protocol_input_gets_a_clear_error(argv, message):
    with pytest.raises(ProtocolError, match=message):
        protocol_from_args(parse(*argv))


def test_a_protocol_file_is_checked(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\nscale = "full"\ndescription = ""\nsuite = "automem"\nenvs = ["crafter"]\n'
        'observation_format = "fancy"\naction_set = "balrog"\n'
        "[seeds]\ncrafter = 1\nminihack = 1\nnethack = 1\n"
        "[max_steps]\ncrafter = 1\nminihack = 1\nnethack = 1\n",
        encoding="utf-8",
    )
    with pytest.raises(ProtocolError, match="observation_format must be one of"):
        load_protocol(path)
    path.write_text(
        path.read_text().replace("fancy", "compact").replace("nethack = 1\n[max", "[max")
    )
    with pytest.raises(ProtocolError, match=r"\[seeds\] lacks \['nethack'\]"):
        load_protocol(path)


def test_play_dry_run_prints_the_plan_and_plays_nothing(tmp_path, capsys):
    code = play_main(["--agent-llm", REAL_AGENT, "--run-dir", str(tmp_path / "run"), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and not (tmp_path / "run").exists()
    assert out.splitlines()[0].startswith("protocol paper [full scale]")
    assert "20,000" in out  # 10 Crafter episodes of at most 2,000 steps
