"""Chat-model backends behind the `ChatModel` protocol, chosen by a spec string.

`load_model("smollm2")`, `load_model("openai:http://localhost:8000/v1#qwen")`, ... See
packages/agent/MODELS.md. Heavy dependencies (torch, SDKs) are imported only when a backend
that needs them is built.
"""

from automem_agent.models._anthropic import AnthropicModel
from automem_agent.models._balanced import BalancedModel
from automem_agent.models._cache import cache_dir
from automem_agent.models._ledger import MeteredModel, TokenLedger, UsageTotals
from automem_agent.models._llamacpp import convert_gguf
from automem_agent.models._local import LocalModel
from automem_agent.models._openai import OpenAICompatModel, RequestRejected
from automem_agent.models._registry import backends, load_model, register_backend
from automem_agent.models._replay import (
    RecordingModel,
    ReplayEntry,
    ReplayModel,
    read_replay,
    request_digest,
)
from automem_agent.models._retry import RetryPolicy
from automem_agent.models._scripted import ScriptedModel
from automem_agent.models._smollm2 import smollm2_gguf, smollm2_path
from automem_agent.models._tiny import CHAT_TEMPLATE as TINY_CHAT_TEMPLATE
from automem_agent.models._tiny import build_tiny_model
from automem_agent.models._vllm import (
    VLLM_LORA_RANKS,
    VLLMServeConfig,
    client_spec,
    serve_vllm,
    vllm_serve_command,
    vllm_serve_env,
)

__all__ = [
    "TINY_CHAT_TEMPLATE",
    "VLLM_LORA_RANKS",
    "AnthropicModel",
    "BalancedModel",
    "LocalModel",
    "MeteredModel",
    "OpenAICompatModel",
    "RecordingModel",
    "ReplayEntry",
    "ReplayModel",
    "RequestRejected",
    "RetryPolicy",
    "ScriptedModel",
    "TokenLedger",
    "UsageTotals",
    "VLLMServeConfig",
    "backends",
    "build_tiny_model",
    "cache_dir",
    "client_spec",
    "convert_gguf",
    "load_model",
    "read_replay",
    "register_backend",
    "request_digest",
    "serve_vllm",
    "smollm2_gguf",
    "smollm2_path",
    "vllm_serve_command",
    "vllm_serve_env",
]
