"""A chat model driven by a Python function: the deterministic backend for tests and demos."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Iterable

from automem_agent._chat import ChatRequest, ChatResponse, ModelUnavailable

Script = Callable[[ChatRequest], "str | ChatResponse | Awaitable[str | ChatResponse]"]


def _estimate_tokens(text: str) -> int:
    # A rough 4-characters-per-token count, so token accounting has something to add up.
    return (len(text) + 3) // 4


class ScriptedModel:
    """Answers each request with `fn(request)`, which returns a string or a `ChatResponse`,
    synchronously or as a coroutine. Strings become responses with estimated token counts.

    `supports_tools` is False unless asked for; a tool-using script returns `ChatResponse`s
    carrying `tool_calls`. A script sees `request.grammar` and answers within it (tests check
    the grammar a scaffold produces), so grammar scaffolds accept a scripted model.
    """

    supports_grammar = True

    def __init__(self, fn: Script, *, name: str = "scripted", supports_tools: bool = False):
        self._fn = fn
        self.name = name
        self.supports_tools = supports_tools
        self.calls: list[ChatRequest] = []  # every request seen, in order (handy in tests)

    @classmethod
    def from_texts(
        cls, texts: Iterable[str | ChatResponse], *, name: str = "scripted", cycle: bool = False
    ) -> ScriptedModel:
        """Replies with `texts` in order. Once they run out it cycles if `cycle`, else every
        further request raises `ModelUnavailable`."""
        items = list(texts)
        if not items:
            raise ValueError("from_texts needs at least one reply")
        position = 0

        def next_reply(_request: ChatRequest) -> str | ChatResponse:
            nonlocal position
            if position >= len(items):
                if not cycle:
                    raise ModelUnavailable(f"{name}: all {len(items)} scripted replies used")
                position = 0
            position += 1
            return items[position - 1]

        return cls(next_reply, name=name)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.calls.append(request)
        start = time.perf_counter()
        out = self._fn(request)
        if inspect.isawaitable(out):
            out = await out
        if isinstance(out, ChatResponse):
            return out
        if not isinstance(out, str):
            raise TypeError(f"script returned {type(out).__name__}, expected str or ChatResponse")
        text, finish = out, "stop"
        if request.stop:
            cut = min((i for s in request.stop if (i := text.find(s)) >= 0), default=-1)
            if cut >= 0:
                text = text[:cut]
        return ChatResponse(
            text=text,
            input_tokens=sum(_estimate_tokens(m.content) for m in request.messages),
            output_tokens=_estimate_tokens(text),
            latency_s=time.perf_counter() - start,
            model=self.name,
            finish_reason=finish,
        )

    def __repr__(self) -> str:
        return f"ScriptedModel(name={self.name!r}, supports_tools={self.supports_tools})"


def load_scripted(rest: str, **options) -> ScriptedModel:
    """Loader for `scripted:<module>:<function>`: the function is the script."""
    import importlib

    module, _, attr = rest.rpartition(":")
    if not module or not attr:
        raise ValueError(f"scripted spec needs <module>:<function>, got {rest!r}")
    fn = getattr(importlib.import_module(module), attr)
    options.setdefault("name", f"scripted:{rest}")
    return ScriptedModel(fn, **options)
