"""The scaffold format's reference, generated from the code that reads scaffolds.

Every table below comes from the definitions themselves (struct fields, their defaults and the
comment on their line, the template variable table, the hook signatures, the op vocabulary), so
the text a meta-LLM reads cannot drift from what `load_scaffold` and the agent accept.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
import typing
from typing import Any

import msgspec
from automem_envs import Observation

from automem_agent import _program
from automem_agent._hooks import HOOK_SIGNATURES, HookLimits
from automem_agent._manifest import (
    TEMPLATE_VARIABLES,
    LogPhaseSpec,
    Manifest,
    MemorySpec,
    PlanPhaseSpec,
    ProgramSpec,
    StuckSpec,
)

_COMMENT = re.compile(r"^\s*(\w+)\s*:[^#]*#\s*(?P<comment>.+)$")


def _type_name(t: Any) -> str:
    text = getattr(t, "__name__", None) if isinstance(t, type) else None
    if text is None:
        text = str(t)
    text = re.sub(r"\b(typing|collections\.abc|automem_\w+(\.\w+)*)\.", "", text)
    return re.sub(r"Annotated\[(\w+), [^\]]*\]", r"\1", text)


def _field_comments(cls: type) -> dict[str, str]:
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    for line in source.splitlines():
        m = _COMMENT.match(line)
        if m:
            out.setdefault(m.group(1), m["comment"].strip())
    return out


def _default(field: msgspec.structs.FieldInfo) -> str:
    if field.default is not msgspec.NODEFAULT:
        value = field.default
        if isinstance(value, msgspec.Struct):
            return "(table)"
        return repr(value)
    if field.default_factory is not msgspec.NODEFAULT:
        return repr(field.default_factory())
    return "required"


def _struct_table(cls: type, prefix: str = "") -> list[str]:
    hints = typing.get_type_hints(cls, include_extras=True)
    comments = _field_comments(cls)
    for base in cls.__mro__[1:]:
        for k, v in _field_comments(base).items():
            comments.setdefault(k, v)
    lines = []
    for f in msgspec.structs.fields(cls):
        comment = comments.get(f.name, "")
        lines.append(
            f"- `{prefix}{f.name}`: {_type_name(hints.get(f.name, f.type))} = {_default(f)}"
            + (f" — {comment}" if comment else "")
        )
    return lines


def _doc(obj: Any) -> str:
    return textwrap.dedent(inspect.getdoc(obj) or "").strip()


def _step_attributes() -> list[str]:
    """`self.name: type = ...` lines of `Step.__init__`, plus its properties."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(_program.Step.__init__)))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Attribute):
            lines.append(f"- `step.{node.target.attr}`: {ast.unparse(node.annotation)}")
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Attribute):
                    lines.append(f"- `step.{target.attr}`: MemoryView")
    for name, value in vars(_program.Step).items():
        if isinstance(value, property):
            lines.append(f"- `step.{name}`: {_doc(value)}")
    return lines


def _methods(cls: type, prefix: str) -> list[str]:
    out = []
    for name, fn in vars(cls).items():
        if name.startswith("_") or not inspect.isfunction(fn):
            continue
        signature = str(inspect.signature(fn)).replace("self, ", "").replace("(self)", "()")
        out.append(f"- `{prefix}.{name}{signature}`: {_doc(fn)}")
    for name, value in vars(cls).items():
        if isinstance(value, property) and not name.startswith("_"):
            out.append(f"- `{prefix}.{name}`: {_doc(value) or 'property'}")
    return out


def _upkeep_max() -> int:
    from automem_agent._memory_agent import UPKEEP_MAX_OPS

    return UPKEEP_MAX_OPS


def scaffold_reference() -> str:
    """The whole scaffold format as Markdown: directory layout, every `scaffold.toml` key with
    its type, default and meaning, the template variables, the memory ops and their syntax, the
    stateless hooks, the agent program API and the `Observation` fields. For a meta-LLM's task
    prompt; generated from the code on each call."""
    from automem_memfs import OP_TYPES, syntax_help

    out = [
        "# Scaffold format reference (generated from the code)",
        "",
        "A scaffold is a directory: `scaffold.toml` (the manifest), prompt templates (text files "
        "with `$variables`), an optional initial memory directory, and an optional `hooks.py` "
        "holding stateless hook functions and/or an agent program class. Everything is checked "
        "when the scaffold loads; a problem is reported with the file at fault.",
        "",
        "## scaffold.toml",
        "",
        _doc(Manifest),
        "",
        *_struct_table(Manifest),
    ]
    for title, cls in (
        ("[log] (a phase, plus at_first_step)", LogPhaseSpec),
        ("[plan] (a phase, plus commit_prompt and hide_memory_actions)", PlanPhaseSpec),
        ("[stuck]", StuckSpec),
        ("[memory]", MemorySpec),
        ("[program]", ProgramSpec),
    ):
        out += ["", f"### {title}", "", _doc(cls), "", *_struct_table(cls)]
    out += [
        "",
        "## Template variables",
        "",
        "Every template may use any of these (an unknown `$name` is a load error):",
        "",
        *(f"- `${name}`: {text}" for name, text in TEMPLATE_VARIABLES.items()),
        "",
        "## Memory ops (names for `[log] ops` / `[plan] ops`; PLAN takes read-only ops only)",
        "",
        *(
            f"- `{name}`{' (read-only)' if t.read_only else ''}: {_doc(t).splitlines()[0]}"
            for name, t in sorted(OP_TYPES.items())
        ),
        "",
        'Pipe syntax (`syntax = "pipe"`), as the model is shown it:',
        "",
        "```",
        syntax_help(sorted(OP_TYPES), syntax="pipe", include=["done", "action"]),
        "```",
        "",
        "## hooks.py: stateless hooks (optional functions)",
        "",
        "Each runs in a sandboxed hook worker with a time and memory limit per call "
        f"(defaults: {HookLimits().call_s:g} s, {HookLimits().memory_mb} MiB); a hook that "
        "raises, returns the wrong type, hangs or crashes costs that call (an event in the "
        "step's trace record) and the default applies.",
        "",
        *(
            f"- `{name}({', '.join(params)})` -> str: {returns}"
            for name, (params, returns) in HOOK_SIGNATURES.items()
        ),
        "",
        "## hooks.py: the agent program (optional class)",
        "",
        "A program" + _doc(_program).split("A program", 1)[1],
        "",
        "Each episode gets its own instance in its own sandboxed worker, so concurrent episodes "
        "never share state. Per step: `upkeep` runs first (its ops go through the same memory "
        f"ops as the model's, at most {_upkeep_max()} a step, counted apart in the trace), then "
        "`observe` (after the stateless hooks), then the model's LOG and PLAN (which may call "
        "the program's `OPS`), then `check_action` on the committed action: a rejection sends "
        "PLAN back with `ACTION REJECTED: <message>` as `$results`, at most "
        "`[program] max_rejections` times a step. A method that raises, returns the wrong "
        "type, hangs or exhausts memory costs that call (an event in the trace); after a "
        "worker failure the program is constructed again (its state is lost) and after "
        f"{HookLimits().max_restarts} restarts the scaffold's code is disabled for the episode.",
        "",
        "Worker limits (HookLimits; set by the run, not the scaffold):",
        "",
        *_struct_table(HookLimits),
        "",
        "Prompt variables `observe` may set: "
        + ", ".join(f"`{v}`" for v in sorted(_program.PROGRAM_VARIABLES))
        + ".",
        "",
        "### step (what every program method receives)",
        "",
        _doc(_program.Step),
        "",
        *_step_attributes(),
        "",
        "### step.memory (read-only)",
        "",
        _doc(_program.MemoryView),
        "",
        *_methods(_program.MemoryView, "step.memory"),
    ]
    for record in (_program.EpisodeInfo, _program.ActionRecord, _program.Turn):
        out += ["", f"### {record.__name__}", "", _doc(record), "", *_struct_table(record)]
    out += [
        "",
        "## Observation (step.observation; the stateless hooks' `observation`)",
        "",
        _doc(Observation),
        "",
        *_struct_table(Observation),
        "",
    ]
    return "\n".join(out)
