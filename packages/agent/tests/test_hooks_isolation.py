"""Scaffold hooks run in a hook worker process: whatever a hook does (return, raise, return the
wrong type, hang, hoard memory, read secrets, print) costs at most that call, never the agent."""

from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

import pytest
from automem_agent import HookLimits, ScaffoldError, builtin_scaffold, load_scaffold
from automem_agent._hooks import HookLoadError, IsolatedHooks, load_hooks
from automem_envs import Observation

HOOKS = """
import os, sys, time

def repair_action(action, actions):
    if action == "raise":
        raise ValueError("bad action " + action)
    if action == "int":
        return 42
    if action == "hang":
        time.sleep(3600)
    if action == "hoard":
        hoard = []
        while True:
            hoard.append(bytearray(32 * 2**20))
    if action == "exit":
        os._exit(7)
    if action == "env":
        return repr(os.environ.get("AUTOMEM_TEST_API_KEY")) + " " + os.getcwd()
    if action == "modules":
        heavy = ("torch", "transformers", "automem_agent", "numpy")
        return ",".join(m for m in heavy if m in sys.modules)
    if action == "print":
        print("noise on stdout")
        return "printed"
    return action.upper() + ":" + ",".join(actions)

def format_observation(observation, env_id):
    return f"{env_id}|{observation.text}|{observation.position}|{len(observation.grid)}"

def analyze(observation, history):
    return str(len(history)) + ":" + ",".join(h.text for h in history)
"""

LIMITS = HookLimits(call_s=1.0, memory_mb=256, max_restarts=3)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def hooks(tmp_path: Path):
    (tmp_path / "hooks.py").write_text(HOOKS)
    h = load_hooks(tmp_path / "hooks.py", limits=LIMITS)
    assert isinstance(h, IsolatedHooks)
    yield h
    h.close()


def test_normal_calls_round_trip_observations(hooks: IsolatedHooks) -> None:
    events: list[str] = []
    obs = Observation(text="a tree", position=(3, 4), grid=["..", "T."])
    assert hooks.repair_action("go", ["noop", "go"], events) == "GO:noop,go"
    assert hooks.format_observation(obs, "crafter", events) == "crafter|a tree|(3, 4)|2"
    history = [Observation(text="one"), Observation(text="two")]
    assert hooks.analyze(obs, history, events) == "2:one,two"
    assert events == []
    assert sorted(hooks.names) == ["analyze", "format_observation", "repair_action"]


def test_raise_and_wrong_type_fall_back_with_events(hooks: IsolatedHooks) -> None:
    events: list[str] = []
    pid = hooks.worker_pid
    assert hooks.repair_action("raise", ["noop"], events) == "raise"
    assert hooks.repair_action("int", ["noop"], events) == "int"
    assert events == [
        "hook repair_action raised ValueError: bad action raise",
        "hook repair_action returned int, expected str",
    ]
    assert hooks.worker_pid == pid  # a hook bug does not cost the worker


def test_hang_is_cut_and_the_next_call_restarts_the_worker(hooks: IsolatedHooks) -> None:
    events: list[str] = []
    pid = hooks.worker_pid
    assert pid is not None
    assert hooks.repair_action("hang", ["noop"], events) == "hang"
    assert events == ["hook repair_action timed out after 1s"]
    assert not _alive(pid)
    assert hooks.repair_action("go", ["x"], events) == "GO:x"
    assert hooks.worker_pid not in (None, pid)


def test_memory_hoard_is_contained(hooks: IsolatedHooks) -> None:
    events: list[str] = []
    assert hooks.repair_action("hoard", ["noop"], events) == "hoard"
    assert len(events) == 1
    assert "hook repair_action" in events[0] and "memory limit (256 MiB)" in events[0], events
    assert (
        hooks.repair_action("go", ["x"], events) == "GO:x"
    )  # this process is fine, so is the next


def test_a_dying_worker_is_restarted_then_hooks_are_disabled(hooks: IsolatedHooks) -> None:
    events: list[str] = []
    for _ in range(LIMITS.max_restarts + 1):
        assert hooks.repair_action("exit", ["noop"], events) == "exit"
    assert events[0] == "hook repair_action crashed its worker (exit status 7)"
    assert events[-1].endswith("hooks disabled after 4 worker failures")
    events.clear()
    assert hooks.repair_action("go", ["x"], events) == "go"
    assert events == ["hook repair_action skipped: hooks disabled after 4 worker failures"]
    assert hooks.worker_pid is None


def test_worker_sees_no_secrets_no_heavy_modules_and_runs_in_the_scaffold_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTOMEM_TEST_API_KEY", "sk-secret")
    (tmp_path / "hooks.py").write_text(HOOKS)
    h = load_hooks(tmp_path / "hooks.py", limits=LIMITS)
    try:
        events: list[str] = []
        assert h.repair_action("env", [], events) == f"None {tmp_path.resolve()}"
        assert h.repair_action("modules", [], events) == ""
        assert h.repair_action("print", [], events) == "printed"  # stdout is not the channel
        assert events == []
    finally:
        h.close()


def test_concurrent_calls_share_one_worker(hooks: IsolatedHooks) -> None:
    results: dict[int, list[str]] = {}

    def work(i: int) -> None:
        events: list[str] = []
        results[i] = [hooks.repair_action(f"t{i}n{n}", [str(i)], events) for n in range(25)]
        assert events == []

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(6):
        assert results[i] == [f"T{i}N{n}:{i}" for n in range(25)]


def test_close_and_collection_end_the_worker(tmp_path: Path) -> None:
    (tmp_path / "hooks.py").write_text(HOOKS)
    h = load_hooks(tmp_path / "hooks.py", limits=LIMITS)
    pid = h.worker_pid
    assert pid is not None and _alive(pid)
    h.close()
    assert not _alive(pid)
    events: list[str] = []
    assert h.repair_action("go", [], events) == "go"
    assert events == ["hook repair_action skipped: hooks were closed"]

    h = load_hooks(tmp_path / "hooks.py", limits=LIMITS)
    pid = h.worker_pid
    del h
    gc.collect()
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def analyze(observation, history:\n", "hooks.py:1: syntax error"),
        ("import no_such_module_here\n", "import failed: ModuleNotFoundError"),
        (
            "def analyze(observation):\n    return ''\n",
            "analyze must accept (observation, history)",
        ),
        ("repair_action = 3\n", "repair_action must be a function, got int"),
        ("import time\ntime.sleep(3600)\n", "import timed out after 1s"),
        ("x = bytearray(2**31)\n", "import exceeded its memory limit"),
    ],
)
def test_load_problems_are_reported_at_load_time(tmp_path: Path, source: str, problem: str) -> None:
    path = tmp_path / "hooks.py"
    path.write_text(source)
    limits = HookLimits(call_s=1.0, load_s=1.0, memory_mb=256)
    with pytest.raises(HookLoadError, match=r"hooks\.py") as info:
        load_hooks(path, limits=limits)
    assert problem in str(info.value)


def test_load_scaffold_uses_the_worker_and_close_ends_it(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "s"
    shutil.copytree(builtin_scaffold("v0"), root)
    s = load_scaffold(root)
    assert isinstance(s.hooks, IsolatedHooks)
    pid = s.hooks.worker_pid
    assert pid is not None
    assert s.hooks.repair_action("Move_Left.", ["noop", "move left"], []) == "move left"
    s.close()
    assert not _alive(pid)
    (root / "hooks.py").write_text("def analyze(observation):\n    return ''\n")
    with pytest.raises(ScaffoldError, match="analyze must accept"):
        load_scaffold(root)


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_worker_outlives_its_parent(tmp_path: Path, ending: str) -> None:
    import signal
    import subprocess
    import sys

    (tmp_path / "hooks.py").write_text(HOOKS)
    script = (
        "import sys, threading\n"
        "from pathlib import Path\n"
        "from automem_agent._hooks import HookLimits, load_hooks\n"
        f"h = load_hooks(Path({str(tmp_path / 'hooks.py')!r}), limits=HookLimits(call_s=60))\n"
        "print(h.worker_pid, flush=True)\n"
        "if sys.argv[1] == 'sigkill':\n"  # leave the worker stuck in a hook, then get killed
        "    threading.Thread(target=h.repair_action, args=('hang', [], [])).start()\n"
        "    threading.Event().wait()\n"
        "sys.stdin.readline()\n"  # exit normally only once the test has seen the worker alive
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script, ending],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdin is not None and parent.stdout is not None
    pid = int(parent.stdout.readline())
    assert _alive(pid)
    if ending == "sigkill":
        time.sleep(0.3)
        parent.send_signal(signal.SIGKILL)
    else:
        parent.stdin.write("\n")
        parent.stdin.flush()
    parent.wait(timeout=30)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)
