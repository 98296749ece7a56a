"""Serving the specialist: the vLLM flags Loop 2 needs, derived from its recipes, and the
two-model evaluation against one server (a loopback fake of vLLM's HTTP API) that loads the
adapter at run time and picks base or adapter per request."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from automem_agent import builtin_scaffold, load_scaffold, read_trace
from automem_agent.models import VLLMServeConfig, load_model, vllm_serve_command, vllm_serve_env
from automem_envs import EpisodeSpec, Suite
from automem_train import (
    LoraSettings,
    Recipe,
    TrainConfig,
    attach_adapter,
    compare_specialist,
    serve_config_for,
    served_lora_rank,
)

REPO = Path(__file__).resolve().parents[3]


def _recipe(rank: int) -> Recipe:
    return Recipe(train=TrainConfig(lora=LoraSettings(rank=rank, alpha=2 * rank)))


def test_rank_and_runtime_flags_come_from_the_recipes(tmp_path):
    adapter = tmp_path / "a"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"r": 8, "peft_type": "LORA"}))
    config = serve_config_for(
        VLLMServeConfig(model="qwen"), [_recipe(16), _recipe(24)], adapters={"memory": str(adapter)}
    )
    cmd = vllm_serve_command(config)

    def flag(name):
        return cmd[cmd.index(name) + 1]

    assert "--enable-lora" in cmd and flag("--max-lora-rank") == "32"  # 24 rounds up
    assert flag("--max-loras") == "1" and flag("--lora-modules") == f"memory={adapter}"
    assert vllm_serve_env(config) == {"VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True"}
    fixed = serve_config_for(VLLMServeConfig(), [_recipe(16)], runtime=False)
    assert vllm_serve_env(fixed) == {}
    assert served_lora_rank([1]) == 1 and served_lora_rank([100]) == 128
    with pytest.raises(ValueError, match="largest"):
        served_lora_rank([1000])


def test_serve_app_for_a_loop2_run_enables_runtime_loading(tmp_path):
    run = tmp_path / "run"
    (run / "trials" / "001").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"default_recipe": {"name": "d"}}))
    (run / "trials" / "001" / "recipe.json").write_text(
        json.dumps({"train": {"lora": {"rank": 64, "alpha": 128}}})
    )
    done = subprocess.run(
        [sys.executable, str(REPO / "apps" / "serve"), "--run-dir", str(run), "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("VLLM_ALLOW_RUNTIME_LORA_UPDATING=True vllm serve ")
    assert "--enable-lora" in first and "--max-lora-rank 64" in first
    assert "--lora-modules" not in first  # nothing to load at start


class _FakeVLLM(BaseHTTPRequestHandler):
    """vLLM's OpenAI server as far as Loop 2 uses it: runtime adapter loading and chat
    completions for the base name or a loaded adapter's name (anything else is a 404)."""

    base = "qwen"
    loaded: dict[str, str] = {}
    requests: list[str] = []

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/v1/load_lora_adapter":
            if body["lora_name"] in self.loaded:
                return self._reply(400, {"error": "already loaded"})
            if not (Path(body["lora_path"]) / "adapter_config.json").is_file():
                return self._reply(404, {"error": "no adapter there"})
            self.loaded[body["lora_name"]] = body["lora_path"]
            return self._reply(200, {"ok": True})
        if self.path != "/v1/chat/completions":
            return self._reply(404, {"error": self.path})
        model = body["model"]
        if model != self.base and model not in self.loaded:
            return self._reply(404, {"error": f"model {model} does not exist"})
        self.requests.append(model)
        text = "<|DONE|>" if model != self.base else "<|ACTION|> noop <|/ACTION|>"
        return self._reply(
            200,
            {
                "id": "x",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
            },
        )

    def log_message(self, *args):
        pass


def test_two_model_eval_uses_one_server_with_the_adapter_loaded_at_run_time(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeVLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        model = load_model(f"openai:http://127.0.0.1:{server.server_port}/v1#qwen")
        adapter = tmp_path / "run" / "trials" / "002" / "train" / "adapter"
        adapter.mkdir(parents=True)
        (adapter / "adapter_config.json").write_text(json.dumps({"r": 16}))
        attach_adapter(model, adapter)
        served = model.served_model("memory")
        assert _FakeVLLM.loaded == {served: str(adapter.resolve())}

        suite = Suite(name="t", episodes=[EpisodeSpec(env_id="crafter", seed=42, max_steps=2)])
        comparison = asyncio.run(
            compare_specialist(
                suite,
                load_scaffold(builtin_scaffold("v0")),
                model,
                base_dir=tmp_path / "base",
                specialist_dir=tmp_path / "special",
                progress=False,
            )
        )
        assert comparison.specialist["crafter"].episodes == 1
        assert set(_FakeVLLM.requests) == {"qwen", served}  # one server, chosen per request
        special = read_trace(tmp_path / "special" / "eval" / "crafter" / "42.jsonl")
        plain = read_trace(tmp_path / "base" / "eval" / "crafter" / "42.jsonl")
        memory = [t for s in special.steps for t in s.turns if t.role == "memory"]
        acting = [t for s in special.steps for t in s.turns if t.role == "action"]
        assert memory and all(t.response == "<|DONE|>" for t in memory)  # the adapter answered
        assert acting and all("ACTION" in t.response for t in acting)  # the base answered
        assert all("ACTION" in t.response for s in plain.steps for t in s.turns)
        assert special.summary is not None and special.summary.status == "finished"
    finally:
        server.shutdown()
