"""The tool-tag syntax that offers tools to models without native tool use, and its tolerant
parser. (Not memfs's pipe syntax `<|OP|>...<|END|>`, in which the agent writes memory ops.)

A call is written `<tool name="NAME">{"arg": "value"}</tool>`. Arguments may also be tag
attributes (`<tool name="read" path="a.md">`), and a tool whose schema names an `x-body`
argument takes the call's raw body as that argument, so code is written as it is, never
escaped into JSON; string arguments may also be child elements (`<old>...</old><new>...</new>`).
The parser also accepts
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
    r"<tool\s+name\s*=\s*[\"']?([\w.-]+)[\"']?"
    r"((?:\s+[\w-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*/?>"
    r"(.*?)(?:</tool\s*>|(?=<tool[\s_>])|\Z)",
    re.DOTALL | re.IGNORECASE,
)
_ATTR = re.compile(r"([\w-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_TOOL_CALL_TAG = re.compile(
    r"<tool_call>(.*?)(?:</tool_call\s*>|(?=<tool[\s_>])|\Z)", re.DOTALL | re.IGNORECASE
)
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$")


class ToolTagCall(msgspec.Struct, frozen=True, kw_only=True):
    """One call found in a response: a tool name and its input, or an `error` for the model."""

    name: str
    input: dict[str, Any] = {}
    error: str | None = None
    raw: str = ""


def describe_tool_tags(tools: Sequence[ToolSpec]) -> str:
    """Prompt text that teaches the tool-tag syntax and lists every tool with its JSON schema."""
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
    raw = [t for t in tools if t.input_schema.get("x-body")]
    if raw:
        example = raw[0]
        body = example.input_schema["x-body"]
        lines += [
            "",
            "Arguments may be written as attributes instead, and these tools take their "
            f"`{body}`-like text argument as the raw body, written as is (no JSON escaping): "
            + ", ".join(f"{t.name} ({t.input_schema['x-body']})" for t in raw)
            + ". For example:",
            f'<tool name="{example.name}" path="candidate/hooks.py">',
            "def repair_action(action, actions):",
            '    return action if action in actions else "noop"',
            "</tool>",
            "Several text arguments can be child elements: "
            '<tool name="str_replace" path="candidate/prompts/plan.md"><old>old text</old>'
            "<new>new text</new></tool>.",
        ]
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


def parse_tool_tags(text: str, tools: Sequence[ToolSpec]) -> list[ToolTagCall]:
    """Every tool call in `text`, in order. Malformed calls come back with `error` set."""
    by_name = {t.name: t for t in tools}
    found: list[tuple[int, ToolTagCall]] = []
    for match in _TOOL_TAG.finditer(text):
        name, attrs, body = match.group(1), match.group(2), match.group(3)
        found.append(
            (match.start(), _make_call(name, body, by_name, match.group(0), _attributes(attrs)))
        )
    for match in _TOOL_CALL_TAG.finditer(text):
        raw = match.group(0)
        try:
            obj = _loads(match.group(1))
        except ValueError as exc:
            found.append((match.start(), ToolTagCall(name="", error=str(exc), raw=raw)))
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            error = 'a <tool_call> body needs {"name": ..., "arguments": {...}}'
            found.append((match.start(), ToolTagCall(name="", error=error, raw=raw)))
            continue
        args = obj.get("arguments", obj.get("input", obj.get("parameters", {})))
        found.append((match.start(), _make_call(obj["name"], args, by_name, raw)))
    found.sort(key=lambda pair: pair[0])
    return [call for _, call in found]


def _attributes(text: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _ATTR.finditer(text or "")
    }


def _typed(value: str, kind: str | None) -> Any:
    """An attribute's text as the schema's type (integers and booleans; the rest stays text)."""
    if kind == "integer" and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    if kind == "boolean" and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _raw_text(body: str) -> str:
    """A raw body as written: one newline after the opening tag and before the closing tag is
    layout, not content."""
    if body.startswith("\r\n"):
        body = body[2:]
    elif body.startswith("\n"):
        body = body[1:]
    return body[:-1] if body.endswith("\n") and body[:-1].endswith("\n") else body


def _raw_arguments(spec: ToolSpec, body: str) -> dict[str, Any] | None:
    """Arguments from a non-JSON body: child elements of string arguments, or the whole body
    as the schema's `x-body` argument. None when the tool takes neither."""
    props = spec.input_schema.get("properties", {})
    strings = [n for n, p in props.items() if p.get("type") == "string"]
    children = {}
    for prop in strings:
        m = re.search(rf"<{re.escape(prop)}>(.*?)</{re.escape(prop)}>", body, re.DOTALL)
        if m:
            children[prop] = _raw_text(m.group(1))
    if children:
        return children
    target = spec.input_schema.get("x-body")
    if target:
        return {target: _raw_text(body)}
    return None


def _make_call(
    name: str,
    body: Any,
    by_name: dict[str, ToolSpec],
    raw: str,
    attrs: dict[str, str] | None = None,
) -> ToolTagCall:
    """`body` is tag text to parse, or an already-parsed value from a <tool_call>."""
    spec = by_name.get(name)
    if spec is None:
        known = ", ".join(sorted(by_name))
        return ToolTagCall(name=name, error=f"unknown tool {name!r}; known tools: {known}", raw=raw)
    props = spec.input_schema.get("properties", {})
    given = {k: _typed(v, props.get(k, {}).get("type")) for k, v in (attrs or {}).items()}
    if isinstance(body, str) and (given or spec.input_schema.get("x-body")):
        stripped = body.strip()
        parsed: Any = None
        if stripped.startswith("{"):
            try:
                parsed = _loads(stripped)
            except ValueError:
                parsed = None
        if isinstance(parsed, dict) and not spec.input_schema.get("x-body"):
            return ToolTagCall(name=name, input={**parsed, **given}, raw=raw)
        if isinstance(parsed, dict) and set(parsed) <= set(props) and parsed:
            return ToolTagCall(name=name, input={**parsed, **given}, raw=raw)
        if not stripped:
            return ToolTagCall(name=name, input=given, raw=raw)
        extra = _raw_arguments(spec, body)
        if extra is not None:
            return ToolTagCall(name=name, input={**given, **extra}, raw=raw)
    bare = _bare_argument(spec)
    if isinstance(body, str):
        try:
            body = _loads(body)
        except ValueError:
            if bare is None:
                example = '{"path": "summary.md"}'
                return ToolTagCall(
                    name=name,
                    error=f"the body of {name} must be a JSON object, e.g. {example}",
                    raw=raw,
                )
            body = body.strip()
    if isinstance(body, str) and bare is not None:
        body = {bare: body}
    if not isinstance(body, dict):
        return ToolTagCall(name=name, error=f"the body of {name} must be a JSON object", raw=raw)
    return ToolTagCall(name=name, input={**body, **given}, raw=raw)
