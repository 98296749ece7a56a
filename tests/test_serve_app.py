"""apps/serve: the vLLM command it prints, and its messages without vLLM. The app imports
automem_train (recipes of a Loop 2 run), so this test lives with the cross-package tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_app(*args):
    env = {k: v for k, v in os.environ.items() if k != "VLLM_API_KEY"}
    return subprocess.run(
        [sys.executable, str(REPO / "apps" / "serve" / "__main__.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_serve_app_dry_run_and_missing_vllm():
    dry = run_app(
        "--adapter",
        "memory=runs/y/adapter",
        "--tensor-parallel-size",
        "4",
        "--dry-run",
        "--",
        "--seed",
        "1",
    )
    assert dry.returncode == 0, dry.stderr
    first = dry.stdout.splitlines()[0]
    assert first.startswith("vllm serve Qwen/Qwen2.5-32B-Instruct ")
    assert "--lora-modules memory=runs/y/adapter" in first and first.endswith("--seed 1")
    assert "--tensor-parallel-size 4" in first
    if importlib.util.find_spec("vllm") is None:
        real = run_app("--adapter", "memory=runs/y/adapter")
        assert real.returncode == 2 and "uv sync --all-packages --extra vllm" in real.stdout
    bad = run_app("--adapter", "memory")
    assert bad.returncode == 2 and "NAME=PATH" in bad.stderr
