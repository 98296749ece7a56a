"""A scripted agent whose play depends on one memory write, importable as
`scripted:attribution_policies:key_policy`.

It is stateless (it reads the step from the LOG prompt), so a replay can hand it over at any
step. LOG at step `KEY_STEP` appends `KEY_LINE` to notes.md; at every other step it appends an
irrelevant line to log.md. PLAN first reads notes.md; if the key is there it walks to trees and
collects wood, otherwise it idles. Removing the one write at `KEY_STEP` therefore loses the wood.
"""

from __future__ import annotations

import re

from automem_agent import ChatRequest
from automem_memfs import Action, Append, Done, Read, format_call
from test_evolve_policies import crafter_wood_action

KEY_STEP = 2
KEY_LINE = "KEY: trees give wood; face one and press do"


def key_policy(request: ChatRequest) -> str:
    last = request.messages[-1].content if request.messages else ""
    log = re.search(r"LOG phase, step (\d+)", "\n".join(m.content for m in request.messages))
    if request.purpose == "memory" and log:
        step = int(log.group(1))
        if step == KEY_STEP:
            write = Append(path="notes.md", content=KEY_LINE)
        else:
            write = Append(path="log.md", content=f"step {step}: looked around")
        return format_call(write) + "\n" + format_call(Done())
    if "Results:" not in last:
        return format_call(Read(path="notes.md"))
    plan = next(m.content for m in request.messages if "PLAN phase" in m.content)
    if KEY_LINE in last:
        return format_call(Action(text=crafter_wood_action(plan)))
    return format_call(Action(text="noop"))
