"""Chat-model backends behind the `ChatModel` protocol, chosen by a spec string.

`load_model("smollm2")`, `load_model("openai:http://localhost:8000/v1#qwen")`, ... See MODELS.md.
"""

from automem_agent.models._replay import (
    RecordingModel,
    ReplayEntry,
    ReplayModel,
    read_replay,
    request_digest,
)
from automem_agent.models._scripted import ScriptedModel

__all__ = [
    "RecordingModel",
    "ReplayEntry",
    "ReplayModel",
    "ScriptedModel",
    "read_replay",
    "request_digest",
]
