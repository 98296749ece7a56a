"""Scripted models for the Loop 1 tests, importable as `scripted:test_evolve_policies:<fn>`.

`agent_policy` plays Crafter by reading the scaffold's prompts: without the strategy line it
idles (noop); once the system prompt carries `STRATEGY_LINE` it walks to the nearest tree and
collects wood, which unlocks achievements on real seeds. `meta_reviewer` is a stateless meta-LLM
that writes the tool-tag syntax: iteration 1 adds the strategy line, iteration 2 breaks hooks.py.
"""

from __future__ import annotations

import json
import re

from automem_agent import ChatRequest, ChatResponse, ToolCall
from automem_agent.models import ReplayEntry
from automem_memfs import Action, Done, format_call

STRATEGY_LINE = "STRATEGY: walk to the nearest tree, face it and use `do` to collect wood."
_SEE = re.compile(r"(\w+) (\d+) (north|south|east|west)(?: and (\d+) (north|south|east|west))?")


def _reply(action: str) -> str:
    # Both calls in one reply: LOG takes the DONE, PLAN takes the ACTION (the other is ignored).
    return format_call(Done()) + "\n" + format_call(Action(text=action))


def _observation(request: ChatRequest) -> str:
    for message in reversed(request.messages):
        if "You face" in message.content or "You see" in message.content:
            return message.content
    return ""


def crafter_wood_action(obs: str) -> str:
    """Face a tree and `do`; otherwise step toward the nearest tree; otherwise wander north."""
    if re.search(r"You face tree", obs):
        return "do"
    seen = re.search(r"You see:([^\n]*)", obs)
    if seen:
        for part in seen.group(1).split(","):
            m = _SEE.search(part.strip())
            if m and m.group(1) == "tree":
                first_n, first_dir = int(m.group(2)), m.group(3)
                # Close the longer axis first; a tree directly adjacent is faced by moving to it.
                if m.group(4) and int(m.group(4)) > first_n:
                    return f"move {m.group(5)}"
                return f"move {first_dir}"
    return "move north"


def agent_policy(request: ChatRequest) -> str:
    system = request.messages[0].content if request.messages else ""
    if STRATEGY_LINE not in system:
        return _reply("noop")
    return _reply(crafter_wood_action(_observation(request)))


def _tag(name: str, **args: object) -> str:
    return f'<tool name="{name}">{json.dumps(args)}</tool>'


def meta_reviewer(request: ChatRequest) -> str:
    task = next((m.content for m in request.messages if m.role == "user"), "")
    iteration = int(re.search(r"Iteration (\d+)", task).group(1))  # type: ignore[union-attr]
    replies = sum(1 for m in request.messages if m.role == "assistant")
    if iteration == 1:
        plan = [
            _tag("grep", pattern="noop", path="bundle/traces"),
            _tag("read", path="candidate/prompts/system.md"),
            _tag("insert", path="candidate/prompts/system.md", line=0, content=STRATEGY_LINE),
            _tag("finish", rationale="The agent idles with noop; told it to collect wood."),
        ]
    else:
        plan = [
            _tag(
                "write_file",
                path="candidate/hooks.py",
                content="def repair_action(action, actions:\n",
            ),
            _tag("finish", rationale="Rewrote hooks."),
        ]
    return plan[min(replies, len(plan) - 1)]


HANG_HOOK = "def analyze(observation, history):\n    while True:\n        pass\n"
MEMORY_HOOK = (
    "def analyze(observation, history):\n"
    "    hoard = []\n"
    "    while True:\n"
    "        hoard.append(bytearray(64 * 2**20))\n"
)
ESCAPE_FILE = "escaped.txt"

# iteration -> the replies of a misbehaving meta-LLM (the last one repeats)
MISBEHAVIOUR: dict[int, list[str]] = {
    1: [']]}{ <tool nam= 42 \x00 lorem ipsum <tool name="grep">{"pattern": ', "qwerty"],
    2: ["I'm sorry, but I can't help with changing this agent's scaffold."],
    3: [_tag("finish", rationale="Everything looks fine; no change needed.")],
    4: [
        _tag(
            "write_file", path="candidate/hooks.py", content="def analyze(observation, history:\n"
        ),
        _tag("finish", rationale="Added analysis."),
    ],
    5: [
        _tag("write_file", path="candidate/hooks.py", content=HANG_HOOK),
        _tag("finish", rationale="Added analysis."),
    ],
    6: [
        _tag("write_file", path="candidate/hooks.py", content=MEMORY_HOOK),
        _tag("finish", rationale="Added a cache."),
    ],
    7: [
        _tag("write_file", path=f"../../../{ESCAPE_FILE}", content="escaped"),
        _tag("write_file", path="bundle/summary.md", content="all good"),
        _tag("insert", path="candidate/prompts/system.md", line=0, content="Be careful."),
        _tag("finish", rationale="Tidied up."),
    ],
}


def misbehaving_reviewer(request: ChatRequest) -> str:
    task = next((m.content for m in request.messages if m.role == "user"), "")
    iteration = int(re.search(r"Iteration (\d+)", task).group(1))  # type: ignore[union-attr]
    replies = sum(1 for m in request.messages if m.role == "assistant")
    plan = MISBEHAVIOUR[iteration]
    return plan[min(replies, len(plan) - 1)]


def slow_agent_policy(request: ChatRequest) -> str:
    """`agent_policy`, slowed down so a test can kill the run in the middle of an evaluation."""
    import time

    time.sleep(0.15)
    return agent_policy(request)


def slow_reviewer(request: ChatRequest) -> str:
    """`meta_reviewer`, slowed down so a test can kill the run in the middle of a review."""
    import time

    time.sleep(1.0)
    return meta_reviewer(request)


def meta_tool_call(
    i: int, name: str, *, model: str, input_tokens: int, output_tokens: int, **args: object
) -> ReplayEntry:
    """One recorded meta-LLM reply for a `replay:` meta model: the tool call `name(**args)`,
    billed as `model` with the given token counts."""
    response = ChatResponse(
        text="",
        tool_calls=[ToolCall(id=f"t{i}", name=name, input=args)],
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        model=model,
        finish_reason="tool_use",
    )
    return ReplayEntry(purpose="meta", response=response)
