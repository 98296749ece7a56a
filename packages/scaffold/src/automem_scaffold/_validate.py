"""Validate a candidate scaffold in the sandbox: the manifest loads, `hooks.py` imports, and a
smoke episode of a few steps runs with a scripted model, every hook call succeeding. The report
carries what the smoke steps showed the agent (its prompts as sent, with the hooks' output in
them) and the replies, so a reviewer sees its change at work, not only pass or fail.

The host side (`validate_candidate`) runs the child side (`validate_in_child`) through
`automem_agent.meta.run_sandboxed`: time and memory limits, no secrets, cwd in the candidate.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any, Literal

import msgspec
from automem_agent.meta import SandboxLimits, run_sandboxed

Stage = Literal["manifest", "hooks", "smoke", "sandbox", "ok"]
SMOKE_FIRST_CHARS = 6_000  # the first smoke step's prompts, whole
SMOKE_STEP_CHARS = 1_500  # each later step: the newest message of each turn, and the reply
SMOKE_CHARS = 10_000


class ValidationReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one validation: `ok`, or the `stage` that failed and a message for the
    meta-LLM. `steps` is how many smoke steps ran."""

    ok: bool
    stage: Stage
    message: str = ""
    steps: int = 0
    wall_s: float = 0.0
    smoke: str = ""  # the smoke steps' prompts as sent and the replies (bounded)

    def headline(self) -> str:
        """One line for records (decisions, review.md): passed, or where it failed and why."""
        if self.ok:
            return f"Validation passed: manifest loads, hooks import, {self.steps} smoke steps ran."
        return f"Validation failed at {self.stage}: {self.message}"

    def for_model(self) -> str:
        """The headline and what the smoke steps showed the agent, for the reviewer."""
        head = self.headline()
        if not self.smoke:
            return head
        return f"{head}\n\nWhat the smoke steps showed the agent, and its replies:\n{self.smoke}"


def validate_candidate(
    candidate: Path,
    *,
    env_id: str,
    seed: int,
    steps: int = 3,
    wall_s: float = 120.0,
    memory_mb: int | None = 3072,
    unsafe_no_sandbox: bool = False,
) -> ValidationReport:
    """Runs the checks in a sandboxed child; every failure, hang or crash is a report. The
    candidate is read-only in there; the smoke episode writes into the child's scratch."""
    with tempfile.TemporaryDirectory(prefix="automem-validate-") as scratch:
        result = run_sandboxed(
            "automem_scaffold._validate:validate_in_child",
            {
                "scaffold_dir": str(candidate.resolve()),
                "env_id": env_id,
                "seed": seed,
                "steps": steps,
            },
            cwd=scratch,
            read_only=[candidate],
            limits=SandboxLimits(
                wall_s=wall_s, memory_mb=memory_mb, unsafe_no_sandbox=unsafe_no_sandbox
            ),
        )
    if result.ok and isinstance(result.value, dict):
        value = result.value
        return ValidationReport(
            ok=bool(value.get("ok")),
            stage=value.get("stage", "smoke"),
            message=str(value.get("message", "")),
            steps=int(value.get("steps", 0)),
            wall_s=result.wall_s,
            smoke=str(value.get("smoke", "")),
        )
    if result.error == "timeout":
        message = (
            f"the checks did not finish within {wall_s:g} s (a hook that hangs or loops?) "
            "and were killed"
        )
    elif result.error == "memory":
        message = f"the checks ran out of memory (limit {memory_mb} MiB): {result.message}"
    else:
        message = result.describe()
    return ValidationReport(
        ok=False, stage="sandbox", message=message[-3000:], wall_s=result.wall_s
    )


def smoke_reply(syntax: str, action: str = "noop") -> str:
    """The scripted reply of the smoke episode, in the scaffold's call syntax: DONE and an
    ACTION together. LOG takes the DONE and PLAN the ACTION (each ignores the other), so every
    step runs the hooks around the observation and around the action."""
    from automem_memfs import Action, Done, format_call

    return format_call(Done(), syntax) + "\n" + format_call(Action(text=action), syntax)


def smoke_transcript(trace: Any) -> str:
    """The smoke steps as the agent met them: step 0's prompts whole (system prompt, memory
    index, observation, hook notices), then for each later step the lines of each turn's newest
    message that step 0 did not show (new observation, notices), the reply, and the program's
    rejections. Bounded to `SMOKE_CHARS`."""
    from automem_agent.meta import cut, render_prompts

    if not trace.steps:
        return ""
    first = render_prompts(trace.steps[0], title="smoke step 0")
    shown = set(first.splitlines())
    parts = [cut(first, SMOKE_FIRST_CHARS)]
    for step in trace.steps[1:]:
        lines = [f"# smoke step {step.step}: what is new in each turn's prompt, then the reply"]
        for turn in step.turns:
            newest = str(turn.messages[-1].get("content", "")) if turn.messages else ""
            fresh = [line for line in newest.splitlines() if line not in shown]
            left_out = len(newest.splitlines()) - len(fresh)
            lines.append(
                f"## {turn.phase} round {turn.round} ({left_out} lines as at step 0 left out)"
            )
            lines += fresh
            lines += ["--- [reply]", turn.response.rstrip() or "(empty)"]
        if step.hooks is not None:
            lines += [f"!! REJECTED {r.action!r}: {r.message}" for r in step.hooks.rejections]
        lines.append(f"--- action {step.action!r} -> ran {step.executed_action!r}")
        lines += [f"!! EVENT {event}" for event in step.events]
        parts.append(cut("\n".join(lines) + "\n", SMOKE_STEP_CHARS))
    return cut("\n".join(parts), SMOKE_CHARS)


def validate_in_child(scaffold_dir: str, env_id: str, seed: int, steps: int) -> dict[str, Any]:
    """Child side: load, import hooks, run the smoke episode. Returns a JSON-able dict."""
    from automem_agent import (
        RoleModels,
        ScaffoldError,
        load_scaffold,
        memory_agent_factory,
        run_suite,
    )
    from automem_agent.models import ScriptedModel
    from automem_agent.trace import iter_traces
    from automem_envs import EpisodeSpec, Suite

    root = Path(scaffold_dir)
    try:
        # In-process hooks: this child is already the sandbox, and the guard below wraps the
        # hook functions to see which one raised.
        scaffold = load_scaffold(root, isolated_hooks=False)
    except ScaffoldError as exc:
        stage = "hooks" if exc.file.endswith(".py") else "manifest"
        return {"ok": False, "stage": stage, "message": str(exc)}

    hook_errors: list[str] = []

    def guard(name: str, fn: Any) -> Any:
        def wrapped(*args: Any) -> Any:
            try:
                return fn(*args)
            except BaseException as exc:
                hook_errors.append(f"hook {name} raised {type(exc).__name__}: {exc}")
                raise

        return wrapped

    scaffold.hooks.functions = {n: guard(n, f) for n, f in scaffold.hooks.functions.items()}
    reply = smoke_reply(scaffold.manifest.syntax)
    model = ScriptedModel(lambda _request: reply, name="smoke")
    suite = Suite(name="smoke", episodes=[EpisodeSpec(env_id=env_id, seed=seed, max_steps=steps)])
    with tempfile.TemporaryDirectory(prefix="automem-smoke-") as out:
        factory = memory_agent_factory(scaffold, RoleModels.single(model))
        asyncio.run(run_suite(suite, factory, Path(out), concurrency=1))
        traces = list(iter_traces(Path(out) / "eval"))
        if not traces:
            return {"ok": False, "stage": "smoke", "message": "the smoke episode wrote no trace"}
        trace = traces[0]
        n = len(trace.steps)
        shown = smoke_transcript(trace)
        if trace.summary is None or trace.summary.status != "finished":
            why = trace.summary.error if trace.summary else "no summary"
            return {
                "ok": False,
                "stage": "smoke",
                "message": f"smoke episode failed: {why}",
                "steps": n,
                "smoke": shown,
            }
    # The agent program's failures are events of its steps (it runs inside the agent).
    hook_errors += [e for s in trace.steps for e in s.events if e.startswith("agent program")]
    if hook_errors:
        unique = list(dict.fromkeys(hook_errors))
        return {
            "ok": False,
            "stage": "smoke",
            "message": "; ".join(unique)[:2000],
            "steps": n,
            "smoke": shown,
        }
    return {"ok": True, "stage": "ok", "steps": n, "smoke": shown}


def validate_async(candidate: Path, **kwargs: Any) -> Any:
    """`validate_candidate` off the event loop (the sandbox call blocks)."""
    return asyncio.to_thread(validate_candidate, candidate, **kwargs)
