"""Record chat responses to JSON Lines as they happen, and answer from such a file later.

Format: one `ReplayEntry` per line (msgspec JSON), in the order the responses were produced:
`{"purpose": "memory", "adapter": null, "prompt_sha256": "...", "response": {...ChatResponse}}`.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from pathlib import Path
from typing import Literal

import msgspec

from automem_agent._chat import ChatModel, ChatRequest, ChatResponse, ModelUnavailable
from automem_agent._jsonl import append_jsonl, read_jsonl


class ReplayEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One recorded response and what it answered (the role, the adapter, a prompt digest)."""

    purpose: str
    response: ChatResponse
    adapter: str | None = None
    prompt_sha256: str = ""


def request_digest(request: ChatRequest) -> str:
    """A stable SHA-256 of what the model saw: messages, tools, adapter and stop strings."""
    payload = msgspec.json.encode(
        [request.messages, request.tools, request.adapter, request.stop], order="deterministic"
    )
    return hashlib.sha256(payload).hexdigest()


def read_replay(path: str | Path) -> list[ReplayEntry]:
    """All entries of a replay file; a torn last line (a crash mid-write) is skipped and
    reported, damage before it raises `JsonlError` (a `ValueError`) naming the line."""
    return read_jsonl(path, ReplayEntry).records


class ReplayModel:
    """Answers from a file written by `RecordingModel` (or by hand).

    `match="purpose"` (default) keeps one queue per purpose, so a request for `action` gets the
    next recorded `action` response whatever the interleaving; `match="sequence"` answers in
    file order. With `strict=True` a request whose prompt digest differs from the recorded one
    raises `ModelUnavailable` (the run has diverged from the recording). Running out raises
    `ModelUnavailable` naming the file and the purpose.
    """

    supports_tools = True  # recorded tool calls are replayed verbatim
    supports_grammar = True  # recorded replies are replayed verbatim, constrained or not

    def __init__(
        self,
        path: str | Path,
        *,
        match: Literal["purpose", "sequence"] = "purpose",
        strict: bool = False,
        name: str | None = None,
    ):
        if match not in ("purpose", "sequence"):
            raise ValueError(f"match must be 'purpose' or 'sequence', not {match!r}")
        self.path = Path(path)
        self.match = match
        self.strict = strict
        entries = read_replay(self.path)
        self.name = name or (entries[0].response.model if entries else "") or "replay"
        self._total = len(entries)
        self._queues: dict[str, deque[ReplayEntry]] = {}
        for entry in entries:
            key = entry.purpose if match == "purpose" else ""
            self._queues.setdefault(key, deque()).append(entry)

    def remaining(self, purpose: str | None = None) -> int:
        """How many responses are left (for one purpose, or in all)."""
        if purpose is None or self.match == "sequence":
            return sum(len(q) for q in self._queues.values())
        return len(self._queues.get(purpose, ()))

    async def complete(self, request: ChatRequest) -> ChatResponse:
        key = request.purpose if self.match == "purpose" else ""
        queue = self._queues.get(key)
        if not queue:
            scope = f"for purpose {request.purpose!r} " if self.match == "purpose" else ""
            raise ModelUnavailable(
                f"replay {self.path.name}: no recorded response left {scope}"
                f"({self._total} entries in the file)"
            )
        entry = queue.popleft()
        if self.strict and entry.prompt_sha256 and entry.prompt_sha256 != request_digest(request):
            raise ModelUnavailable(
                f"replay {self.path.name}: request for {request.purpose!r} differs from the "
                "recorded prompt (the run diverged from the recording)"
            )
        return entry.response

    def __repr__(self) -> str:
        return (
            f"ReplayModel(path={str(self.path)!r}, match={self.match!r}, left={self.remaining()})"
        )


class RecordingModel:
    """Wraps a model and appends every response to a JSON Lines file as it arrives
    (one flushed line per response), for `ReplayModel` to serve later."""

    def __init__(self, inner: ChatModel, path: str | Path):
        self.inner = inner
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.name = inner.name
        self.supports_tools = inner.supports_tools
        self.supports_grammar = getattr(inner, "supports_grammar", False)
        self._lock = threading.Lock()

    async def complete(self, request: ChatRequest) -> ChatResponse:
        response = await self.inner.complete(request)
        entry = ReplayEntry(
            purpose=request.purpose,
            adapter=request.adapter,
            prompt_sha256=request_digest(request),
            response=response,
        )
        with self._lock:  # one writer at a time: lines never interleave
            append_jsonl(self.path, entry)
        return response

    def __repr__(self) -> str:
        return f"RecordingModel(inner={self.inner!r}, path={str(self.path)!r})"


def load_replay(rest: str, **options) -> ReplayModel:
    """Loader for `replay:<path>`."""
    if not rest:
        raise ValueError("replay spec needs a path: replay:<path.jsonl>")
    return ReplayModel(rest, **options)
