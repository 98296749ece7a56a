"""Tool traffic as plain text, for backends whose models have no native tool use."""

from __future__ import annotations

from automem_agent._chat import ChatMessage


def message_text(message: ChatMessage) -> str:
    """The message's content followed by one line per tool call and tool result."""
    parts = [message.content] if message.content else []
    parts += [f"[tool call {c.name}] {c.input}" for c in message.tool_calls]
    parts += [
        f"[tool result{' (error)' if r.is_error else ''}] {r.content}" for r in message.tool_results
    ]
    return "\n".join(parts)
