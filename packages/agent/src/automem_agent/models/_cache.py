"""Where converted and generated models live, and how a cache entry is written safely."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

CACHE_ENV = "AUTOMEM_CACHE"
_COMPLETE = ".complete"  # written last inside the temp dir, so a present marker means whole


def cache_dir() -> Path:
    """The model cache root: `$AUTOMEM_CACHE` if set, else the user cache dir for `automem`."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("automem"))


def is_complete(path: Path) -> bool:
    """True if `path` is a cache entry that was fully written."""
    return (path / _COMPLETE).is_file()


def build_atomically(target: Path, build: Callable[[Path], None]) -> Path:
    """Return `target`, building it first with `build(tmp_dir)` if it is not already complete.

    The build writes into a temporary sibling directory that is renamed into place only when
    finished, so a crash never leaves a half entry and a parallel builder's result is kept
    (the loser discards its own copy).
    """
    target = Path(target)
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(tmp)
        (tmp / _COMPLETE).write_text("ok\n")
        if target.exists() and not is_complete(target):
            # A leftover from an older, non-atomic writer: replace it.
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(tmp, target)
        except OSError:
            if not is_complete(target):  # not a lost race: a real failure
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
