"""The `vllm serve` command for the base model plus memory-specialist LoRA adapters.

One server answers both roles: requests for the base name run the unmodified model, requests
whose `model` is an adapter name (`OpenAICompatModel` sends `request.adapter` there) run that
LoRA. vLLM runs only on GPU hosts; here the command is built and tested, not executed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import msgspec

from automem_agent.models._imports import install_hint

# vLLM accepts only these LoRA ranks for --max-lora-rank.
VLLM_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)


class VLLMServeConfig(msgspec.Struct, frozen=True, kw_only=True):
    """What to serve and how. `adapters` maps a LoRA name (what requests ask for) to its
    directory. The server's own API key, if wanted, comes from $VLLM_API_KEY, which vLLM reads
    itself, so it never appears on a command line."""

    model: str = "Qwen/Qwen2.5-32B-Instruct"
    adapters: dict[str, str] = {}
    served_model_name: str | None = None
    tensor_parallel_size: int = 1
    max_model_len: int | None = 32768
    max_lora_rank: int = 64
    max_loras: int = 1
    # Adapters will be loaded while the server runs (Loop 2 loads each trial's adapter through
    # /v1/load_lora_adapter): LoRA is enabled even with no adapter at start, and the server gets
    # VLLM_ALLOW_RUNTIME_LORA_UPDATING=True.
    runtime_lora: bool = False
    host: str = "0.0.0.0"
    port: int = 8000
    gpu_memory_utilization: float | None = None
    dtype: str | None = None
    extra_args: list[str] = []


def vllm_serve_command(config: VLLMServeConfig) -> list[str]:
    """The argv of `vllm serve` for `config` (LoRA flags only when adapters are given)."""
    if config.max_lora_rank not in VLLM_LORA_RANKS:
        raise ValueError(
            f"max_lora_rank must be one of {VLLM_LORA_RANKS}, not {config.max_lora_rank}"
        )
    if config.tensor_parallel_size < 1 or config.max_loras < 1:
        raise ValueError("tensor_parallel_size and max_loras must be at least 1")
    cmd = ["vllm", "serve", config.model]
    if config.served_model_name:
        cmd += ["--served-model-name", config.served_model_name]
    if config.adapters or config.runtime_lora:
        for name in config.adapters:
            if not name or "=" in name or name == (config.served_model_name or config.model):
                raise ValueError(f"bad adapter name {name!r}")
        cmd += ["--enable-lora"]
        if config.adapters:
            cmd += ["--lora-modules"]
            cmd += [f"{name}={path}" for name, path in config.adapters.items()]
        cmd += ["--max-lora-rank", str(config.max_lora_rank)]
        cmd += ["--max-loras", str(config.max_loras)]
    cmd += ["--tensor-parallel-size", str(config.tensor_parallel_size)]
    if config.max_model_len:
        cmd += ["--max-model-len", str(config.max_model_len)]
    if config.gpu_memory_utilization is not None:
        cmd += ["--gpu-memory-utilization", str(config.gpu_memory_utilization)]
    if config.dtype:
        cmd += ["--dtype", config.dtype]
    cmd += ["--host", config.host, "--port", str(config.port)]
    return cmd + list(config.extra_args)


def vllm_serve_env(config: VLLMServeConfig) -> dict[str, str]:
    """Environment variables the server needs beyond the caller's (runtime adapter loading)."""
    return {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"} if config.runtime_lora else {}


def client_spec(config: VLLMServeConfig, host: str | None = None) -> str:
    """The `load_model` spec that talks to this server (adapters go in `ChatRequest.adapter`)."""
    where = host or ("localhost" if config.host in ("0.0.0.0", "::") else config.host)
    return f"openai:http://{where}:{config.port}/v1#{config.served_model_name or config.model}"


def serve_vllm(config: VLLMServeConfig, *, dry_run: bool = False) -> int:
    """Print the command and, unless `dry_run`, run it in the foreground; returns its exit code.
    Without vLLM installed it says how to install it and returns 2."""
    cmd = vllm_serve_command(config)
    extra_env = vllm_serve_env(config)
    print(" ".join([*(f"{k}={v}" for k, v in extra_env.items()), *cmd]))
    print(f"# clients: load_model({client_spec(config)!r}); adapters: {sorted(config.adapters)}")
    if dry_run:
        return 0
    if importlib.util.find_spec("vllm") is None or shutil.which("vllm") is None:
        print(f"error: vLLM is not installed. On a GPU host run: {install_hint('vllm')}")
        return 2
    missing = [
        n for n, p in config.adapters.items() if not (Path(p) / "adapter_config.json").is_file()
    ]
    if missing:
        print(f"error: no adapter_config.json for adapter(s) {missing}")
        return 2
    return subprocess.call(cmd, env={**os.environ, **extra_env})
