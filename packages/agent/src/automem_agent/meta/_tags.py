"""The tag syntax that offers tools to models without native tool use, and its tolerant parser.

A call is written `<tool name="NAME">{"arg": "value"}</tool>`. The parser also accepts
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (Qwen/Hermes style), a missing closing
tag, single quotes or trailing commas in the JSON, and a bare text body for a tool whose only
required argument is a string.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from automem_agent._chat import ToolSpec

_TOOL_TAG = re.compile(
    r"<tool\s+name\s*=\s*[\"']?([\w.-]+)[\"']?\s*/?>(.*?)(?:</tool\s*>|(?=<tool[\s_>])|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_TOOL_CALL_TAG = re.compile(
    r"<tool_call>(.*?)(?:</tool_call\s*>|(?=<tool[\s_>])|\Z)", re.DOTALL | re.IGNORECASE
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class TagCall(msgspec.Struct, frozen=True, kw_only=True):
    """One call found in a response: a tool name and its input, or an `error` for the model."""

    name: str
    input: dict[str, Any] = {}
    error: str | None = None
    raw: str = ""


def describe_tools(tools: Sequence[ToolSpec]) -> str:
    """Prompt text that teaches the tag syntax and lists every tool with its JSON schema."""
    lines = [
        "You act by calling tools. Write each call on its own as",
        '<tool name="TOOL_NAME">{"argument": "value"}</tool>',
        "with a JSON object as the body. You may make several calls in one reply; each result",
        "comes back in a <result> block. Available tools:",
        "",
    ]
    for tool in tools:
        props = tool.input_schema.get("properties", {})
        required = set(tool.input_schema.get("required", []))
        args = ", ".join(
            f"{name}{'' if name in required else '?'}: {spec.get('type', 'any')}"
            for name, spec in props.items()
        )
        lines.append(f"- {tool.name}({args}): {tool.description}")
    return "\n".join(lines)


def _loads(body: str) -> Any:
    body = _FENCE.sub("", body.strip()).strip()
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        pass
    relaxed = re.sub(r",\s*([}\]])", r"\1", body)
    try:
        return json.loads(relaxed)
    except ValueError:
        pass
    try:  # single-quoted or Python-literal dicts, as small models often write
        value = ast.literal_eval(relaxed)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise ValueError("the body is not a JSON object") from None
    return value


def _bare_argument(spec: ToolSpec | None) -> str | None:
    if spec is None:
        return None
    props = spec.input_schema.get("properties", {})
    required = spec.input_schema.get("required", list(props))
    strings = [n for n in required if props.get(n, {}).get("type") == "string"]
    return strings[0] if len(strings) == 1 and len(required) == 1 else None


def parse_tag_calls(text: str, tools: Sequence[ToolSpec]) -> list[TagCall]:
    """Every tool call in `text`, in order. Malformed calls come back with `error` set."""
    by_name = {t.name: t for t in tools}
    found: list[tuple[int, TagCall]] = []
    for match in _TOOL_TAG.finditer(text):
        name, body = match.group(1), match.group(2)
        found.append((match.start(), _make_call(name, body, by_name, match.group(0))))
    for match in _TOOL_CALL_TAG.finditer(text):
        raw = match.group(0)
        try:
            obj = _loads(match.group(1))
        except ValueError as exc:
            found.append((match.start(), TagCall(name="", error=str(exc), raw=raw)))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            error = 'a <tool_call> body needs {"name": ..., "arguments": {...}}'
            found.append((match.start(), TagCall(name="", error=error, raw=raw)))
            continue
        args = obj.get("arguments", obj.get("input", obj.get("parameters", {})))
        found.append((match.start(), _make_call(obj["name"], args, by_name, raw)))
    found.sort(key=lambda pair: pair[0])
    return [call for _, call in found]


def _make_call(name: str, body: Any, by_name: dict[str, ToolSpec], raw: str) -> TagCall:
    """`body` is tag text to parse, or an already-parsed value from a <tool_call>."""
    spec = by_name.get(name)
    if spec is None:
        known = ", ".join(sorted(by_name))
        return TagCall(name=name, error=f"unknown tool {name!r}; known tools: {known}", raw=raw)
    bare = _bare_argument(spec)
    if isinstance(body, str):
        try:
            body = _loads(body)
        except ValueError:
            if bare is None:
                example = '{"path": "summary.md"}'
                return TagCall(
                    name=name,
                    error=f"the body of {name} must be a JSON object, e.g. {example}",
                    raw=raw,
                )
            body = body.strip()
    if isinstance(body, str) and bare is not None:
        body = {bare: body}
    if not isinstance(body, dict):
        return TagCall(name=name, error=f"the body of {name} must be a JSON object", raw=raw)
    return TagCall(name=name, input=body, raw=raw)
