"""Exceptions for programmer errors and broken infrastructure.

A model's mistakes never raise: `MemoryStore.apply` turns them into `OpResult(ok=False)`. These
exceptions reach code that calls the store directly (`read_text`, `import_tree`, ...).
"""

from __future__ import annotations


class MemfsError(Exception):
    """Base class. `code` is a short machine-readable class such as `"not_found"` or `"limit"`."""

    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class SandboxError(MemfsError):
    """A path that would leave the memory root, or a name the store refuses to create."""

    code = "sandbox"
