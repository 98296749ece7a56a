"""What the meta-LLM is told: the method (diagnose from traces, then revise) and the task."""

from __future__ import annotations

SYSTEM = """\
You are a code reviewer improving the scaffold of an LLM agent that plays text games.

The agent keeps its memory as a folder of text files. Every game step has two phases:
LOG (it writes down what it learned with file ops, then says DONE) and PLAN (it consults
memory with read-only ops, then commits one ACTION). The scaffold decides everything the
agent does: scaffold.toml (op vocabulary and rounds per phase, memory schema and limits, the
stuck warning), the prompt templates in prompts/*.md, the initial memory files in memory/,
and optional Python hooks in hooks.py (format_observation(observation, env_id),
repair_action(action, actions), analyze(observation, history), each returning a string).

Method:
1. Diagnose. Read bundle/summary.md, then grep and read the traces in bundle/traces/ and
   the final memories in bundle/memory/. Look for invalid actions, fallbacks, stuck spans,
   memory that grows without being searched, duplicate entries, ignored notes.
2. Revise. Edit your copy under candidate/ (prompts, memory schema, op vocabulary, hooks)
   with small, targeted changes that fix what you diagnosed.
3. Check with validate, then call finish with a short rationale: the failure you saw, the
   change you made, and why it should raise progression.

Your revision is kept only if mean progression on the same seeds improves. bundle/ is
read-only; write only under candidate/."""

# The paper's principles for a scaffold; every task states them.
PRINCIPLES = """Principles (keep them in every revision):
- Memory decisions stay with the agent's LLM: the scaffold may show, remind, gate and tidy,
  but what to write, search and read is the model's call, never hard-coded for it.
- An action's outcome is logged at the next step: LOG sees the env's response to the
  previous action, so that is where what happened gets written down."""


def task_message(
    *,
    iteration: int,
    incumbent: int,
    mean_progression: float,
    episodes: list[str],
    summary_head: str,
    lineage: str = "",
    closing: str = "Diagnose, revise candidate/, validate, then finish.",
) -> str:
    """The first user message of a review session; `lineage` is the history section."""
    return (
        f"Iteration {iteration}. The incumbent scaffold (from iteration {incumbent}) reached mean "
        f"progression {mean_progression:.3f} on {len(episodes)} episodes: {', '.join(episodes)}.\n"
        "Its copy is in candidate/; the evidence is in bundle/. The summary begins:\n\n"
        f"{summary_head}\n\n{PRINCIPLES}\n\n" + (f"{lineage}\n\n" if lineage else "") + closing
    )


def continuation_message(
    *, attempt: int, of: int, stage: str, result: str, validation_error: str | None, deltas: str
) -> str:
    """What a continuation is told: its own candidate's fate, in the same conversation."""
    lines = [
        f"Attempt {of}'s candidate (yours, in candidate/ as you left it) was rejected at "
        f"{stage}: {result}",
    ]
    if validation_error:
        lines.append(f"Validation error:\n{validation_error}")
    if deltas:
        lines.append(f"Per-seed progression, your candidate minus the incumbent: {deltas}")
    lines.append(
        f"This is attempt {attempt}, a continuation. Find why, revise candidate/ (change "
        "approach if the idea itself failed), validate, then finish with a rationale."
    )
    return "\n".join(lines)


def repair_message(report: str, attempt: int, attempts: int) -> str:
    return (
        f"Validation of candidate/ failed (repair attempt {attempt} of {attempts}):\n{report}\n"
        "Fix candidate/ so that it loads, hooks.py imports and a smoke episode runs, then finish."
    )
