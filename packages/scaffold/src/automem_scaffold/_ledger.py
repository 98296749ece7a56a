"""The cost ledger: meta-LLM and agent tokens per iteration and phase, in dollars where the
model's price is known. Rebuilt from the run directory, so it is right after any resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import read_jsonl

from automem_scaffold._prices import cost_of


class LedgerEntry(msgspec.Struct, frozen=True, kw_only=True):
    iteration: int | None  # None for the held-out evaluation
    phase: str  # "review" (meta-LLM) or "evaluate"/"gate"/"heldout" (agent)
    purpose: str  # "meta" or the agent role ("memory", "action")
    model: str
    input_tokens: int
    output_tokens: int
    dollars: float | None
    cache_read_tokens: int = 0  # of input_tokens: read from the provider's prompt cache
    cache_write_tokens: int = 0  # of input_tokens: written to it


class Ledger(msgspec.Struct, frozen=True, kw_only=True):
    """`costs.json`. Totals in dollars count only priced models; `unpriced_tokens` the rest."""

    entries: list[LedgerEntry]
    meta_tokens: int
    agent_tokens: int
    dollars: float
    unpriced_tokens: int
    # estimated agent calls and tokens the screen saved by rejecting candidates early
    screen_saved_calls: int = 0
    screen_saved_tokens: int = 0


def _session_entries(iteration: int, review_dir: Path) -> list[LedgerEntry]:
    """Meta tokens from every session log of an iteration, interrupted ones included."""
    out = []
    model = ""
    transcript = review_dir / "transcript.json"
    if transcript.exists():
        model = json.loads(transcript.read_text(encoding="utf-8")).get("model", "")
    for path in sorted(review_dir.glob("*.jsonl")):
        tin = tout = cread = cwrite = 0
        reported: list[float] = []  # what the provider billed, where it said (an agent CLI)
        # a line torn by a kill is skipped
        turns: list[dict[str, Any]] = read_jsonl(path).records
        for turn in turns:
            tin += int(turn.get("input_tokens", 0))
            tout += int(turn.get("output_tokens", 0))
            cread += int(turn.get("cache_read_tokens", 0))
            cwrite += int(turn.get("cache_write_tokens", 0))
            if turn.get("dollars") is not None:
                reported.append(float(turn["dollars"]))
        meta_model = model or _meta_model_hint(review_dir)
        out.append(
            LedgerEntry(
                iteration=iteration,
                phase="review",
                purpose="meta",
                model=meta_model,
                input_tokens=tin,
                output_tokens=tout,
                cache_read_tokens=cread,
                cache_write_tokens=cwrite,
                dollars=sum(reported)
                if reported
                else cost_of(
                    meta_model, tin, tout, cache_read_tokens=cread, cache_write_tokens=cwrite
                ),
            )
        )
    return out


def _meta_model_hint(review_dir: Path) -> str:
    hint = review_dir / "model.txt"
    return hint.read_text(encoding="utf-8").strip() if hint.exists() else ""


def _agent_entries(iteration: int | None, phase: str, eval_root: Path) -> list[LedgerEntry]:
    record = eval_root / "evaluation.json"
    if not record.exists():
        return []
    data = json.loads(record.read_text(encoding="utf-8"))
    out = []
    for role, usage in sorted(data.get("tokens", {}).items()):
        model = data.get("models", {}).get(role, "")
        tin, tout = int(usage.get("input", 0)), int(usage.get("output", 0))
        out.append(
            LedgerEntry(
                iteration=iteration,
                phase=phase,
                purpose=role,
                model=model,
                input_tokens=tin,
                output_tokens=tout,
                dollars=cost_of(model, tin, tout),
            )
        )
    return out


def build_ledger(run_dir: Path) -> Ledger:
    """Scans `run_dir` for session logs and evaluation records."""
    entries: list[LedgerEntry] = []
    for it_dir in sorted((run_dir / "iterations").glob("[0-9][0-9][0-9]")):
        number = int(it_dir.name)
        # every attempt: the one at the top and the rejected ones archived under attempts/
        for root in [it_dir, *sorted((it_dir / "attempts").glob("[0-9][0-9]"))]:
            if (root / "review").is_dir():
                entries += _session_entries(number, root / "review")
            entries += _agent_entries(number, "evaluate" if number == 0 else "gate", root)
            entries += _agent_entries(number, "screen", root / "screen")
            entries += _agent_entries(number, "accept", root / "accept")
    entries += _agent_entries(None, "heldout", run_dir / "heldout")
    entries += _agent_entries(None, "report-start", run_dir / "report_start")
    meta = sum(e.input_tokens + e.output_tokens for e in entries if e.purpose == "meta")
    agent = sum(e.input_tokens + e.output_tokens for e in entries if e.purpose != "meta")
    dollars = sum(e.dollars for e in entries if e.dollars is not None)
    unpriced = sum(e.input_tokens + e.output_tokens for e in entries if e.dollars is None)
    from automem_scaffold._screen import screen_savings

    saved = screen_savings(run_dir, tokens_per_s=1.0)
    return Ledger(
        entries=entries,
        screen_saved_calls=saved.saved_calls,
        screen_saved_tokens=saved.saved_tokens,
        meta_tokens=meta,
        agent_tokens=agent,
        dollars=dollars,
        unpriced_tokens=unpriced,
    )
