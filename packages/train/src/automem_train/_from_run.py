"""Loop 1's output as Loop 2's input: the incumbent scaffold of a Loop 1 run directory and every
episode that run evaluates on, so Loop 2 collects its pool elsewhere.

Read through `automem_scaffold`'s public names (`load_config`, `seed_pools`, `read_decisions`,
`lineage`) and the run's documented layout (`iterations/NNN/scaffold/`, `*/eval/<env>/<seed>.jsonl`).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
from automem_agent import content_hash

EvalKey = tuple[str, int]


class Loop2Error(RuntimeError):
    """A Loop 2 run that cannot start or continue; the message is one line for the user."""


class Loop1Source(msgspec.Struct, frozen=True, kw_only=True):
    """What Loop 2 takes from a Loop 1 run: the incumbent (its iteration, scaffold directory and
    content hash), the run's protocol, suite, envs, step limits (one N or per family), text,
    actions, no-progress timeout and agent, and every (env_id, seed) in any of its seed pools
    (search, accept, report) or played anywhere in it."""

    run_dir: str
    incumbent: int
    scaffold_dir: str
    scaffold_hash: str
    mean_progression: float | None
    suite: str
    envs: list[str]
    max_steps: int | dict[str, int]
    agent_llm: str
    evaluation: list[EvalKey]
    # Defaults: what a source.json written before these were recorded meant.
    protocol: str = ""
    no_progress_steps: dict[str, int] = {}
    observation_format: str = "compact"
    action_set: str = "automem"

    def describe(self) -> str:
        mean = "-" if self.mean_progression is None else f"{self.mean_progression:.3f}"
        return (
            f"Loop 1 run {self.run_dir}: incumbent iteration {self.incumbent} (scaffold "
            f"{self.scaffold_hash[:12]}, mean progression {mean}); {len(self.evaluation)} "
            "evaluation episodes excluded from the pool"
        )


def played_episodes(run_dir: Path) -> set[EvalKey]:
    """(env_id, seed) of every trace under any `eval/` directory of the run (search, accept,
    screen, held-out and report evaluations alike), from the file layout alone."""
    keys: set[EvalKey] = set()
    for path in run_dir.rglob("*.jsonl"):
        parts = path.relative_to(run_dir).parts
        if "eval" not in parts[:-1] or not path.stem.lstrip("-").isdigit():
            continue
        at = len(parts) - 1 - parts[::-1].index("eval")
        env = "/".join(parts[at + 1 : -1])
        if env:
            keys.add((env, int(path.stem)))
    return keys


def loop1_source(run_dir: str | Path) -> Loop1Source:
    """Reads a Loop 1 run directory. Raises `Loop2Error` (one line) when it is not one, or when
    no iteration has been decided yet (there is no incumbent to train for)."""
    from automem_scaffold import EvolveError, lineage, load_config, read_decisions, seed_pools

    run = Path(run_dir)
    config_path = run / "config.toml"
    if not config_path.is_file():
        raise Loop2Error(f"--from-run {run}: no config.toml there; is it a Loop 1 run directory?")
    try:
        config = load_config(config_path)
        pools = seed_pools(config)
    except (msgspec.ValidationError, ValueError, EvolveError) as exc:
        raise Loop2Error(f"--from-run {run}: {config_path} is unreadable ({exc})") from None
    decisions = read_decisions(run)
    if not decisions:
        raise Loop2Error(
            f"--from-run {run}: no iteration is decided yet (iterations/000/decision.json is "
            "missing); let apps/evolve evaluate the start scaffold first"
        )
    incumbent = lineage(decisions)[-1].incumbent_after
    scaffold_dir = run / "iterations" / f"{incumbent:03d}" / "scaffold"
    if not (scaffold_dir / "scaffold.toml").is_file():
        raise Loop2Error(f"--from-run {run}: the incumbent's scaffold {scaffold_dir} is missing")
    keys = {(e.env_id, e.seed) for e in [*pools.search, *pools.accept, *pools.report]}
    keys |= played_episodes(run)
    return Loop1Source(
        run_dir=str(run),
        incumbent=incumbent,
        scaffold_dir=str(scaffold_dir),
        scaffold_hash=content_hash(scaffold_dir),
        mean_progression=decisions[incumbent].mean_progression,
        suite=config.suite,
        envs=list(config.envs),
        max_steps=config.max_steps,
        agent_llm=config.agent_llm,
        evaluation=sorted(keys),
        protocol=config.protocol,
        no_progress_steps=dict(config.no_progress_steps),
        observation_format=config.observation_format,
        action_set=config.action_set,
    )
