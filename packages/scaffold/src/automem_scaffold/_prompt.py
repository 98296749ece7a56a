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


def task_message(
    *,
    iteration: int,
    incumbent: int,
    mean_progression: float,
    episodes: list[str],
    summary_head: str,
) -> str:
    """The first user message of a review session."""
    return (
        f"Iteration {iteration}. The incumbent scaffold (from iteration {incumbent}) reached mean "
        f"progression {mean_progression:.3f} on {len(episodes)} episodes: {', '.join(episodes)}.\n"
        "Its copy is in candidate/; the evidence is in bundle/. The summary begins:\n\n"
        f"{summary_head}\n\nDiagnose, revise candidate/, validate, then finish."
    )


def repair_message(report: str, attempt: int, attempts: int) -> str:
    return (
        f"Validation of candidate/ failed (repair attempt {attempt} of {attempts}):\n{report}\n"
        "Fix candidate/ so that it loads, hooks.py imports and a smoke episode runs, then finish."
    )
