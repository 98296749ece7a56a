"""The review bundle: the evidence a reviewer reads, read-only, served by the shared review
toolset of `automem_agent.meta` (index, step views, prompts as sent, grep, sandboxed Python).

bundle/summary.md                  per-seed table, how each episode ended, stuck spans, how to look
bundle/raw/<episode>.jsonl         each trace as recorded: every prompt as sent, every reply, the
                                   hooks' outputs (what the agent really saw); a turn omits the
                                   `shared` leading messages of the turn before it
bundle/traces/<episode>.txt        the trace as text, one `=== step N` block per step
bundle/traces/<episode>.index.json its `EpisodeIndex` (endings, spans, counts, step offsets)
bundle/memory/<env>/<seed>/        the final memory directory of each episode
bundle/scaffold/                   the incumbent scaffold's files (read-only reference)

The bundle is built once from an evaluation (`build_bundle`) and never written afterwards:
`bundle_library` reads the prepared indexes back.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterable
from pathlib import Path

import msgspec
from automem_agent.meta import STUCK_MIN_STEPS, EpisodeIndex, TraceLibrary
from automem_agent.trace import TraceHeader
from automem_envs import env_family

RAW_DIR = "raw"
TEXT_DIR = "traces"


def episode_key(env_id: str, seed: int) -> str:
    """The bundle's name for an episode, e.g. `crafter__42`, `minihack-Corridor-R3__7`."""
    return f"{env_id.replace('/', '-')}__{seed}"


def _reply_limits(scaffold_dir: Path) -> dict[str, int]:
    """The scaffold's max reply tokens per phase, so the index can flag cut replies."""
    try:
        manifest = tomllib.loads((scaffold_dir / "scaffold.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    return {
        phase: int(manifest[phase]["max_tokens"])
        for phase in ("log", "plan")
        if isinstance(manifest.get(phase), dict) and "max_tokens" in manifest[phase]
    }


def bundle_library(bundle_dir: Path) -> TraceLibrary:
    """The bundle's traces as a `TraceLibrary` (empty for a bundle without raw traces)."""
    raw = Path(bundle_dir) / RAW_DIR
    traces = {p.stem: p for p in sorted(raw.glob("*.jsonl"))} if raw.is_dir() else {}
    return TraceLibrary(
        traces,
        Path(bundle_dir) / TEXT_DIR,
        reply_limits=_reply_limits(Path(bundle_dir) / "scaffold"),
    )


def read_header(path: Path) -> TraceHeader | None:
    """A trace file's header line, decoded (None when the first line is not a header)."""
    with path.open("rb") as f:
        first = f.readline()
    try:
        return msgspec.json.decode(first, type=TraceHeader)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def render_summary(indexes: Iterable[EpisodeIndex], *, title: str) -> str:
    """`summary.md`: a per-seed table, per-env means, the stuck spans and where to look next."""
    indexes = sorted(indexes, key=lambda i: (i.env_id, i.seed))
    lines = [
        f"# {title}",
        "",
        "| episode | steps | ended | progression | achievements | invalid | write/search "
        "| memory growth/step | final memory B | longest w/o gain |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i in indexes:
        final = i.memory_samples[-1][1] if i.memory_samples else 0
        lines.append(
            f"| {i.name} | {i.steps} | {i.ended} | {i.progression:.3f} "
            f"| {', '.join(i.achievements) or '-'} | {len(i.invalid_steps)} "
            f"| {_fmt(i.write_to_search)} | {i.memory_growth_per_step:.1f} | {final} "
            f"| {i.longest_without_gain} |"
        )
    families: dict[str, list[float]] = {}
    for i in indexes:
        families.setdefault(env_family(i.env_id), []).append(i.progression)
    lines += ["", "## Mean progression per env family", ""]
    for fam, values in sorted(families.items()):
        lines.append(f"- {fam}: {100 * sum(values) / len(values):.1f}% over {len(values)} episodes")
    lines += ["", f"## Stuck spans (observation unchanged for >= {STUCK_MIN_STEPS} steps)", ""]
    stuck = [i for i in indexes if i.stuck_spans]
    for i in stuck:
        spans = ", ".join(f"{a}-{b} ({b - a + 1})" for a, b in i.stuck_spans[:20])
        more = f", ... {len(i.stuck_spans) - 20} more" if len(i.stuck_spans) > 20 else ""
        lines.append(f"- {i.name}: {spans}{more}")
    if not stuck:
        lines.append("- none")
    lines += [
        "",
        "## Where to look",
        "",
        "- `index` (one episode or all): endings, progression changes, stuck spans, invalid",
        "  actions, errors, memory ops and growth, duplicate lines in the final memory files.",
        "- `view` episode start..end: the steps as text; `prompts` episode step: the messages",
        "  the agent's models received, verbatim, with the hooks' output in them.",
        "- `grep` with context over `bundle/traces/` (one `=== step N` block per step;",
        "  `INVALID`, `ERROR`, `FALLBACK`, `REJECTED`, `cut at max_tokens`).",
        "- `python`: analysis code over `bundle/raw/*.jsonl` with the trace reader",
        "  (`read_trace` gives each turn its whole prompt; a raw line omits the `shared`",
        "  leading messages of the turn before it).",
        "- `dry_run` episode start..end: what candidate/'s code would do at recorded steps.",
        "- Final memories: `bundle/memory/`; the incumbent scaffold: `bundle/scaffold/`.",
    ]
    return "\n".join(lines) + "\n"


def build_bundle(
    eval_root: Path, scaffold_dir: Path, bundle_dir: Path, *, title: str
) -> list[EpisodeIndex]:
    """Writes the bundle for the evaluation under `eval_root` (holding `eval/` and `memory/`)
    and returns each episode's index. Overwrites `bundle_dir`. Every trace is read once,
    streaming; later tool calls read only the bytes they show."""
    if bundle_dir.exists():
        shutil.rmtree(bundle_dir)
    (bundle_dir / RAW_DIR).mkdir(parents=True)
    (bundle_dir / TEXT_DIR).mkdir()
    eval_dir = eval_root / "eval"
    for path in sorted(eval_dir.rglob("*.jsonl")) if eval_dir.exists() else []:
        header = read_header(path)
        if header is None:
            continue  # not a trace (or torn before its header): nothing to review
        shutil.copyfile(
            path, bundle_dir / RAW_DIR / f"{episode_key(header.env_id, header.seed)}.jsonl"
        )
    shutil.copytree(
        scaffold_dir, bundle_dir / "scaffold", ignore=shutil.ignore_patterns("__pycache__")
    )
    if (eval_root / "memory").exists():
        shutil.copytree(eval_root / "memory", bundle_dir / "memory")
    else:
        (bundle_dir / "memory").mkdir()
    indexes = bundle_library(bundle_dir).prepare()
    # Written last: a bundle with its summary is complete (the loop rebuilds one without).
    (bundle_dir / "summary.md").write_text(render_summary(indexes, title=title), encoding="utf-8")
    return indexes
