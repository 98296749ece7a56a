"""The sandbox runner: results, errors as values, limits, secret scrubbing, working directory."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from automem_agent.meta import SandboxLimits, run_sandboxed, scrubbed_env


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "target.py"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return f"{path}:main"


def test_returns_json_value_and_runs_in_cwd(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    target = _script(
        tmp_path,
        """
        import os
        def main(x, y):
            open("made-here.txt", "w").write("hi")
            return {"sum": x + y, "cwd": os.getcwd()}
        """,
    )
    result = run_sandboxed(target, {"x": 2, "y": 3}, cwd=work)
    assert result.ok, result.describe()
    assert result.value["sum"] == 5
    assert Path(result.value["cwd"]).resolve() == work.resolve()
    assert (work / "made-here.txt").exists()


def test_async_target_and_module_target(tmp_path: Path) -> None:
    target = _script(
        tmp_path,
        """
        import asyncio
        async def main():
            await asyncio.sleep(0)
            return [1, 2]
        """,
    )
    assert run_sandboxed(target, cwd=tmp_path).value == [1, 2]
    result = run_sandboxed("json:dumps", {"obj": {"a": 1}}, cwd=tmp_path)
    assert result.value == '{"a": 1}'


def test_exception_comes_back_with_traceback_tail(tmp_path: Path) -> None:
    target = _script(
        tmp_path,
        """
        def helper():
            raise ValueError("bad hook")
        def main():
            helper()
        """,
    )
    result = run_sandboxed(target, cwd=tmp_path)
    assert not result.ok
    assert result.error == "exception"
    assert "ValueError: bad hook" in result.message
    assert "helper" in result.traceback
    assert "bad hook" in result.describe()


def test_syntax_error_in_target_is_a_value(tmp_path: Path) -> None:
    target = _script(tmp_path, "def main(:\n    pass\n")
    result = run_sandboxed(target, cwd=tmp_path)
    assert result.error == "exception"
    assert "SyntaxError" in result.message


def test_hang_is_killed_with_its_children(tmp_path: Path) -> None:
    beat = tmp_path / "beat"
    target = _script(
        tmp_path,
        """
        import subprocess, time
        def main():
            subprocess.Popen(["sh", "-c", "while :; do echo . >> beat; sleep 0.05; done"])
            while True:
                time.sleep(0.1)
        """,
    )
    result = run_sandboxed(target, cwd=tmp_path, limits=SandboxLimits(wall_s=3))
    assert result.error == "timeout"
    # The grandchild lived in the box's pid namespace and died with it: the beat stops.
    time.sleep(0.3)
    size = beat.stat().st_size
    assert size > 0
    time.sleep(0.5)
    assert beat.stat().st_size == size


def test_memory_limit(tmp_path: Path) -> None:
    target = _script(
        tmp_path,
        """
        def main():
            blocks = []
            while True:
                blocks.append(bytearray(50 * 2**20))
        """,
    )
    result = run_sandboxed(target, cwd=tmp_path, limits=SandboxLimits(wall_s=30, memory_mb=300))
    assert not result.ok
    assert result.error == "memory"


def test_environment_is_an_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret")
    monkeypatch.setenv("HF_TOKEN", "hf-secret")
    monkeypatch.setenv("DB_PASSWORD", "pw")
    monkeypatch.setenv("AUTOMEM_HARMLESS", "yes")
    target = _script(
        tmp_path,
        """
        import os
        def main():
            return dict(os.environ)
        """,
    )
    env = run_sandboxed(target, cwd=tmp_path, extra_env={"AUTOMEM_GIVEN": "1"}).value
    assert env["AUTOMEM_GIVEN"] == "1"  # what the caller passes explicitly
    assert "AUTOMEM_HARMLESS" not in env  # nothing else of ours leaks in
    assert Path(env["HOME"]).resolve() == tmp_path.resolve() == Path(env["TMPDIR"]).resolve()
    for name in env:
        assert not any(word in name.upper() for word in ("KEY", "TOKEN", "SECRET", "PASSWORD"))
    assert "sk-secret" not in str(env)
    assert "api_key" not in {k.lower() for k in scrubbed_env({"api_key": "x"})}


def test_process_exit_without_result_is_reported(tmp_path: Path) -> None:
    target = _script(
        tmp_path,
        """
        import os
        def main():
            os._exit(3)
        """,
    )
    result = run_sandboxed(target, cwd=tmp_path)
    assert result.error == "crashed"
    assert result.returncode == 3
