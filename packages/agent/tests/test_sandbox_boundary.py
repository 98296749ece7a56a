"""The sandbox is a boundary, not only a resource limit: LLM-written code cannot write into the
run directory, read the user's home or keys, reach the network, fork without bound or take
10 GB. Each attempt fails inside the box, comes back as a value, and the next call works."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest
from automem_agent.meta import (
    SandboxLimits,
    SandboxUnavailable,
    run_sandboxed,
    sandbox_problem,
)

pytestmark = pytest.mark.skipif(bool(sandbox_problem()), reason=sandbox_problem() or "ok")

ATTACKS = """
import os, socket

def write(path):
    with open(path, "w") as f:
        f.write("tampered")
    return "wrote"

def read(path):
    with open(path) as f:
        return f.read()

def listdir(path):
    return sorted(os.listdir(path))

def env(name):
    return os.environ.get(name)

def connect(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        return s.recv(100).decode()

def fork_count():
    n = 0
    pids = []
    try:
        while n < 10000:
            pid = os.fork()
            if pid == 0:
                import time
                time.sleep(30)
                os._exit(0)
            pids.append(pid)
            n += 1
    except OSError as exc:
        return [n, type(exc).__name__]
    return [n, "unbounded"]

def fork_bomb():
    while True:
        try:
            os.fork()
        except OSError:
            pass

def allocate(gb):
    block = bytearray(gb * 2**30)
    return len(block)

def fine():
    return "still fine"
"""


@pytest.fixture
def attacks(tmp_path: Path) -> Path:
    path = tmp_path / "code" / "attacks.py"
    path.parent.mkdir()
    path.write_text(ATTACKS)
    return path


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "r1"
    (run / "iterations" / "000").mkdir(parents=True)
    (run / "iterations" / "000" / "evaluation.json").write_text('{"mean": 0.1}')
    other = run / "iterations" / "000" / "eval" / "memory" / "crafter" / "43"
    other.mkdir(parents=True)
    (other / "notes.md").write_text("episode 43's memory")
    return run


def _call(attacks: Path, scratch: Path, fn: str, **kwargs):
    scratch.mkdir(exist_ok=True)
    return run_sandboxed(
        f"{attacks}:{fn}",
        kwargs,
        cwd=scratch,
        limits=SandboxLimits(wall_s=20, memory_mb=512, max_processes=32),
    )


def _still_fine(attacks: Path, scratch: Path) -> None:
    result = _call(attacks, scratch, "fine")
    assert result.ok and result.value == "still fine", result.describe()


def test_writing_into_the_run_directory_fails(attacks: Path, run_dir: Path, tmp_path: Path):
    evaluation = run_dir / "iterations" / "000" / "evaluation.json"
    memory = run_dir / "iterations" / "000" / "eval" / "memory" / "crafter" / "43" / "notes.md"
    scratch = tmp_path / "scratch"
    for target in (evaluation, memory):
        result = _call(attacks, scratch, "write", path=str(target))
        assert not result.ok and result.error == "exception", result
        assert "FileNotFoundError" in result.message or "Read-only" in result.message
    # Even where the run directory is visible (the review tools bind their bundle), it is
    # read-only.
    result = run_sandboxed(
        f"{attacks}:write",
        {"path": str(evaluation)},
        cwd=scratch,
        read_only=[run_dir],
    )
    assert result.error == "exception" and "Read-only file system" in result.message
    assert evaluation.read_text() == '{"mean": 0.1}'
    assert memory.read_text() == "episode 43's memory"
    # Its own scratch directory is writable.
    assert _call(attacks, scratch, "write", path=str(scratch / "mine.txt")).ok
    assert (scratch / "mine.txt").read_text() == "tampered"
    _still_fine(attacks, scratch)


def test_home_and_api_keys_cannot_be_read(
    attacks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    home = tmp_path / "home"
    (home / ".config" / "anthropic").mkdir(parents=True)
    key_file = home / ".config" / "anthropic" / "api_key"
    key_file.write_text("sk-ant-from-a-file")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-the-env")
    scratch = tmp_path / "scratch"
    result = _call(attacks, scratch, "read", path=str(key_file))
    assert result.error == "exception" and "FileNotFoundError" in result.message
    assert _call(attacks, scratch, "env", name="ANTHROPIC_API_KEY").value is None
    assert Path(_call(attacks, scratch, "env", name="HOME").value) == scratch.resolve()
    # The real home of this user: at most the directories the interpreter lives in show up.
    real_home = Path(os.path.expanduser("~" + os.environ.get("USER", ""))).resolve()
    if real_home == Path("/"):
        pytest.skip("no home directory")
    listed = _call(attacks, scratch, "listdir", path=str(real_home))
    secrets = {".ssh", ".npmrc", ".bashrc", ".profile", ".gitconfig", ".config", ".claude"}
    if listed.ok:
        assert not secrets & set(listed.value), listed.value
    assert "sk-ant" not in (listed.stdout + listed.stderr + str(listed.value))
    _still_fine(attacks, scratch)


def test_sockets_cannot_reach_a_server_on_this_host(attacks: Path, tmp_path: Path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []

    def serve() -> None:
        server.settimeout(10)
        try:
            conn, _ = server.accept()
            conn.sendall(b"hello from the host")
            accepted.append(conn)
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        # The server is reachable from here...
        with socket.create_connection(("127.0.0.1", port), timeout=2) as probe:
            assert probe.recv(100) == b"hello from the host"
        thread.join()
        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        # ...but not from the box, which has its own empty network namespace.
        result = _call(attacks, tmp_path / "scratch", "connect", port=port)
        assert result.error == "exception"
        assert "ConnectionRefused" in result.message or "unreachable" in result.message
    finally:
        server.close()
    _still_fine(attacks, tmp_path / "scratch")


def test_forks_are_bounded_and_a_fork_bomb_is_killed(attacks: Path, tmp_path: Path):
    scratch = tmp_path / "scratch"
    result = _call(attacks, scratch, "fork_count")
    assert result.ok, result.describe()
    forks, why = result.value
    assert why == "BlockingIOError" and forks < 32
    bomb = run_sandboxed(
        f"{attacks}:fork_bomb",
        cwd=scratch,
        limits=SandboxLimits(wall_s=3, memory_mb=512, max_processes=32),
    )
    assert bomb.error == "timeout"
    _still_fine(attacks, scratch)


def test_a_10_gb_allocation_fails_as_memory(attacks: Path, tmp_path: Path):
    result = _call(attacks, tmp_path / "scratch", "allocate", gb=10)
    assert result.error == "memory", result.describe()
    _still_fine(attacks, tmp_path / "scratch")


def test_without_bwrap_the_code_is_refused_naming_the_package(
    attacks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
):
    monkeypatch.setenv("AUTOMEM_BWRAP", str(tmp_path / "no-such-bwrap"))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        run_sandboxed(f"{attacks}:fine", cwd=scratch)
    assert "--unsafe-no-sandbox" in sandbox_problem()
    with caplog.at_level("WARNING", logger="automem.sandbox"):
        result = run_sandboxed(
            f"{attacks}:fine", cwd=scratch, limits=SandboxLimits(unsafe_no_sandbox=True)
        )
    assert result.ok and result.value == "still fine" and result.sandboxed is False


def test_bwrap_that_cannot_run_is_refused(
    tmp_path: Path, attacks: Path, monkeypatch: pytest.MonkeyPatch
):
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("AUTOMEM_BWRAP", str(fake))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(SandboxUnavailable, match="cannot create a sandbox here") as info:
        run_sandboxed(f"{attacks}:fine", cwd=scratch)
    assert "No permissions" in str(info.value) and "bubblewrap" in str(info.value)


EPISODE_ATTACKS = """
import os, socket

TARGETS = {targets!r}


def _attempt(n):
    if n == 0:
        open(TARGETS["evaluation"], "w").write("{{}}")
    elif n == 1:
        open(TARGETS["other_memory"], "a").write("tampered")
    elif n == 2:
        open(TARGETS["own_memory"], "a").write("tampered")
    elif n == 3:
        return open(TARGETS["key_file"]).read()
    elif n == 4:
        return os.environ["ANTHROPIC_API_KEY"]
    elif n == 5:
        socket.create_connection(("127.0.0.1", TARGETS["port"]), timeout=2).close()
    elif n == 6:
        while True:
            try:
                os.fork()
            except OSError:
                pass
    elif n == 7:
        return str(len(bytearray(10 * 2**30)))
    return "nothing to try"


class Agent:
    def observe(self, step):
        result = _attempt(step.number)
        return {{"notices": [f"step {{step.number}}: ESCAPED {{result!r}}"]}}
"""


def test_scaffold_code_attacks_fail_are_recorded_and_the_episode_goes_on(
    tmp_path: Path, run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hostile agent program inside a real Crafter episode: every attempt fails in its
    worker, shows up as an event of that step, and the episode plays all its steps."""
    import asyncio
    import shutil

    pytest.importorskip("crafter", reason="Crafter is not installed (uv sync --extra crafter)")
    from automem_agent import (
        HookLimits,
        RoleModels,
        builtin_scaffold,
        load_scaffold,
        memory_agent_factory,
        memory_path,
        run_suite,
    )
    from automem_agent.models import ScriptedModel
    from automem_agent.trace import iter_traces
    from automem_envs import EpisodeSpec, Suite

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    key_file = tmp_path / "home" / ".anthropic"
    key_file.parent.mkdir()
    key_file.write_text("sk-ant-in-a-file")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    out_dir = run_dir / "iterations" / "001"
    spec = EpisodeSpec(env_id="crafter", seed=42, max_steps=9)
    targets = {
        "evaluation": str(run_dir / "iterations" / "000" / "evaluation.json"),
        "other_memory": str(
            run_dir / "iterations" / "000" / "eval" / "memory" / "crafter" / "43" / "notes.md"
        ),
        "own_memory": str(memory_path(out_dir, spec) / "notes.md"),
        "key_file": str(key_file),
        "port": server.getsockname()[1],
    }
    root = tmp_path / "scaffold"
    shutil.copytree(builtin_scaffold("v0"), root)
    (root / "hooks.py").write_text(EPISODE_ATTACKS.format(targets=targets))
    scaffold = load_scaffold(root, hook_limits=HookLimits(call_s=3.0, memory_mb=512))
    model = ScriptedModel(lambda _r: "<|DONE|><|ACTION|>noop<|END|>")
    try:
        asyncio.run(
            run_suite(
                Suite(name="t", episodes=[spec]),
                memory_agent_factory(scaffold, RoleModels.single(model)),
                out_dir,
                concurrency=1,
            )
        )
    finally:
        scaffold.close()
        server.close()
    (trace,) = list(iter_traces(out_dir / "eval"))
    assert trace.summary is not None and trace.summary.status == "finished"
    assert len(trace.steps) == 9
    events = {s.step: " | ".join(s.events) for s in trace.steps}
    for step in trace.steps:
        notices = step.hooks.notices if step.hooks else []
        if step.step < 8:
            assert not notices, (step.step, notices)  # no attempt got through
    assert "FileNotFoundError" in events[0] or "Read-only" in events[0]
    assert "FileNotFoundError" in events[1] or "Read-only" in events[1]
    assert "FileNotFoundError" in events[2] or "Read-only" in events[2]
    assert "FileNotFoundError" in events[3]
    assert "KeyError" in events[4]
    assert "unreachable" in events[5] or "ConnectionRefused" in events[5]
    assert "timed out" in events[6]
    assert "memory limit" in events[7]
    # After two worker failures the program was rebuilt and still runs.
    assert "restarted in a new worker" in events[7] or "restarted in a new worker" in events[8]
    assert trace.steps[8].hooks.notices == ["step 8: ESCAPED 'nothing to try'"]
    assert (run_dir / "iterations" / "000" / "evaluation.json").read_text() == '{"mean": 0.1}'
    other = run_dir / "iterations" / "000" / "eval" / "memory" / "crafter" / "43" / "notes.md"
    assert other.read_text() == "episode 43's memory"
    assert "tampered" not in (memory_path(out_dir, spec) / "notes.md").read_text()
