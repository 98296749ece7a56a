"""Optional-dependency checks that tell the user the exact command to install what is missing."""

from __future__ import annotations

import importlib.util


def install_hint(*extras: str) -> str:
    """The commands that install `extras` of automem-agent, in this workspace and from PyPI."""
    flags = " ".join(f"--extra {extra}" for extra in extras)
    return f'uv sync --all-packages {flags}  (or: pip install "automem-agent[{",".join(extras)}]")'


def require(module: str, extra: str, *, backend: str) -> None:
    """Raise ImportError naming the extra to install if `module` is not importable."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"the {backend!r} model backend needs {module!r}, from the {extra!r} extra: "
            f"{install_hint(extra)}"
        )
