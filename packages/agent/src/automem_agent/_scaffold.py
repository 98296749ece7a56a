"""Scaffolds: a directory holding the agent's prompts, memory layout, op vocabulary and hooks.

`load_scaffold` validates every part up front, so a bad revision from Loop 1 fails at load
time with a message naming the file and the problem, never halfway through an episode.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import msgspec
from automem_memfs import OP_TYPES, READ_ONLY_OPS

from automem_agent._hooks import HookLimits, HookLoadError, Hooks, load_hooks
from automem_agent._manifest import TEMPLATE_VARIABLES, Manifest

MANIFEST_FILE = "scaffold.toml"
_IGNORED_PARTS = {"__pycache__", ".DS_Store"}


class ScaffoldError(ValueError):
    """A scaffold that cannot be used. `file` is the part at fault (relative to the scaffold)."""

    def __init__(self, file: str, problem: str):
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


@dataclass(frozen=True)
class Scaffold:
    """A loaded, validated scaffold. `content_hash` identifies it in traces: it is the sha256
    of every file's relative path and bytes, in sorted order."""

    root: Path
    manifest: Manifest
    templates: dict[str, Template]  # manifest path -> template
    content_hash: str
    hooks: Hooks = field(default_factory=Hooks)
    schema: Any = None  # automem_memfs.Schema or None
    limits: Any = None  # automem_memfs.Limits or None

    @property
    def name(self) -> str:
        return self.manifest.name

    def render(self, template: str, variables: dict[str, Any]) -> str:
        """Fills one of the manifest's templates; every allowed variable should be supplied."""
        return self.templates[template].safe_substitute(variables)

    @property
    def uses_notices(self) -> bool:
        """True when some template shows `$notices` (else notices go under `$observation`)."""
        return any(
            (m.group("named") or m.group("braced")) == "notices"
            for t in self.templates.values()
            for m in t.pattern.finditer(t.template)
        )

    def close(self) -> None:
        """Ends the hook worker, if one runs. Calls after this keep the default behaviour."""
        self.hooks.close()

    def initial_memory_dir(self) -> Path | None:
        """The directory whose files seed each episode's memory, if the scaffold has one."""
        initial = self.manifest.memory.initial
        return self.root / initial if initial else None


def builtin_scaffold(name: str = "v0") -> Path:
    """The directory of a scaffold shipped with the package (currently only `v0`)."""
    path = Path(str(resources.files("automem_agent") / "scaffolds" / name))
    if not (path / MANIFEST_FILE).is_file():
        raise ScaffoldError(name, "no such built-in scaffold")
    return path


def resolve_scaffold(spec: str | Path) -> Path:
    """A scaffold named on a command line or in a config: a directory, or the name of a built-in
    one (`v0`, `demo`). ScaffoldError if it is neither."""
    path = Path(spec)
    if path.is_dir():
        return path
    try:
        return builtin_scaffold(str(spec))
    except ScaffoldError:
        shipped = sorted(
            p.name
            for p in Path(str(resources.files("automem_agent") / "scaffolds")).iterdir()
            if (p / MANIFEST_FILE).is_file()
        )
        raise ScaffoldError(
            str(spec), f"neither a directory nor a built-in scaffold ({', '.join(shipped)})"
        ) from None


def content_hash(root: Path) -> str:
    """sha256 over the sorted relative paths and bytes of every file under `root`."""
    digest = hashlib.sha256()
    for path in sorted(_scaffold_files(root)):
        rel = path.relative_to(root).as_posix()
        data = path.read_bytes()
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _scaffold_files(root: Path) -> list[Path]:
    return [
        p
        for p in root.rglob("*")
        if p.is_file()
        and not _IGNORED_PARTS.intersection(p.relative_to(root).parts)
        and p.suffix != ".pyc"
    ]


def load_scaffold(
    path: str | Path, *, hook_limits: HookLimits | None = None, isolated_hooks: bool = True
) -> Scaffold:
    """Loads and validates the scaffold at `path`; raises `ScaffoldError` on any problem.

    Its hooks run in a hook worker process under `hook_limits` (see `automem_agent._hooks`);
    `isolated_hooks=False` is for code that already runs inside a sandbox. `Scaffold.close()`
    (or garbage collection, or the end of this process) ends the worker.
    """
    root = Path(path)
    if not root.is_dir():
        raise ScaffoldError(str(root), "not a directory")
    manifest_path = root / MANIFEST_FILE
    if not manifest_path.is_file():
        raise ScaffoldError(MANIFEST_FILE, "missing")
    try:
        raw = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScaffoldError(MANIFEST_FILE, f"invalid TOML: {exc}") from None
    try:
        manifest = msgspec.convert(raw, Manifest)
    except msgspec.ValidationError as exc:
        raise ScaffoldError(MANIFEST_FILE, str(exc)) from None

    _check_ops(manifest)
    templates = _load_templates(root, manifest)
    schema, limits = _memory_config(root, manifest)
    hooks = Hooks()
    if manifest.hooks:
        hooks_path = root / manifest.hooks
        if hooks_path.is_file():
            try:
                hooks = load_hooks(
                    hooks_path,
                    limits=hook_limits,
                    isolated=isolated_hooks,
                    program_class=manifest.program.class_name,
                )
            except HookLoadError as exc:
                raise ScaffoldError(manifest.hooks, str(exc).split(": ", 1)[-1]) from None
        elif manifest.hooks != "hooks.py":
            raise ScaffoldError(manifest.hooks, "hooks file named in scaffold.toml is missing")
    _check_program_ops(hooks)
    return Scaffold(
        root=root.resolve(),
        manifest=manifest,
        templates=templates,
        content_hash=content_hash(root),
        hooks=hooks,
        schema=schema,
        limits=limits,
    )


def _check_program_ops(hooks: Hooks) -> None:
    from automem_memfs import PIPE_ALIASES

    for name in hooks.program_ops:
        if name.upper() in PIPE_ALIASES or name.lower() in OP_TYPES:
            raise ScaffoldError(
                hooks_file_name(hooks), f"program op {name} clashes with the memory op of that name"
            )


def hooks_file_name(hooks: Hooks) -> str:
    path = getattr(hooks, "path", None)
    return path.name if path is not None else "hooks.py"


def _check_ops(manifest: Manifest) -> None:
    for phase_name, phase in (("log", manifest.log), ("plan", manifest.plan)):
        for op in phase.ops:
            if op not in OP_TYPES:
                known = ", ".join(sorted(OP_TYPES))
                raise ScaffoldError(
                    MANIFEST_FILE, f"[{phase_name}] unknown op {op!r} (known: {known})"
                )
    for op in manifest.plan.ops:
        if op not in READ_ONLY_OPS:
            raise ScaffoldError(MANIFEST_FILE, f"[plan] may use only read-only ops, not {op!r}")
    if manifest.decoding == "grammar" and manifest.syntax != "pipe":
        raise ScaffoldError(
            MANIFEST_FILE,
            "decoding = 'grammar' needs syntax = 'pipe' (the grammar is of pipe calls)",
        )


def _load_templates(root: Path, manifest: Manifest) -> dict[str, Template]:
    names = [
        manifest.system_prompt,
        manifest.log.prompt,
        manifest.log.continue_prompt,
        manifest.plan.prompt,
        manifest.plan.continue_prompt,
        manifest.plan.commit_prompt,
    ]
    templates: dict[str, Template] = {}
    for name in names:
        if name in templates:
            continue
        file = root / name
        if not file.is_file():
            raise ScaffoldError(name, "template file is missing")
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ScaffoldError(name, "template is not UTF-8 text") from None
        templates[name] = _checked_template(name, text, TEMPLATE_VARIABLES)
    # The stuck message is a template too, with its own single variable.
    templates["<stuck>"] = _checked_template(
        f"{MANIFEST_FILE} [stuck] message", manifest.stuck.message, frozenset({"steps"})
    )
    return templates


def _checked_template(name: str, text: str, allowed: Collection[str]) -> Template:
    template = Template(text)
    for match in template.pattern.finditer(text):
        placeholder = match.group("named") or match.group("braced")
        if placeholder and placeholder not in allowed:
            raise ScaffoldError(
                name, f"unknown placeholder ${placeholder} (allowed: {', '.join(sorted(allowed))})"
            )
    return template


def _memory_config(root: Path, manifest: Manifest) -> tuple[Any, Any]:
    memory = manifest.memory
    if memory.initial is not None:
        initial = root / memory.initial
        if not initial.is_dir():
            raise ScaffoldError(memory.initial, "initial memory directory is missing")
        for file in initial.rglob("*"):
            if file.is_file():
                try:
                    file.read_text(encoding="utf-8")
                except UnicodeDecodeError:
                    rel = file.relative_to(root).as_posix()
                    raise ScaffoldError(rel, "memory files must be UTF-8 text") from None
    for ref in memory.reference:
        if ref.startswith("/") or ".." in Path(ref).parts:
            raise ScaffoldError(MANIFEST_FILE, f"[memory.reference] path {ref!r} leaves the memory")
    from automem_memfs import Limits, Schema

    try:
        schema = msgspec.convert(memory.schema, Schema) if memory.schema else None
        limits = msgspec.convert(memory.limits, Limits) if memory.limits else None
    except (msgspec.ValidationError, TypeError, ValueError) as exc:
        raise ScaffoldError(MANIFEST_FILE, f"[memory] {exc}") from None
    return schema, limits
