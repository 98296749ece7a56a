"""A deterministic scripted policy that exercises LOG and PLAN, for tests and benchmarks.

A test helper, not part of automem-agent: packages/agent/tests/conftest.py and tests/conftest.py
put this directory on `sys.path` (`from probe_policy import probe_policy`); tools/ adds it itself.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Sequence

from automem_agent import ChatRequest
from automem_memfs import Action, Append, Done, Search, example, format_call

_POSITION = re.compile(r"\((-?\d+), ?(-?\d+)\)")


def probe_policy(
    actions: Sequence[str], *, syntax: str = "pipe", log_file: str = "log.md"
) -> Callable[[ChatRequest], str]:
    """A script for `ScriptedModel` that plays like a tidy memory agent.

    LOG: appends one line with the player's position (the last `(x, y)` in the prompt) to
    `log_file`, then DONE. PLAN round 1: searches `log_file` for that position. PLAN round 2:
    commits an ACTION chosen from `actions` by a hash of the conversation, so a run is
    reproducible. The phase is read from the conversation: PLAN starts after the first DONE,
    or at once when the step opens with PLAN (its first prompt shows ACTION's syntax, not
    DONE's: a scaffold without LOG at step 0).
    """
    actions = list(actions)
    action_help, done_help = example("action", syntax), example("done", syntax)

    def fmt(*calls) -> str:
        return "\n".join(format_call(c, syntax=syntax) for c in calls)

    def policy(request: ChatRequest) -> str:
        said = [m.content for m in request.messages if m.role == "assistant"]
        done_at = next((i for i, text in enumerate(said) if "DONE" in text.upper()), None)
        prompt = next(m.content for m in reversed(request.messages) if m.role == "user")
        opening = next(m.content for m in request.messages if m.role == "user")
        if done_at is None and action_help in opening and done_help not in opening:
            done_at = -1  # no LOG this step
        if done_at is None:
            found = _POSITION.findall(prompt)
            where = f"({found[-1][0]}, {found[-1][1]})" if found else "(?)"
            return fmt(Append(path=log_file, content=f"at {where}"), Done())
        plan_rounds = len(said) - done_at - 1
        if plan_rounds == 0:
            found = _POSITION.findall(" ".join(m.content for m in request.messages))
            pattern = f"({found[-1][0]}, {found[-1][1]})" if found else "at"
            return fmt(Search(pattern=pattern, path=log_file))
        key = zlib.crc32(request.messages[1].content.encode()) if len(request.messages) > 1 else 0
        return fmt(Action(text=actions[key % len(actions)]))

    return policy
