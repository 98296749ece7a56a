"""Optional-dependency checks that tell the user the exact command to install what is missing."""

from __future__ import annotations

import importlib.util


def install_hint(extra: str) -> str:
    return f'uv sync --all-packages --extra {extra}  (or: pip install "automem-agent[{extra}]")'


def require(module: str, extra: str, *, backend: str) -> None:
    """Raise ImportError naming the extra to install if `module` is not importable."""
    if importlib.util.find_spec(module) is None:
        raise ImportError(
            f"the {backend!r} model backend needs {module!r}, from the {extra!r} extra: "
            f"{install_hint(extra)}"
        )
