"""Errors raised for programmer mistakes and missing infrastructure (never for model mistakes)."""

from __future__ import annotations


class EnvError(ValueError):
    """Bad input to the environment API: a wrong seed type, a negative limit, an unknown id..."""


class EpisodeOver(EnvError):
    """`step()` was called after the episode ended; call `reset()` to start again."""


class GameNotInstalled(ImportError):
    """The game's optional dependency is missing; the message names the extra to install."""

    def __init__(self, game: str, extra: str, cause: BaseException | None = None) -> None:
        detail = f" ({type(cause).__name__}: {cause})" if cause else ""
        super().__init__(
            f"{game} is not installed{detail}. Install the extra: "
            f'`uv sync --extra {extra}` or `pip install "automem-envs[{extra}]"`.'
        )
        self.game = game
        self.extra = extra


class LevelFilesMissing(EnvError):
    """A task needs data files its game package does not ship (MiniHack's Boxoban levels)."""
