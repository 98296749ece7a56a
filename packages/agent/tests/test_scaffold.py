"""Scaffold loading: v0 is valid, and every kind of breakage names its file and problem."""

from __future__ import annotations

import shutil

import pytest
from automem_agent import ScaffoldError, builtin_scaffold, content_hash, load_scaffold
from automem_envs import Observation


@pytest.fixture
def v0_copy(tmp_path):
    dst = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), dst)
    return dst


def test_v0_matches_the_paper_starting_agent():
    s = load_scaffold(builtin_scaffold("v0"))
    m = s.manifest
    assert s.name == "v0"
    assert set(m.log.ops) == {"search", "read", "tail", "count", "append", "write", "create"}
    assert set(m.plan.ops) == {"search", "read", "tail", "count"}
    assert m.log.max_rounds == 5 and m.plan.max_rounds == 5
    assert set(m.memory.reference.values()) == {"instructions", "actions"}
    assert m.stuck.window >= 2
    assert len(s.content_hash) == 64
    # The v0 hook maps loose action text onto the vocabulary, and leaves unknown text alone.
    events: list[str] = []
    assert s.hooks.repair_action("Move_Left.", ["noop", "move left"], events) == "move left"
    assert s.hooks.repair_action("fly", ["noop", "move left"], events) == "fly"
    assert events == []


def test_content_hash_tracks_every_byte(v0_copy):
    before = content_hash(v0_copy)
    assert load_scaffold(v0_copy).content_hash == before
    (v0_copy / "prompts" / "plan.md").write_text("PLAN $observation\n", encoding="utf-8")
    assert content_hash(v0_copy) != before
    (v0_copy / "__pycache__").mkdir()
    (v0_copy / "__pycache__" / "x.pyc").write_bytes(b"junk")  # build litter is not content
    assert load_scaffold(v0_copy).content_hash == content_hash(v0_copy)


def test_syntax_tags_is_read_as_pipe(v0_copy):
    """Scaffolds written before the rename say `syntax = "tags"`; they load unchanged."""
    _manifest_edit(v0_copy, 'syntax = "pipe"', 'syntax = "tags"')
    assert load_scaffold(v0_copy).manifest.syntax == "pipe"


def _break(root, file, text):
    (root / file).write_text(text, encoding="utf-8")


def _manifest_edit(root, old, new):
    path = root / "scaffold.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize(
    ("edit", "file", "problem"),
    [
        (lambda r: _break(r, "scaffold.toml", "name = [unclosed"), "scaffold.toml", "invalid TOML"),
        (lambda r: (r / "scaffold.toml").unlink(), "scaffold.toml", "missing"),
        (
            lambda r: _manifest_edit(
                r,
                'ops = ["search", "read", "tail", "count", "append"',
                'ops = ["search", "fly", "tail", "count", "append"',
            ),
            "scaffold.toml",
            "unknown op 'fly'",
        ),
        (
            lambda r: _manifest_edit(
                r, 'ops = ["search", "read", "tail", "count"]', 'ops = ["search", "append"]'
            ),
            "scaffold.toml",
            "only read-only ops, not 'append'",
        ),
        (
            lambda r: _manifest_edit(r, "max_rounds = 5", "max_rounds = 0"),
            "scaffold.toml",
            "max_rounds",
        ),
        (
            lambda r: _manifest_edit(r, 'name = "v0"', 'name = "v0"\ncolour = "blue"'),
            "scaffold.toml",
            "colour",
        ),
        (lambda r: (r / "prompts" / "log.md").unlink(), "prompts/log.md", "missing"),
        (
            lambda r: _break(r, "prompts/plan.md", "Obs: $observation\nBad: $nonsense\n"),
            "prompts/plan.md",
            "$nonsense",
        ),
        (
            lambda r: _manifest_edit(r, 'message = "WARNING', 'message = "$observation WARNING'),
            "scaffold.toml [stuck] message",
            "$observation",
        ),
        (lambda r: shutil.rmtree(r / "memory"), "memory", "missing"),
        (lambda r: _break(r, "hooks.py", "def analyze(:\n"), "hooks.py", "syntax error"),
        (
            lambda r: _break(r, "hooks.py", "def repair_action(action):\n    return action\n"),
            "hooks.py",
            "repair_action must accept (action, actions)",
        ),
        (lambda r: _break(r, "hooks.py", "analyze = 3\n"), "hooks.py", "must be a function"),
        (lambda r: _break(r, "hooks.py", "import no_such_module_x\n"), "hooks.py", "import failed"),
        (
            lambda r: _manifest_edit(
                r, 'pattern = "reference/*"', 'pattern = "reference/*"\nkeyed_by = "("'
            ),
            "scaffold.toml",
            "[memory]",
        ),
    ],
)
def test_broken_scaffold_names_file_and_problem(v0_copy, edit, file, problem):
    edit(v0_copy)
    with pytest.raises(ScaffoldError) as info:
        load_scaffold(v0_copy)
    assert info.value.file == file
    assert problem in str(info.value)


def test_braces_in_templates_are_harmless(v0_copy):
    _break(v0_copy, "prompts/plan.md", 'JSON like {"op": "read"} and $$5 are fine. $observation\n')
    s = load_scaffold(v0_copy)
    out = s.render("prompts/plan.md", {"observation": "OBS"})
    assert out == 'JSON like {"op": "read"} and $5 are fine. OBS\n'


def test_hook_failures_fall_back_and_are_reported(v0_copy):
    _break(
        v0_copy,
        "hooks.py",
        "def format_observation(observation, env_id):\n    raise RuntimeError('boom')\n"
        "def analyze(observation, history):\n    return 42\n",
    )
    s = load_scaffold(v0_copy)
    events: list[str] = []
    obs = Observation(text="a tree")
    assert s.hooks.format_observation(obs, "crafter", events) == "a tree"
    assert s.hooks.analyze(obs, [], events) == ""
    assert s.hooks.repair_action("x", ["y"], events) == "x"  # no such hook: unchanged
    assert events == [
        "hook format_observation raised RuntimeError: boom",
        "hook analyze returned int, expected str",
    ]


def test_unknown_builtin_is_an_error():
    with pytest.raises(ScaffoldError, match="no such built-in"):
        builtin_scaffold("v999")


def test_a_scaffold_spec_is_a_directory_or_a_builtin_name(tmp_path):
    from automem_agent import resolve_scaffold

    assert resolve_scaffold("v0") == builtin_scaffold("v0")
    assert resolve_scaffold(tmp_path) == tmp_path
    with pytest.raises(
        ScaffoldError, match=r"v99: neither a directory nor a built-in scaffold \(.*demo.*v0"
    ):
        resolve_scaffold("v99")
