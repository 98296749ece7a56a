"""A hook that hangs or hoards memory only later in an episode (after the smoke episode would
have passed) is cut short during evaluation (its worker is killed and restarted): the step
records the event and the episode goes on."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from automem_agent import ScriptedModel, builtin_scaffold
from automem_agent.trace import read_trace
from automem_envs import EpisodeSpec
from automem_scaffold import evaluate
from test_evolve_policies import agent_policy

LATE_HANG = (
    "import time\n"
    "def analyze(observation, history):\n"
    "    if len(history) >= 2:\n"
    "        time.sleep(3600)\n"
    "    return ''\n"
)
LATE_HOARD = (
    "def analyze(observation, history):\n"
    "    if len(history) >= 2:\n"
    "        hoard = []\n"
    "        while True:\n"
    "            hoard.append(bytearray(32 * 2**20))\n"
    "    return 'fine'\n"
)


@pytest.mark.parametrize(
    ("hooks", "limit", "event"),
    [
        pytest.param(LATE_HANG, {"hook_timeout_s": 0.5}, "hook analyze timed out", id="hang"),
        pytest.param(
            LATE_HOARD,
            {"hook_memory_mb": 256},
            "hook analyze exceeded its memory limit (256 MiB)",
            id="hoard",
        ),
    ],
)
def test_late_misbehaving_hook_is_cut_short(
    tmp_path: Path, hooks: str, limit: dict[str, float], event: str
) -> None:
    scaffold = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), scaffold)
    (scaffold / "hooks.py").write_text(hooks)
    episodes = [EpisodeSpec(env_id="crafter", seed=42, max_steps=4)]
    model = ScriptedModel(agent_policy)
    evaluation = asyncio.run(
        evaluate(scaffold, episodes, tmp_path / "eval_root", model=model, **limit)
    )
    assert evaluation.episodes == 1 and not evaluation.errored
    trace = read_trace(tmp_path / "eval_root" / "eval" / "crafter" / "42.jsonl")
    assert len(trace.steps) == 4
    events = [e for step in trace.steps for e in step.events]
    assert any(event in e for e in events), events
