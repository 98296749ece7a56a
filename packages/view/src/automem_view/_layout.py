"""What a run directory holds, read in place and tolerantly: episodes, iterations, lineage,
Loop 2 trials, costs and plots.

Any directory works: a Loop 1 run (`iterations/NNN/...`), a Loop 2 run (`trials.jsonl`), or a
plain `apps/play` output. A trace is any `<section>/eval/<env>/<seed>.jsonl` (or `partial/`, for
episodes that were cut off and replayed). Files that are missing or from an older version leave
a notice instead of an error.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import JsonlError, JsonlFile, read_jsonl, torn_notice

# Directories that never hold traces or plots; skipping them keeps the walk of a big run short.
_PRUNE = frozenset(
    {"memory", "scaffold", "bundle", "candidate", "review", "adapter", "__pycache__", ".git"}
)
_SEED = re.compile(r"^-?\d+\.jsonl$")
_TAIL_BYTES = 1 << 16


class EpisodeRef(msgspec.Struct, frozen=True, kw_only=True):
    """One trace file. `id` is its path relative to the run directory (used in URLs)."""

    id: str
    section: str  # "iterations/001", "heldout", "pool", "" for a plain play run
    env: str
    seed: int
    partial: bool

    def memory_dir(self, run: Path) -> Path:
        """The episode's final memory directory, written next to the traces by the runner."""
        return run / self.section / "memory" / self.env / str(self.seed)


def scan(run: Path) -> tuple[list[EpisodeRef], list[str]]:
    """Every trace and every plot (`.png`) under `run`, as run-relative paths."""
    episodes: list[EpisodeRef] = []
    plots: list[str] = []
    for root, dirs, files in os.walk(run):
        dirs[:] = sorted(d for d in dirs if d not in _PRUNE)
        rel_root = Path(root).relative_to(run)
        for name in sorted(files):
            rel = (rel_root / name).as_posix()
            if name.endswith(".png"):
                plots.append(rel)
            elif _SEED.match(name):
                ref = episode_ref(rel)
                if ref is not None:
                    episodes.append(ref)
    episodes.sort(key=lambda e: (_section_order(e.section), e.partial, e.env, e.seed))
    return episodes, plots


def episode_ref(rel: str) -> EpisodeRef | None:
    parts = rel.split("/")
    marks = [i for i, p in enumerate(parts[:-1]) if p in ("eval", "partial")]
    if not marks or marks[-1] >= len(parts) - 2:
        return None
    i = marks[-1]
    return EpisodeRef(
        id=rel,
        section="/".join(parts[:i]),
        env="/".join(parts[i + 1 : -1]),
        seed=int(parts[-1].removesuffix(".jsonl")),
        partial=parts[i] == "partial",
    )


def _section_order(section: str) -> tuple[int, str]:
    if section.startswith("iterations/"):
        return (0, section)
    return (1 if section == "heldout" else 2, section)


def read_json(path: Path, notices: list[str], run: Path) -> Any:
    """A JSON file's content, or None with a notice when it is unreadable (absent is silent)."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        notices.append(f"{path.relative_to(run)} could not be read ({exc})")
        return None


def read_records(path: Path, notices: list[str], run: Path) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file by the one JSONL rule (`automem_agent.read_jsonl`): a
    torn last line is skipped with a notice; a damaged file leaves a notice and what came before
    it is not shown (the viewer reports, it never fails a page)."""
    try:
        got: JsonlFile[Any] = read_jsonl(path, missing_ok=True)
    except JsonlError as exc:
        notices.append(f"{path.relative_to(run)} could not be read ({exc}); it is skipped")
        return []
    if got.torn:
        notices.append(torn_notice(path.relative_to(run), got.torn_bytes))
    return [r for r in got.records if isinstance(r, dict)]


def tail_status(path: Path) -> dict[str, Any]:
    """What the run page shows per episode, from the file's tail only (no full read)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError as exc:
        return {"status": "unreadable", "error": str(exc), "bytes": 0}
    info: dict[str, Any] = {"bytes": size, "torn": bool(tail) and not tail.endswith(b"\n")}
    lines = tail.rstrip(b"\n").split(b"\n")
    record = _loads(lines[-1]) if lines else None
    if info["torn"] and len(lines) > 1:
        record = _loads(lines[-2])
    if isinstance(record, dict) and record.get("type") == "summary":
        stats = record.get("stats")
        if not isinstance(stats, dict):
            stats = {}
        info.update(
            status=record.get("status", "finished"),
            steps=record.get("steps", stats.get("steps")),
            progression=stats.get("progression"),
            end_reason=stats.get("end_reason") or record.get("end_reason"),
            error=record.get("error"),
        )
    else:
        last = record.get("step") if isinstance(record, dict) else None
        info.update(status="running or cut off", steps=None if last is None else last + 1)
        if isinstance(record, dict):
            info["progression"] = record.get("progression")
    return info


def _loads(line: bytes) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def iterations(run: Path, notices: list[str]) -> list[dict[str, Any]]:
    """One row per `iterations/NNN`: its decision, gate, tokens and cost, tolerant of gaps."""
    root = run / "iterations"
    if not root.is_dir():
        return []
    summary = read_json(run / "summary.json", notices, run) or {}
    summary_rows = {r.get("iteration"): r for r in summary.get("rows", []) if isinstance(r, dict)}
    costs = read_json(run / "costs.json", notices, run) or {}
    dollars: dict[Any, float] = {}  # by the iteration costs.json names (an int when well formed)
    for entry in costs.get("entries", []):
        if isinstance(entry, dict) and entry.get("dollars") is not None:
            it = entry.get("iteration")
            dollars[it] = dollars.get(it, 0.0) + float(entry["dollars"])
    rows = []
    for path in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        number = int(path.name)
        decision = read_json(path / "decision.json", notices, run)
        evaluation = read_json(path / "evaluation.json", notices, run) or {}
        extra = summary_rows.get(number, {})
        row: dict[str, Any] = {"iteration": number, "dir": f"iterations/{path.name}"}
        if isinstance(decision, dict):
            missing = [k for k in ("kept", "stage", "reason") if k not in decision]
            if missing:
                notices.append(
                    f"iterations/{path.name}/decision.json is from an older version "
                    f"(no {', '.join(missing)})"
                )
            row.update(decision)
            row["status"] = "decided"
        else:
            row["status"] = "in progress"
        row.setdefault("per_env", evaluation.get("per_env", {}))
        row.setdefault("mean_progression", evaluation.get("mean"))
        tokens = evaluation.get("tokens", {})
        agent = sum(int(u.get("input", 0)) + int(u.get("output", 0)) for u in tokens.values())
        row["agent_tokens"] = extra.get("agent_tokens", agent)
        row["meta_tokens"] = extra.get("meta_tokens", 0)
        row["timings"] = extra.get("timings") or read_json(path / "timings.json", notices, run)
        row["dollars"] = dollars.get(number)
        row["links"] = [
            f"iterations/{path.name}/{name}"
            for name in ("review.md", "scaffold.diff", "decision.json")
            if (path / name).exists()
        ]
        rows.append(row)
    return rows


def lineage(run: Path, rows: list[dict[str, Any]], notices: list[str]) -> list[dict[str, Any]]:
    """`lineage.json` when present, else rebuilt from the decisions (parent links)."""
    written = read_json(run / "lineage.json", notices, run)
    if isinstance(written, list):
        return [e for e in written if isinstance(e, dict)]
    out, incumbent = [], 0
    for row in rows:
        if row.get("kept"):
            incumbent = row["iteration"]
        out.append(
            {
                "iteration": row["iteration"],
                "parent": row.get("parent"),
                "kept": row.get("kept"),
                "stage": row.get("stage", row["status"]),
                "mean_progression": row.get("mean_progression"),
                "incumbent_after": incumbent,
            }
        )
    return out


def run_files(run: Path) -> list[str]:
    """Top-level records worth a link (report, config, log, ledgers)."""
    names = (
        "report.md",
        "config.toml",
        "config.json",
        "summary.json",
        "costs.json",
        "best.json",
        "evolve.log",
        "train.log",
    )
    return [name for name in names if (run / name).is_file()]
