"""Post-processing the data engine can choose, applied after selection and before composition.

- `strip_plan_action`: a PLAN turn that consulted memory and then committed the world action is
  kept with its ACTION removed (the base model commits actions; the specialist only consults),
  instead of being dropped;
- `drop_fenced`: turns whose response carries fenced blocks (```) the op parser ignores are
  dropped as junk.
Dedup and the LOG/PLAN balance are the composition's (`Composition.dedup`, `log_share`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import msgspec

from automem_train._examples import MemoryExample

_ACTION = re.compile(r"\s*<\|ACTION\|>.*?(?:<\|/ACTION\|>|\Z)", re.DOTALL)


class PostProcess(msgspec.Struct, frozen=True, kw_only=True):
    strip_plan_action: bool = False
    drop_fenced: bool = False


def strip_action(response: str) -> str:
    """The response without its ACTION call (pipe syntax), trailing space trimmed."""
    return _ACTION.sub("", response).rstrip()


def postprocess(
    examples: Sequence[MemoryExample], steps: PostProcess
) -> tuple[list[MemoryExample], dict[str, int]]:
    """The examples after the chosen steps, and how many each step removed."""
    removed: Counter[str] = Counter()
    out: list[MemoryExample] = []
    for e in examples:
        if steps.drop_fenced and "```" in e.response:
            removed["fenced junk"] += 1
            continue
        if e.phase == "plan" and e.features.committed_action:
            stripped = strip_action(e.response) if steps.strip_plan_action else ""
            if not stripped.strip() or stripped == e.response:
                removed["PLAN turn commits the world action"] += 1
                continue
            features = msgspec.structs.replace(e.features, committed_action=False)
            e = msgspec.structs.replace(e, response=stripped, features=features)
        out.append(e)
    return out, dict(removed)
