"""Packages meet only at public names, and each declares the siblings it imports.

`automem_envs._types` is private to automem-envs; automem-agent, the apps, tools/ and tests/
import `automem_envs` instead. A package may import its own private modules, and so may its
own tests (packages/<x>/tests). The check reads imports with `ast`, so it sees
`import automem_x._m`, `from automem_x.sub._m import y` and `from automem_x import _m` alike.
A package's pyproject.toml lists every sibling its code imports, bounded to the sibling's minor
version (`automem-envs>=0.1,<0.2`).
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("packages/*/src", "packages/*/tests", "apps", "tools", "tests")


def _owner(path: Path, root: Path) -> str | None:
    """The top-level module of the package `path` belongs to (packages/envs/... -> automem_envs)."""
    parts = path.relative_to(root).parts
    if len(parts) > 2 and parts[0] == "packages":
        return "automem_" + parts[1]
    return None


def _private_targets(node: ast.AST) -> Iterator[str]:
    """Dotted names of automem modules an import statement reaches whose path has a `_` part."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        names = [node.module]
        if not _is_private(node.module):
            # `from automem_x import _m` imports the private module automem_x._m.
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    else:
        return
    yield from (name for name in names if _is_private(name))


def _is_private(name: str) -> bool:
    parts = name.split(".")
    return parts[0].startswith("automem_") and any(p.startswith("_") for p in parts[1:])


def violations(root: Path) -> list[str]:
    """`file:line: name` for each import of another package's private module under `root`."""
    found: list[str] = []
    files = sorted({f for pattern in SCANNED for d in root.glob(pattern) for f in d.rglob("*.py")})
    for path in files:
        owner = _owner(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for name in _private_targets(node):
                if name.split(".")[0] != owner:
                    found.append(f"{path.relative_to(root)}:{node.lineno}: {name}")
    return found


def _imported_packages(directory: Path) -> set[str]:
    """The automem_* top-level modules that .py files under `directory` import."""
    found: set[str] = set()
    for path in directory.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name.startswith("automem_")}


def dependency_problems(root: Path) -> list[str]:
    """What each packages/<x>/pyproject.toml gets wrong about the siblings it depends on."""
    projects = {
        d.name: tomllib.loads((d / "pyproject.toml").read_text(encoding="utf-8"))
        for d in sorted((root / "packages").iterdir())
        if (d / "pyproject.toml").is_file()
    }
    versions = {f"automem-{x}": Version(p["project"]["version"]) for x, p in projects.items()}
    problems: list[str] = []
    for x, project in projects.items():
        where = f"packages/{x}/pyproject.toml"
        table = project["project"]
        extras = [r for reqs in table.get("optional-dependencies", {}).values() for r in reqs]
        dev = [r for r in project.get("dependency-groups", {}).get("dev", []) if isinstance(r, str)]
        required = [Requirement(r) for r in table.get("dependencies", [])]
        everything = required + [Requirement(r) for r in extras + dev]
        for req in everything:
            if req.name in versions and req.name != table["name"]:
                v = versions[req.name]
                bound = f">={v.major}.{v.minor},<{v.major}.{v.minor + 1}"
                if req.specifier != SpecifierSet(bound):
                    problems.append(f"{where}: {req} should be bounded {bound}")
        for part, declared in (("src", required), ("tests", everything)):
            names = {r.name for r in declared}
            for module in sorted(_imported_packages(root / "packages" / x / part)):
                name = module.replace("_", "-")
                if module != f"automem_{x}" and name not in names:
                    problems.append(f"{where}: {part}/ imports {module} but {name} is undeclared")
    return problems


def test_no_file_imports_another_packages_private_modules():
    found = violations(ROOT)
    assert not found, "imports of another package's private modules:\n" + "\n".join(found)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_checker_flags_planted_violations_and_allows_own_privates(tmp_path):
    # Allowed: public names anywhere, own private modules in a package's src and tests,
    # relative imports.
    _write(tmp_path, "packages/envs/src/automem_envs/_suites.py", "from ._types import Suite\n")
    _write(tmp_path, "packages/envs/tests/test_x.py", "from automem_envs._types import Suite\n")
    _write(tmp_path, "packages/agent/src/automem_agent/_a.py", "from automem_envs import Suite\n")
    _write(
        tmp_path, "tools/ok.py", "import automem_agent.models\nfrom automem_agent import trace\n"
    )
    assert violations(tmp_path) == []

    # Planted: each form of reaching into another package's private modules.
    _write(tmp_path, "packages/agent/src/automem_agent/_b.py", "\nimport automem_envs._types\n")
    _write(
        tmp_path,
        "packages/agent/tests/test_y.py",
        "def f():\n    from automem_memfs import _ops, Call\n",
    )
    _write(tmp_path, "tools/bad.py", "from automem_agent.models._smollm2 import smollm2_gguf\n")
    _write(tmp_path, "tests/test_z.py", "from automem_scaffold._pools import seed_pools\n")
    _write(tmp_path, "apps/play/__main__.py", "from automem_agent._chat import ChatModel\n")
    assert violations(tmp_path) == [
        "apps/play/__main__.py:1: automem_agent._chat",
        "packages/agent/src/automem_agent/_b.py:2: automem_envs._types",
        "packages/agent/tests/test_y.py:2: automem_memfs._ops",
        "tests/test_z.py:1: automem_scaffold._pools",
        "tools/bad.py:1: automem_agent.models._smollm2",
    ]


def test_each_package_declares_the_siblings_it_imports_with_bounds():
    problems = dependency_problems(ROOT)
    assert not problems, "\n".join(problems)


def test_dependency_check_flags_undeclared_and_unbounded_siblings(tmp_path):
    def project(x: str, deps: list[str]) -> None:
        _write(
            tmp_path,
            f"packages/{x}/pyproject.toml",
            f'[project]\nname = "automem-{x}"\nversion = "0.2.3"\ndependencies = {deps!r}\n',
        )

    project("envs", [])
    project("agent", ["automem-envs>=0.2,<0.3"])
    _write(tmp_path, "packages/agent/src/automem_agent/_a.py", "from automem_envs import Suite\n")
    assert dependency_problems(tmp_path) == []

    project("scaffold", ["automem-agent"])
    _write(tmp_path, "packages/scaffold/src/automem_scaffold/_s.py", "import automem_envs.gym\n")
    assert dependency_problems(tmp_path) == [
        "packages/scaffold/pyproject.toml: automem-agent should be bounded >=0.2,<0.3",
        "packages/scaffold/pyproject.toml: src/ imports automem_envs but automem-envs is undeclared",
    ]
