"""The revise phase of one iteration: a review session over the bundle that edits a copy of the
incumbent scaffold, validation in the sandbox, and bounded repair rounds.

Outputs (in this order, the last one marking the phase done): `scaffold/`, `scaffold.diff`,
`review/transcript.json`, `review.md`, `candidate.json`. A run killed mid-phase leaves no
`candidate.json`; the phase then restarts and the partial session log is kept as
`review/interrupted-N.jsonl`.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import msgspec
from automem_agent import ChatModel, append_jsonl, write_json_atomic, write_text_atomic
from automem_agent.meta import (
    Budget,
    SessionState,
    SessionTranscript,
    SessionTurn,
    Tool,
    ToolSession,
)

from automem_scaffold._archive import copy_scaffold, read_json, scaffold_diff
from automem_scaffold._claude_code import ClaudeCodeReviewer
from automem_scaffold._prompt import SYSTEM, repair_message, task_message
from automem_scaffold._review_tools import ReviewWorkspace
from automem_scaffold._rules import NAME as RULES_NAME
from automem_scaffold._validate import ValidationReport, validate_async


class CandidateOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """`candidate.json`: what the revise phase produced and whether it may go to the gate."""

    ok: bool
    stage: Literal["review", "validation", "ok"]
    reason: str
    changed_files: list[str] = []
    escapes: list[str] = []
    end_reason: str = ""
    rationale: str | None = None
    validation: ValidationReport | None = None
    repairs: int = 0
    meta_model: str = ""
    meta_input_tokens: int = 0
    meta_output_tokens: int = 0
    meta_llm_s: float = 0.0
    review_s: float = 0.0
    validate_s: float = 0.0


class ReviewSettings(msgspec.Struct, frozen=True, kw_only=True):
    turns: int = 3
    tokens: int = 60_000
    wall_s: float = 900.0
    max_tokens_per_turn: int = 256
    repair_attempts: int = 2
    smoke_env: str = "crafter"
    smoke_seed: int = 0
    smoke_steps: int = 3
    validate_wall_s: float = 120.0
    validate_memory_mb: int = 3072
    unsafe_no_sandbox: bool = False


class Continuation(msgspec.Struct, frozen=True, kw_only=True):
    """A continuation attempt: the earlier attempt's directory (its `scaffold/` is the starting
    candidate, its `review/` holds the conversation to go on with) and what to tell it."""

    from_dir: str
    message: str


CONVERSATION = "conversation.json"  # a tool session's saved conversation, in review/


def resumable(out_dir: Path) -> bool:
    """Whether the review session of the attempt in `out_dir` can be continued."""
    review = out_dir / "review"
    return (review / CONVERSATION).exists() or ClaudeCodeReviewer.resumable(review)


def _changed(diff: str) -> list[str]:
    files = []
    for line in diff.splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            name = line[4:].strip()
            if name != "/dev/null":
                files.append(name[2:] if name[:2] in ("a/", "b/") else name)
    return sorted(set(files))


def _archive_partials(review_dir: Path) -> None:
    """Keeps the turns of a killed session as interrupted-N.jsonl, for the record."""
    for partial in sorted(review_dir.glob("session-*.jsonl")):
        n = len(list(review_dir.glob("interrupted-*.jsonl"))) + 1
        partial.rename(review_dir / f"interrupted-{n}.jsonl")


async def revise(
    *,
    iteration: int,
    incumbent: int,
    incumbent_scaffold: Path,
    incumbent_mean: float,
    bundle_dir: Path,
    episodes: list[str],
    out_dir: Path,
    meta: ChatModel | ClaudeCodeReviewer,
    settings: ReviewSettings,
    lineage: str = "",
    continuation: Continuation | None = None,
    extra_tools: Sequence[Tool] = (),
) -> CandidateOutcome:
    """Runs the revise phase into `out_dir` (an `iterations/NNN` directory). A fresh attempt
    starts from the incumbent with `lineage` in its task; a continuation goes on with an
    earlier attempt's conversation and candidate. `extra_tools` join a tool session's toolset
    (the write-attribution tool); Claude Code keeps its own tools."""
    review_dir = out_dir / "review"
    review_dir.mkdir(parents=True, exist_ok=True)
    _archive_partials(review_dir)
    write_text_atomic(review_dir / "model.txt", getattr(meta, "name", "") + "\n")
    work = out_dir / ".work"
    if work.exists():
        shutil.rmtree(work)
    candidate = work / "candidate"
    start_from = Path(continuation.from_dir) / "scaffold" if continuation else incumbent_scaffold
    copy_scaffold(start_from, candidate)
    workspace = ReviewWorkspace(bundle_dir, candidate, unsafe_no_sandbox=settings.unsafe_no_sandbox)
    validate_s = 0.0

    async def run_validation() -> ValidationReport:
        nonlocal validate_s
        start = time.perf_counter()
        report = await validate_async(
            candidate,
            env_id=settings.smoke_env,
            seed=settings.smoke_seed,
            steps=settings.smoke_steps,
            wall_s=settings.validate_wall_s,
            memory_mb=settings.validate_memory_mb,
            unsafe_no_sandbox=settings.unsafe_no_sandbox,
        )
        validate_s += time.perf_counter() - start
        return report

    async def validate_tool() -> str:
        return (await run_validation()).for_model()

    log_path = review_dir / f"session-{iteration:03d}.jsonl"

    def on_turn(turn: SessionTurn) -> None:
        append_jsonl(log_path, turn)

    session: ToolSession | Any
    if isinstance(meta, ClaudeCodeReviewer):
        session = meta.session(
            work=work, candidate=candidate, bundle_dir=bundle_dir, review_dir=review_dir,
            settings=settings, on_turn=on_turn,
        )  # fmt: skip
        escapes = session.escapes
    else:
        session = ToolSession(
            meta,
            [*workspace.tools(validator=validate_tool), *extra_tools],
            system=SYSTEM,
            budget=Budget(
                max_turns=settings.turns, max_tokens=settings.tokens, max_wall_s=settings.wall_s
            ),
            max_tokens_per_turn=settings.max_tokens_per_turn,
            purpose="meta",
            on_turn=on_turn,
        )
        escapes = workspace.escapes
    start = time.perf_counter()
    if continuation is not None:
        earlier = Path(continuation.from_dir) / "review"
        if isinstance(session, ToolSession):
            session.restore(read_json(earlier / CONVERSATION, SessionState))
        else:
            session.restore(earlier)
        transcript = await session.resume(continuation.message)
    else:
        summary_path = bundle_dir / "summary.md"
        summary_head = "\n".join(summary_path.read_text(encoding="utf-8").splitlines()[:12])
        transcript = await session.run(
            task_message(
                iteration=iteration,
                incumbent=incumbent,
                mean_progression=incumbent_mean,
                episodes=episodes,
                summary_head=summary_head,
                lineage=lineage,
                **(
                    {
                        "closing": "Diagnose, then revise candidate/; your last message is your "
                        "rationale (the candidate is validated when you stop)."
                    }
                    if isinstance(meta, ClaudeCodeReviewer)
                    else {}
                ),
            )
        )
    outcome_stage: Literal["review", "validation", "ok"] = "ok"
    reason = "validated"
    report: ValidationReport | None = None
    repairs = 0
    while True:
        diff = scaffold_diff(incumbent_scaffold, candidate)
        if escapes:
            outcome_stage = "review"
            reason = (
                "the meta-LLM tried to write outside its scaffold copy "
                f"({', '.join(repr(p) for p in escapes[:5])}); the writes were refused"
            )
            break
        if not diff:
            outcome_stage = "review"
            reason = f"empty revision: no file changed (session ended: {transcript.end_reason})"
            if transcript.error:
                reason += f"; {transcript.error}"
            break
        report = await run_validation()
        if report.ok:
            break
        if repairs >= settings.repair_attempts:
            outcome_stage = "validation"
            reason = f"validation failed after {repairs} repair attempts: {report.headline()}"
            break
        repairs += 1
        transcript = await session.resume(
            repair_message(report.for_model(), repairs, settings.repair_attempts)
        )
    total = time.perf_counter() - start
    diff = scaffold_diff(incumbent_scaffold, candidate)
    final = out_dir / "scaffold"
    if final.exists():
        shutil.rmtree(final)
    candidate.rename(final)
    shutil.rmtree(work, ignore_errors=True)
    write_text_atomic(out_dir / "scaffold.diff", diff)
    if isinstance(session, ToolSession):
        write_json_atomic(review_dir / CONVERSATION, session.state())
    write_json_atomic(review_dir / "transcript.json", transcript)
    llm_s = sum(t.latency_s for t in transcript.turns)
    outcome = CandidateOutcome(
        ok=outcome_stage == "ok",
        stage=outcome_stage,
        reason=reason,
        changed_files=_changed(diff),
        escapes=list(escapes),
        end_reason=transcript.end_reason,
        rationale=transcript.rationale,
        validation=report,
        repairs=repairs,
        meta_model=transcript.model,
        meta_input_tokens=transcript.input_tokens,
        meta_output_tokens=transcript.output_tokens,
        meta_llm_s=llm_s,
        review_s=max(0.0, total - validate_s),
        validate_s=validate_s,
    )
    cli = review_dir / "cli-transcript.md"
    write_text_atomic(
        out_dir / "review.md",
        render_review(iteration, incumbent, outcome, transcript)
        + (f"\n## Transcript (Claude Code)\n\n{cli.read_text()}" if cli.exists() else ""),
    )
    write_json_atomic(out_dir / "candidate.json", outcome)
    return outcome


def render_review(
    iteration: int, incumbent: int, outcome: CandidateOutcome, transcript: SessionTranscript
) -> str:
    """`review.md`: the meta-LLM's rationale, then what the session did."""
    lines = [
        f"# Review for iteration {iteration:03d} (parent: iteration {incumbent:03d})",
        "",
        "## Rationale",
        "",
        outcome.rationale or "(the reviewer did not call finish with a rationale)",
        "",
        "## Session",
        "",
        (
            f"- reviewer: {transcript.model}"
            if transcript.model == RULES_NAME
            else f"- meta-LLM: {transcript.model} (headless CLI)"
            if transcript.mode == "cli"
            else f"- meta-LLM: {transcript.model} ({transcript.mode} tool use)"
        ),
        f"- ended: {transcript.end_reason}"
        + (f" ({transcript.error})" if transcript.error else ""),
        f"- turns: {len(transcript.turns)}; tokens: {transcript.input_tokens} in, "
        f"{transcript.output_tokens} out",
        f"- files changed: {', '.join(outcome.changed_files) or 'none'} ([diff](scaffold.diff))",
        f"- repairs: {outcome.repairs}",
        f"- outcome: {'sent to the gate' if outcome.ok else 'rejected'}: {outcome.reason}",
    ]
    if outcome.validation is not None:
        lines.append(f"- validation: {outcome.validation.headline()}")
    calls = [
        f"  - turn {t.index}: {c.name}({json.dumps(c.input)[:120]}){' ERROR' if c.is_error else ''}"
        for t in transcript.turns
        for c in t.calls
    ]
    if calls:
        lines += ["", "## Tool calls", "", *calls[:200]]
    return "\n".join(lines) + "\n"
