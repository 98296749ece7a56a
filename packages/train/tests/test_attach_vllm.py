"""Loading a trained adapter into an OpenAI-compatible (vLLM) server at run time."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from automem_agent.models import load_model
from automem_train import attach_adapter


class _VLLM(BaseHTTPRequestHandler):
    loaded: dict[str, str] = {}

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path != "/v1/load_lora_adapter" or body["lora_name"] in self.loaded:
            self.send_response(400)
            self.end_headers()
            self.wfile.write(b"already loaded")
            return
        self.loaded[body["lora_name"]] = body["lora_path"]
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_adapter_loads_into_a_vllm_server_under_a_unique_name(tmp_path):
    server = HTTPServer(("127.0.0.1", 0), _VLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        model = load_model(f"openai:{url}#qwen")
        adapter = tmp_path / "run" / "trials" / "001" / "train" / "adapter"
        attach_adapter(model, adapter)
        served = model.served_model("memory")
        assert served == "memory-001-train" and _VLLM.loaded[served] == str(adapter.resolve())
        assert model.served_model(None) == "qwen"
        with pytest.raises(RuntimeError, match="VLLM_ALLOW_RUNTIME_LORA_UPDATING"):
            attach_adapter(model, adapter)  # the same name again: the server refuses
    finally:
        server.shutdown()
