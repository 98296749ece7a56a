"""Shared helpers: an episode context without a game, a copy of the v0 scaffold, and this
directory on `sys.path` for the helper modules next to the tests (`probe_policy`)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from automem_agent import EpisodeContext, builtin_scaffold, load_scaffold
from automem_envs import EpisodeSpec

sys.path.insert(0, str(Path(__file__).parent))

ACTIONS = ["noop", "move left", "move right", "move up", "move down", "do"]


@pytest.fixture
def ctx(tmp_path):
    return EpisodeContext(
        spec=EpisodeSpec(env_id="crafter", seed=7, max_steps=10),
        instructions="Collect wood. Avoid zombies.",
        actions=list(ACTIONS),
        default_action="noop",
        memory_dir=tmp_path / "memory",
    )


@pytest.fixture
def v0():
    return load_scaffold(builtin_scaffold("v0"))


@pytest.fixture
def scaffold_copy(tmp_path):
    """A writable copy of v0 and a loader for it after edits."""
    dst = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), dst)
    return dst
