"""Crafter, MiniHack and NetHack as deterministic text games with BALROG-compatible progression."""

__all__: list[str] = []
