"""A budgeted tool-use loop over any `ChatModel`.

Backends with `supports_tools` get native tool use (`ChatRequest.tools`, `ChatResponse.tool_calls`);
every other backend gets the same tools through the tool-tag syntax of `_tool_tags`
(`<tool name="...">`). Tool errors and malformed calls go back to the model as messages. The
session ends when the model calls `finish` (with a rationale) or a budget runs out, and returns a
`SessionTranscript`.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import msgspec

from automem_agent._chat import (
    ChatMessage,
    ChatModel,
    ChatRequest,
    ModelUnavailable,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from automem_agent.meta._tool_tags import describe_tool_tags, parse_tool_tags

Handler = Callable[[dict[str, Any]], "str | Awaitable[str]"]
EndReason = Literal[
    "finish", "max_turns", "max_tokens", "max_wall", "model_error", "finish_rejected"
]
FINISH = "finish"


class ToolError(Exception):
    """Raised by a tool handler for a mistake the model made; the message goes to the model."""


class Tool(msgspec.Struct, frozen=True, kw_only=True):
    """A tool: what the model sees (`name`, `description`, JSON `input_schema`) and its handler.

    The handler takes the call's input dict and returns the text the model reads (sync or async).
    It raises `ToolError` for a model mistake; any other exception is also reported to the model.
    """

    name: str
    description: str
    input_schema: dict[str, Any]
    handler: Handler

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(
            name=self.name, description=self.description, input_schema=self.input_schema
        )


class Budget(msgspec.Struct, frozen=True, kw_only=True):
    """Limits for one `run`/`resume` call. `max_tokens` counts billed tokens: output tokens and
    fresh input tokens at full weight, prompt-cache reads at `cache_read_weight` and cache
    writes at `cache_write_weight` (Anthropic bills 0.1x and 1.25x), so re-reading a cached
    conversation does not use the budget up."""

    max_turns: int = 20
    max_tokens: int = 200_000
    max_wall_s: float = 600.0
    cache_read_weight: float = 0.1
    cache_write_weight: float = 1.25

    def billed(self, response: Any) -> float:
        """The tokens `response` counts against `max_tokens`."""
        cached = getattr(response, "cache_read_tokens", 0) or 0
        written = getattr(response, "cache_write_tokens", 0) or 0
        fresh = max(0, response.input_tokens - cached - written)
        return (
            fresh
            + cached * self.cache_read_weight
            + written * self.cache_write_weight
            + response.output_tokens
        )


TRIM_MIN_CHARS = 400  # results shorter than this stay in the conversation


class CallRecord(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    input: dict[str, Any] = {}
    result: str = ""
    is_error: bool = False


class SessionTurn(msgspec.Struct, frozen=True, kw_only=True):
    """One model call: its verbatim reply, the tool calls found in it and their results."""

    index: int
    response: str
    calls: list[CallRecord] = []
    note: str | None = None  # what the session told the model besides tool results
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    billed_tokens: float = 0.0
    dollars: float | None = None  # the cost the provider reported, where it reports one
    latency_s: float = 0.0


class SessionTranscript(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a session did. `rationale` is the text given to `finish` (None if never called)."""

    model: str
    # tags: the tool-tag syntax; cli: an agent CLI ran the tools itself
    mode: Literal["native", "tags", "cli"]
    turns: list[SessionTurn]
    end_reason: EndReason
    rationale: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    billed_tokens: float = 0.0
    trimmed_chars: int = 0  # tool-result text dropped from later requests after it was read
    wall_s: float = 0.0
    error: str | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


class SessionState(msgspec.Struct, frozen=True, kw_only=True):
    """A conversation as saved on disk (after the system prompt), so that another process can
    continue it: the messages as sent, and tool results not yet delivered."""

    messages: list[ChatMessage]
    unsent: ChatMessage | None = None


FinishCheck = Callable[[str], "str | Awaitable[str | None] | None"]


class ToolSession:
    """A conversation in which a model works through tools until it calls `finish`.

    `run(task)` starts the conversation; `resume(message)` continues it (for example with
    validation errors to repair). A `finish` tool taking a `rationale` is always offered.
    `finish_check(rationale)` may refuse a finish by returning a message for the model; after
    `max_finish_rejections` refusals the session ends with `finish_rejected`.
    `on_turn` sees each turn as it completes (to persist a partial transcript).

    Every request tells the model what is left of its budget (turns, billed tokens, wall time).
    Tool results are kept whole for `keep_results` replies; after that the model has read
    them, and later requests carry a one-line stub instead (the full text stays in the
    transcript), so a session can read far more than its context holds. None keeps everything.
    """

    def __init__(
        self,
        model: ChatModel,
        tools: Sequence[Tool],
        *,
        system: str,
        budget: Budget = Budget(),
        max_tokens_per_turn: int = 2048,
        temperature: float = 0.0,
        purpose: str = "meta",
        finish_check: FinishCheck | None = None,
        max_finish_rejections: int = 2,
        on_turn: Callable[[SessionTurn], None] | None = None,
        finish_description: str = "End the session with a short rationale of what you did and why.",
        keep_results: int | None = 2,
    ) -> None:
        finish = Tool(
            name=FINISH,
            description=finish_description,
            input_schema={
                "type": "object",
                "properties": {"rationale": {"type": "string"}},
                "required": ["rationale"],
            },
            handler=lambda _: "finished",
        )
        self.model = model
        self.tools = {t.name: t for t in [*tools, finish]}
        self.native = bool(getattr(model, "supports_tools", False))
        self.budget = budget
        self.max_tokens_per_turn = max_tokens_per_turn
        self.temperature = temperature
        self.purpose = purpose
        self.finish_check = finish_check
        self.max_finish_rejections = max_finish_rejections
        self.on_turn = on_turn
        specs = [t.spec for t in self.tools.values()]
        self.system = system if self.native else f"{system}\n\n{describe_tool_tags(specs)}"
        self.messages: list[ChatMessage] = [ChatMessage(role="system", content=self.system)]
        self.turns: list[SessionTurn] = []
        self.input_tokens = 0
        self.output_tokens = 0
        self.cache_read_tokens = 0
        self.cache_write_tokens = 0
        self.billed_tokens = 0.0
        self.trimmed_chars = 0
        self.keep_results = keep_results
        self._stubs: dict[int, ChatMessage] = {}  # id(result message) -> its trimmed form
        self._result_slots: list[int] = []  # indexes in `messages` of untrimmed result messages
        self._last_sent: ChatMessage | None = None
        self.wall_s = 0.0
        self.rationale: str | None = None
        self._unsent: ChatMessage | None = None  # tool results not yet delivered when a call ended

    def adopt(self, previous: ToolSession) -> None:
        """Carries on `previous`'s conversation (its messages and any undelivered tool results)
        with this session's tools: a continuation that remembers everything said so far."""
        self.messages = [self.messages[0], *previous.messages[1:]]
        self._unsent = previous._unsent

    def state(self) -> SessionState:
        """The conversation so far, to save and `restore` later (for example in a continuation
        attempt after a restart)."""
        return SessionState(messages=list(self.messages[1:]), unsent=self._unsent)

    def restore(self, state: SessionState) -> None:
        """Carries on a saved conversation with this session's system prompt and tools."""
        self.messages = [self.messages[0], *state.messages]
        self._unsent = state.unsent

    async def run(self, task: str) -> SessionTranscript:
        """Start with `task` as the first user message and work until finish or budget."""
        return await self._loop(task)

    async def resume(self, message: str) -> SessionTranscript:
        """Continue the same conversation with a new user message (fresh per-call budget)."""
        self.rationale = None
        return await self._loop(message)

    def _first_message(self, text: str) -> ChatMessage:
        unsent, self._unsent = self._unsent, None
        if unsent is None:
            return ChatMessage(role="user", content=text)
        if self.native:  # every tool_use must be answered by a tool_result in the next message
            return ChatMessage(role="user", content=text, tool_results=unsent.tool_results)
        return ChatMessage(role="user", content=f"{unsent.content}\n\n{text}".strip())

    async def _loop(self, user_text: str) -> SessionTranscript:
        start = time.perf_counter()
        pending = self._first_message(user_text)
        turns_here = rejections = 0
        tokens_here = 0.0
        end: EndReason = "max_turns"
        error: str | None = None
        while True:
            elapsed = time.perf_counter() - start
            if turns_here >= self.budget.max_turns:
                end = "max_turns"
                break
            if tokens_here >= self.budget.max_tokens:
                end = "max_tokens"
                break
            if elapsed >= self.budget.max_wall_s:
                end = "max_wall"
                break
            self._append(
                self._with_budget(pending, turns_here, tokens_here, elapsed), original=pending
            )
            request = ChatRequest(
                messages=list(self.messages),
                max_tokens=max(
                    1, min(self.max_tokens_per_turn, int(self.budget.max_tokens - tokens_here))
                ),
                temperature=self.temperature,
                purpose=self.purpose,
                tools=[t.spec for t in self.tools.values()] if self.native else [],
            )
            try:
                response = await asyncio.wait_for(
                    self.model.complete(request), timeout=self.budget.max_wall_s - elapsed
                )
            except TimeoutError:
                end = "max_wall"
                self._unappend(pending)
                break
            except ModelUnavailable as exc:
                end, error = "model_error", str(exc)
                self._unappend(pending)
                break
            turns_here += 1
            billed = self.budget.billed(response)
            tokens_here += billed
            self.billed_tokens += billed
            self.input_tokens += response.input_tokens
            self.output_tokens += response.output_tokens
            self.cache_read_tokens += getattr(response, "cache_read_tokens", 0) or 0
            self.cache_write_tokens += getattr(response, "cache_write_tokens", 0) or 0
            calls, note, finished, pending = await self._handle(response)
            if finished:
                refusal = await self._check_finish()
                if refusal is None:
                    end = "finish"
                else:
                    rejections += 1
                    note = refusal
                    pending = self._refusal_message(pending, refusal)
                    self.rationale = None
            turn = SessionTurn(
                index=len(self.turns),
                response=response.text,
                calls=calls,
                note=note,
                input_tokens=response.input_tokens,
                output_tokens=response.output_tokens,
                cache_read_tokens=getattr(response, "cache_read_tokens", 0) or 0,
                cache_write_tokens=getattr(response, "cache_write_tokens", 0) or 0,
                billed_tokens=billed,
                latency_s=response.latency_s,
            )
            self.turns.append(turn)
            if self.on_turn is not None:
                self.on_turn(turn)
            if end == "finish":
                break
            if rejections > self.max_finish_rejections:
                end = "finish_rejected"
                break
        self._unsent = pending if self._last_sent is not pending else None
        self.wall_s += time.perf_counter() - start
        return self.transcript(end, error)

    def transcript(self, end: EndReason, error: str | None = None) -> SessionTranscript:
        return SessionTranscript(
            model=getattr(self.model, "name", type(self.model).__name__),
            mode="native" if self.native else "tags",
            turns=list(self.turns),
            end_reason=end,
            rationale=self.rationale,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cache_read_tokens=self.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens,
            billed_tokens=self.billed_tokens,
            trimmed_chars=self.trimmed_chars,
            wall_s=self.wall_s,
            error=error,
        )

    # budget disclosure and trimming ------------------------------------------------------
    def budget_line(self, turns_used: int, tokens_used: float, elapsed: float) -> str:
        """What the model is told about its remaining budget before each reply."""
        b = self.budget
        turns_left = b.max_turns - turns_used
        tokens_left = max(0, int(b.max_tokens - tokens_used))
        wall_left = max(0.0, b.max_wall_s - elapsed)
        line = (
            f"[budget] {turns_left} of {b.max_turns} replies left; ~{tokens_left:,} of "
            f"{b.max_tokens:,} billed tokens left (cached input counts {b.cache_read_weight:g}x); "
            f"{wall_left:.0f} of {b.max_wall_s:.0f} s left."
        )
        if turns_left <= 2 or tokens_left < 0.15 * b.max_tokens or wall_left < 0.15 * b.max_wall_s:
            line += " Almost spent: make your edits now, then finish."
        return line

    def _with_budget(
        self, message: ChatMessage, turns_used: int, tokens_used: float, elapsed: float
    ) -> ChatMessage:
        line = self.budget_line(turns_used, tokens_used, elapsed)
        content = f"{message.content}\n\n{line}" if message.content else line
        return ChatMessage(
            role=message.role,
            content=content,
            tool_calls=message.tool_calls,
            tool_results=message.tool_results,
        )

    def _append(self, message: ChatMessage, *, original: ChatMessage) -> None:
        self.messages.append(message)
        self._last_sent = original
        stub = self._stubs.pop(id(original), None)
        if stub is not None:
            self._stubs[len(self.messages) - 1] = stub
            self._result_slots.append(len(self.messages) - 1)
        self._trim_read()

    def _unappend(self, original: ChatMessage) -> None:
        """Takes back the message of a request that got no reply (it is sent again later)."""
        slot = len(self.messages) - 1
        self.messages.pop()
        self._last_sent = None
        if self._result_slots and self._result_slots[-1] == slot:
            self._result_slots.pop()
            self._stubs[id(original)] = self._stubs.pop(slot)

    def _trim_read(self) -> None:
        """Swaps result messages older than the newest `keep_results` for their stubs: each
        result is sent whole in `keep_results` requests, then as one line."""
        if self.keep_results is None:
            return
        while len(self._result_slots) > self.keep_results:
            slot = self._result_slots.pop(0)
            stub = self._stubs.pop(slot)
            before = _message_chars(self.messages[slot])
            self.messages[slot] = stub
            self.trimmed_chars += max(0, before - _message_chars(stub))

    def _register_stub(self, message: ChatMessage, calls: list[CallRecord]) -> ChatMessage:
        """Remembers the trimmed form of a result message (big results become one line)."""
        if self.keep_results is None:
            return message
        stubs = [_stub_text(c) for c in calls]
        if all(stub is None for stub in stubs):
            return message
        if self.native:
            results = [
                ToolResult(call_id=r.call_id, content=stub or r.content, is_error=r.is_error)
                for r, stub in zip(message.tool_results, stubs, strict=True)
            ]
            trimmed = ChatMessage(role="user", content="", tool_results=results)
        else:
            blocks = [
                f'<result name="{c.name}" status="{"error" if c.is_error else "ok"}">\n'
                f"{stub or c.result}\n</result>"
                for c, stub in zip(calls, stubs, strict=True)
            ]
            trimmed = ChatMessage(role="user", content="\n".join(blocks))
        self._stubs[id(message)] = trimmed
        return message

    async def _check_finish(self) -> str | None:
        if self.finish_check is None:
            return None
        verdict = self.finish_check(self.rationale or "")
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return verdict

    def _refusal_message(self, pending: ChatMessage, refusal: str) -> ChatMessage:
        text = f"Your finish was not accepted:\n{refusal}\nFix the problem, then call finish again."
        if self.native:
            results = [
                ToolResult(call_id=r.call_id, content=text, is_error=True)
                if r.content == "finished"
                else r
                for r in pending.tool_results
            ]
            return ChatMessage(role="user", content="", tool_results=results)
        return ChatMessage(role="user", content=f"{pending.content}\n{text}".strip())

    async def _handle(
        self, response: Any
    ) -> tuple[list[CallRecord], str | None, bool, ChatMessage]:
        """Run the reply's calls; return records, a note, whether finish was called, next message."""
        if self.native:
            return await self._handle_native(response)
        return await self._handle_tool_tags(response)

    async def _handle_native(
        self, response: Any
    ) -> tuple[list[CallRecord], str | None, bool, ChatMessage]:
        tool_calls: list[ToolCall] = list(response.tool_calls)
        self.messages.append(
            ChatMessage(role="assistant", content=response.text, tool_calls=tool_calls)
        )
        if not tool_calls:
            note = "No tool call in your reply. Keep working with the tools, and call finish when done."
            return [], note, False, ChatMessage(role="user", content=note)
        records, results, finished = [], [], False
        for call in tool_calls:
            text, is_error = await self._invoke(call.name, call.input)
            finished = finished or (call.name == FINISH and not is_error)
            records.append(
                CallRecord(name=call.name, input=call.input, result=text, is_error=is_error)
            )
            results.append(ToolResult(call_id=call.id, content=text, is_error=is_error))
        message = ChatMessage(role="user", content="", tool_results=results)
        return records, None, finished, self._register_stub(message, records)

    async def _handle_tool_tags(
        self, response: Any
    ) -> tuple[list[CallRecord], str | None, bool, ChatMessage]:
        self.messages.append(ChatMessage(role="assistant", content=response.text))
        specs = [t.spec for t in self.tools.values()]
        parsed = parse_tool_tags(response.text, specs)
        if not parsed:
            note = (
                'No tool call found. Call a tool as <tool name="NAME">{"arg": "value"}</tool>, '
                'and end with <tool name="finish">{"rationale": "..."}</tool>.'
            )
            return [], note, False, ChatMessage(role="user", content=note)
        records, blocks, finished = [], [], False
        for call in parsed:
            if call.error is not None:
                text, is_error = f"malformed call: {call.error}", True
            else:
                text, is_error = await self._invoke(call.name, call.input)
            finished = finished or (call.name == FINISH and not is_error)
            records.append(
                CallRecord(name=call.name, input=call.input, result=text, is_error=is_error)
            )
            status = "error" if is_error else "ok"
            blocks.append(f'<result name="{call.name}" status="{status}">\n{text}\n</result>')
        message = ChatMessage(role="user", content="\n".join(blocks))
        return records, None, finished, self._register_stub(message, records)

    async def _invoke(self, name: str, args: dict[str, Any]) -> tuple[str, bool]:
        tool = self.tools.get(name)
        if tool is None:
            return f"unknown tool {name!r}; known tools: {', '.join(self.tools)}", True
        if name == FINISH:
            rationale = args.get("rationale")
            if not isinstance(rationale, str) or not rationale.strip():
                return "finish needs a non-empty 'rationale' string", True
            self.rationale = rationale.strip()
            return "finished", False
        try:
            out = tool.handler(args)
            if inspect.isawaitable(out):
                out = await out
        except ToolError as exc:
            return str(exc), True
        except Exception as exc:  # a handler bug must not end the session; the model sees it
            return f"tool {name} failed: {type(exc).__name__}: {exc}", True
        return str(out), False


def _message_chars(message: ChatMessage) -> int:
    return len(message.content) + sum(len(r.content) for r in message.tool_results)


def _stub_text(call: CallRecord) -> str | None:
    """The one line that replaces a read result in later requests (None: keep it whole)."""
    if call.is_error or len(call.result) < TRIM_MIN_CHARS:
        return None
    args = ", ".join(f"{k}={str(v)[:60]!r}" for k, v in call.input.items())
    return (
        f"[trimmed: you already read this {call.name}({args}) result "
        f"({len(call.result):,} characters); call it again if you need it]"
    )
