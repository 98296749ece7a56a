"""BALROG's observation text and action sets, against text recorded from BALROG itself."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from automem_envs import make

DATA = Path(__file__).parent / "data"


def _cases(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())["cases"]


@pytest.mark.parametrize(
    "case", _cases("balrog_crafter_text.json"), ids=lambda c: f"seed{c['seed']}"
)
def test_crafter_text_matches_balrogs_on_fixed_seeds(case):
    pytest.importorskip("crafter", reason="needs the crafter extra (uv sync --extra crafter)")
    with make(
        "crafter", seed=case["seed"], observation_format="balrog", action_set="balrog"
    ) as env:
        texts = [env.reset().text]
        for action in case["actions"]:
            result = env.step(action)
            assert result.valid_action
            texts.append(result.observation.text)
    for i, (ours, balrogs) in enumerate(zip(texts, case["texts"], strict=True)):
        assert ours == balrogs, f"step {i}"


def test_crafter_reset_takes_one_noop_under_balrogs_format():
    pytest.importorskip("crafter", reason="needs the crafter extra (uv sync --extra crafter)")

    def state(env):
        world = env._env._world
        return env._env._step, sorted((type(o).__name__, tuple(o.pos)) for o in world.objects)

    with (
        make("crafter", seed=5) as plain,
        make("crafter", seed=5, observation_format="balrog") as b,
    ):
        plain.reset()
        b.reset()
        assert state(b)[0] == 1 and state(plain)[0] == 0
        plain.step("noop")
        assert state(b) == state(plain)
        assert b.stats.steps == 0 and b.stats.game_steps == 0  # not one of the episode's steps


def test_crafter_balrog_action_set_is_exact():
    pytest.importorskip("crafter", reason="needs the crafter extra (uv sync --extra crafter)")
    with make("crafter", seed=1, action_set="balrog") as env:
        env.reset()
        assert env.actions[:3] == ["Noop", "Move West", "Move East"] and len(env.actions) == 17
        assert env.default_action == "Noop"
        assert env.step("Move West").valid_action
        wrong = env.step("move west")  # BALROG matches names exactly
        assert not wrong.valid_action and wrong.action == "Noop"
    with make("crafter", seed=1) as env:  # our own set stays tolerant
        env.reset()
        assert env.step("Move West").valid_action and env.step("left").valid_action


def _gz(name: str) -> dict:
    import gzip

    with gzip.open(DATA / name, "rt") as f:
        return json.load(f)


def test_nethack_text_matches_balrogs_on_recorded_states():
    np = pytest.importorskip("numpy")
    pytest.importorskip("nle", reason="needs the nethack extra (uv sync --extra nethack)")
    from automem_envs._balrog_nle import hybrid_text, text_message

    arrays = np.load(DATA / "balrog_nle_states.npz")
    cases = _gz("balrog_nle_text.json.gz")["cases"]
    continued = 0
    for i, case in enumerate(cases):
        a = {k: arrays[f"{i}_{k}"] for k in ("glyphs", "blstats", "tty_chars", "tty_cursor")}
        inv = (arrays[f"{i}_inv_strs"], arrays[f"{i}_inv_letters"])
        long_term, short_term = hybrid_text(
            case["message"], a["glyphs"], a["blstats"], a["tty_chars"], a["tty_cursor"], inv
        )
        assert long_term == case["long"], f"state {i}"
        assert short_term == case["short"], f"state {i}"
        if text_message(a["tty_chars"]) != case["message"]:
            continued += 1  # the message was put together over --More-- screens
    assert continued >= 10  # the recording covers BALROG's --More-- continuation


def test_every_glyph_is_named_as_balrog_names_it():
    pytest.importorskip("nle", reason="needs the nethack extra (uv sync --extra nethack)")
    from automem_envs._balrog_nle import glyph_names

    expected = _gz("balrog_nle_glyph_names.json.gz")["names"]
    screen, rays = glyph_names()
    for glyph, (ours, balrogs) in enumerate(zip(screen, expected["screen"], strict=True)):
        assert ours == balrogs, f"glyph {glyph}"
    # On a ray a glyph with a level-wide name shows under that name, others under the ray's.
    for glyph, (ours, balrogs) in enumerate(zip(rays, expected["rays"], strict=True)):
        assert (screen[glyph] or ours) == balrogs, f"glyph {glyph}"


def test_nethack_balrog_view_on_a_fixed_seed():
    nle = pytest.importorskip("nle", reason="needs the nethack extra (uv sync --extra nethack)")
    if nle.__version__.startswith("0."):  # balrog-nle: NetHack 3.6.6 deals another dungeon
        pytest.skip("seed recorded on nle 1.3.0 (the nethack extra)")
    with make("nethack", seed=1, observation_format="balrog", action_set="balrog") as env:
        first = env.reset()
        sections = ["inventory:", "message:", "language observation:", "cursor:", "map:"]
        positions = [first.text.index(f"{s}\n") for s in sections]
        assert positions == sorted(positions)
        assert "Konnichi wa Agent, welcome to NetHack!" in first.message
        assert "Yourself a samurai\n(x=28, y=9)" in first.text
        map_rows = first.text.split("map:\n", 1)[1].split("\n")
        assert len(map_rows) == 25 and all(len(r) == 80 for r in map_rows[:23])
        assert map_rows[21].startswith("Agent the Hatamoto") and "Lawful" in map_rows[21]
        assert map_rows[22].startswith("Dlvl:1 $:0 HP:15(15)")  # the two bottom status lines
        env.step("east")
        result = env.step("far south")  # a --More--, continued as BALROG continues it
        assert env.stats.game_steps == 3
        assert "Hachi bites the jackal." in result.observation.message
        assert "\n" in result.observation.message and "--More--" not in result.observation.message


def test_nethack_balrog_action_set():
    pytest.importorskip("nle", reason="needs the nethack extra (uv sync --extra nethack)")
    with make("nethack", seed=2, action_set="balrog") as env:
        env.reset()
        actions = env.actions
        assert len(actions) == 86 + 52 + 10 + 100
        assert "turnundead" in actions and "apos" not in actions  # as BALROG's checker
        assert actions[:2] == ["north", "east"] and actions[-1] == "99"
        result = env.step("i")  # a single letter is sent as that key (here: inventory)
        assert result.valid_action and "menu" in (result.observation.prompt or "").lower()
        assert not env.step("Search").valid_action  # exact names only
    with make("nethack", seed=2, action_set="balrog") as env:
        env.reset()
        result = env.step("05")  # listed by BALROG, mapped to no key: BALROG's episode errors
        assert result.done and env.stats.end_reason == "errored" and "05" in env.stats.error


def test_minihack_quest_has_balrogs_32_actions():
    pytest.importorskip("minihack", reason="needs the nethack extra (uv sync --extra nethack)")
    with make("minihack/Quest-Easy", seed=1, action_set="balrog") as env:
        env.reset()
        assert len(env.actions) == 32 and env.default_action == "north"
        assert {"zap", "puton", "quaff", "pray", "far north"} <= set(env.actions)
        assert "up" not in env.actions  # BALROG names only what the task itself offers
    with make("minihack/MazeWalk-9x9", seed=1, action_set="balrog") as env:
        env.reset()
        assert env.actions == [
            "north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest"
        ]  # fmt: skip
