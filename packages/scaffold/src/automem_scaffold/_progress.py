"""The live progress display: one bar over the run's phases, with messages above it."""

from __future__ import annotations

import sys

from automem_scaffold._config import EvolveConfig


class Progress:
    """Called with a phase message; advances a tqdm bar (or prints lines when disabled)."""

    def __init__(self, config: EvolveConfig, *, enabled: bool = True):
        self.enabled = enabled
        self._bar = None
        if enabled:
            from tqdm import tqdm

            # the start evaluation, each iteration, the held-out evaluation
            self._bar = tqdm(
                total=config.iterations + 2, desc="evolve", unit="it", dynamic_ncols=True
            )

    def __call__(self, message: str, *, advance: bool = False) -> None:
        """Shows `message`; `advance` marks one unit (an iteration or evaluation) finished."""
        if self._bar is None:
            print(message, file=sys.stderr, flush=True)
            return
        self._bar.write(message)
        self._bar.set_postfix_str(message[:50])
        if advance:
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
