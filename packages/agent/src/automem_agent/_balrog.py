"""A suite result in BALROG's own output shape, so BALROG's tooling and leaderboard read it.

`run_suite` writes `balrog_summary.json` beside `results.json` (the keys of BALROG's
`summary.json`), and a `balrog/` folder laid out like BALROG's output directory: one episode
log per episode (`<env>/<task>/<task>_run_NN.json`), one `<env>/<env>_summary.json` per env and
`summary.json`. BALROG names NetHack `nle`, Crafter's only task `default` and the others by
their gym ids. Errored episodes are left out, as BALROG leaves out episodes that raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from automem_envs import env_family

from automem_agent._files import write_json_atomic
from automem_agent._summary import EpisodeResult, SuiteResult, mean_and_stderr
from automem_agent._trace_records import TraceHeader

BALROG_ENV_NAMES = {"crafter": "crafter", "minihack": "minihack", "nethack": "nle"}


def balrog_env_name(env_id: str) -> str:
    """BALROG's environment name for an env id: `crafter`, `minihack` or `nle`."""
    return BALROG_ENV_NAMES[env_family(env_id)]


def balrog_task(env_id: str) -> str:
    """BALROG's task name: `default` (Crafter), `MiniHack-<Task>-v0`, `NetHackChallenge-v0`."""
    family = env_family(env_id)
    if family == "crafter":
        return "default"
    if family == "nethack":
        return "NetHackChallenge-v0"
    return f"MiniHack-{env_id.split('/', 1)[1]}-v0"


def _tokens(result: EpisodeResult) -> tuple[int, int]:
    tokens = result.summary.tokens.values()
    return sum(t.get("input", 0) for t in tokens), sum(t.get("output", 0) for t in tokens)


def _client_and_agent(header: TraceHeader | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if header is None:
        return {}, {}
    spec = header.models.get("action") or next(iter(header.models.values()), "")
    name, _, model = spec.partition(":")
    client = {"client_name": name, "model_id": model or name, "models": dict(header.models)}
    if header.adapters:
        client["adapters"] = dict(header.adapters)
    agent = {
        "type": header.agent,
        "scaffold": header.scaffold_name,
        "scaffold_hash": header.scaffold_hash,
    }
    return client, agent


def episode_log(
    result: EpisodeResult, header: TraceHeader | None = None, *, index: int = 0
) -> dict[str, Any]:
    """One episode as BALROG's episode log (the keys its summariser reads, and its stats)."""
    stats = result.summary.stats
    input_tokens, output_tokens = _tokens(result)
    client, agent = _client_and_agent(header)
    log: dict[str, Any] = {
        "task": balrog_task(result.env_id),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "episode_return": stats.total_reward,
        "num_steps": stats.steps,
        "failed_candidates_count": stats.invalid_actions,
        "progression": stats.progression,
        "end_reason": stats.end_reason,
        "seed": result.seed,
        "episode_idx": index,
        "agent": agent,
        "client": client,
    }
    if stats.end_reason == "done":
        log["done"] = True
    family = env_family(result.env_id)
    if family == "crafter":
        log["score"] = len(stats.achievements)
        log["achievements"] = {name: 1 for name in stats.achievements}
    elif family == "nethack":
        log["depth"] = stats.depth
        log["experience_level"] = stats.experience_level
    return log


def _group(logs: list[dict[str, Any]]) -> dict[str, Any]:
    mean, stderr = mean_and_stderr([log["progression"] for log in logs])
    return {"progression_percentage": 100 * mean, "standard_error": 100 * stderr}


def balrog_summaries(
    result: SuiteResult, headers: dict[str, TraceHeader] | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """(summary.json, env name -> <env>_summary.json, env name -> episode logs), as BALROG's."""
    headers = headers or {}
    logs: dict[str, list[dict[str, Any]]] = {}
    client: dict[str, Any] | None = None
    agent: dict[str, Any] | None = None
    for e in result.episodes:
        if e.status == "errored":
            continue
        header = headers.get(e.trace)
        entries = logs.setdefault(balrog_env_name(e.env_id), [])
        same_task = sum(x["task"] == balrog_task(e.env_id) for x in entries)
        log = episode_log(e, header, index=same_task)
        if client is None and header is not None:
            client, agent = log["client"], log["agent"]
        entries.append(log)
    env_summaries: dict[str, dict[str, Any]] = {}
    for env, entries in logs.items():
        tasks: dict[str, list[dict[str, Any]]] = {}
        for log in entries:
            tasks.setdefault(log["task"], []).append(log)
        env_summaries[env] = {
            **_group(entries),
            "average_steps": sum(log["num_steps"] for log in entries) / len(entries),
            "episodes_played": len(entries),
            "tasks": {
                task: {**_group(runs), "episodes_played": len(runs)} for task, runs in tasks.items()
            },
            "input_tokens": sum(log["input_tokens"] for log in entries),
            "output_tokens": sum(log["output_tokens"] for log in entries),
        }
    n = len(env_summaries)
    errors = [s["standard_error"] for s in env_summaries.values()]
    summary = {
        "average_progress": sum(s["progression_percentage"] for s in env_summaries.values()) / n
        if n
        else 0.0,
        "standard_error": sum(x * x for x in errors) ** 0.5 / n if n else 0.0,
        "environments": {
            env: {
                "progression_percentage": s["progression_percentage"],
                "standard_error": s["standard_error"],
                "episodes_played": s["episodes_played"],
            }
            for env, s in env_summaries.items()
        },
        "total_input_tokens": sum(s["input_tokens"] for s in env_summaries.values()),
        "total_output_tokens": sum(s["output_tokens"] for s in env_summaries.values()),
        "client": client,
        "agent": agent,
    }
    return summary, env_summaries, logs


def _read_header(path: Path) -> TraceHeader | None:
    try:
        with path.open("rb") as f:
            first = f.readline()
        return msgspec.json.decode(first, type=TraceHeader)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def write_balrog_summary(out_dir: str | Path, result: SuiteResult) -> dict[str, Any]:
    """Write `balrog_summary.json` and the `balrog/` folder under `out_dir`; return the summary."""
    out = Path(out_dir)
    headers = {e.trace: h for e in result.episodes if (h := _read_header(out / e.trace))}
    summary, env_summaries, logs = balrog_summaries(result, headers)
    root = out / "balrog"
    for env, entries in logs.items():
        for log in entries:
            task = log["task"]
            write_json_atomic(root / env / task / f"{task}_run_{log['episode_idx']:02d}.json", log)
        write_json_atomic(root / env / f"{env}_summary.json", env_summaries[env])
    write_json_atomic(root / "summary.json", summary)
    write_json_atomic(out / "balrog_summary.json", summary)
    return summary
