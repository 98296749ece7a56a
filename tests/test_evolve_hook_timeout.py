"""A hook that hangs or hoards memory only later in an episode (after the smoke episode would
have passed) is cut short during evaluation (its worker is killed and restarted): the step
records the event and the episode goes on."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

from automem_agent import ScriptedModel, builtin_scaffold
from automem_agent.trace import read_trace
from automem_envs import EpisodeSpec
from automem_scaffold import evaluate

sys.path.insert(0, str(Path(__file__).parent))
from test_evolve_policies import agent_policy

LATE_HANG = (
    "import time\n"
    "def analyze(observation, history):\n"
    "    if len(history) >= 2:\n"
    "        time.sleep(3600)\n"
    "    return ''\n"
)


def test_late_hanging_hook_is_interrupted(tmp_path: Path) -> None:
    scaffold = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), scaffold)
    (scaffold / "hooks.py").write_text(LATE_HANG)
    episodes = [EpisodeSpec(env_id="crafter", seed=42, max_steps=4)]
    evaluation = asyncio.run(
        evaluate(
            scaffold, episodes, tmp_path / "eval_root", model=ScriptedModel(agent_policy),
            hook_timeout_s=0.5,
        )
    )  # fmt: skip
    assert evaluation.episodes == 1 and not evaluation.errored
    trace = read_trace(tmp_path / "eval_root" / "eval" / "crafter" / "42.jsonl")
    assert len(trace.steps) == 4
    events = [e for step in trace.steps for e in step.events]
    assert any("hook analyze timed out" in e for e in events), events


LATE_HOARD = (
    "def analyze(observation, history):\n"
    "    if len(history) >= 2:\n"
    "        hoard = []\n"
    "        while True:\n"
    "            hoard.append(bytearray(32 * 2**20))\n"
    "    return 'fine'\n"
)


def test_late_memory_hoarding_hook_is_contained(tmp_path: Path) -> None:
    scaffold = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), scaffold)
    (scaffold / "hooks.py").write_text(LATE_HOARD)
    episodes = [EpisodeSpec(env_id="crafter", seed=42, max_steps=4)]
    evaluation = asyncio.run(
        evaluate(
            scaffold, episodes, tmp_path / "eval_root", model=ScriptedModel(agent_policy),
            hook_memory_mb=256,
        )
    )  # fmt: skip
    assert evaluation.episodes == 1 and not evaluation.errored
    trace = read_trace(tmp_path / "eval_root" / "eval" / "crafter" / "42.jsonl")
    assert len(trace.steps) == 4
    events = [e for step in trace.steps for e in step.events]
    assert any("hook analyze exceeded its memory limit (256 MiB)" in e for e in events), events
