"""The base package works without the games; missing games name the extra to install."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKED = r"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"crafter", "nle", "minihack", "numpy", "gymnasium"}:
            raise ImportError(f"No module named {name!r} (blocked)")
sys.meta_path.insert(0, Block())
import automem_envs as envs
assert envs.nethack_progression(2, 5) > 0.029
s = envs.suite("automem")
assert not s.episodes and len(s.skipped) == 10, s.skipped
for env_id, extra in (("crafter", "crafter"), ("nethack", "nethack"),
                      ("minihack/MazeWalk-9x9", "nethack")):
    try:
        envs.make(env_id, seed=1)
    except envs.GameNotInstalled as error:
        assert f"uv sync --extra {extra}" in str(error), error
        assert f'pip install "automem-envs[{extra}]"' in str(error), error
    else:
        raise AssertionError(env_id)
try:
    import automem_envs.gym
except envs.GameNotInstalled as error:
    assert "--extra gym" in str(error)
else:
    raise AssertionError("gym adapter imported without gymnasium")
print("ok")
"""


def test_base_package_imports_without_games_and_names_the_extra():
    run = subprocess.run(
        [sys.executable, "-c", BLOCKED], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "ok"


def test_wrong_types_are_clear_errors():
    from automem_envs import EnvError, make

    for kwargs, message in [
        ({"seed": 1.5}, "seed must be an int"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"seed": 2**64}, "seed must be < 2\\*\\*63"),
        ({"seed": 1, "max_steps": 0}, "max_steps must be >= 1"),
        ({"seed": 1, "max_steps": "10"}, "max_steps must be an int"),
    ]:
        with pytest.raises(EnvError, match=message):
            make("crafter", **kwargs)
    with pytest.raises(EnvError, match="env_id must be a str"):
        make(3, seed=1)  # type: ignore[arg-type]
