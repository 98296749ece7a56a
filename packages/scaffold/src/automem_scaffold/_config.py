"""Typed configuration of a Loop 1 run, saved as `config.toml` and checked again on resume."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import tomli_w
from automem_agent import write_text_atomic

from automem_scaffold._gate import GateRule

DEMO_MODELS = frozenset({"smollm2", "tiny"})
# Offline specs: results show the loop works at small scale, not what a real model reaches.
OFFLINE_SPECS = frozenset({*DEMO_MODELS, "llamacpp", "rules"})


class EvolveError(RuntimeError):
    """A run that cannot start or continue (bad arguments, a run directory made differently)."""


_COUNTS = (
    "held_out",
    "iterations",
    "attempts",
    "continuations",
    "screen_seeds",
    "screen_max_steps",
    "accept_seeds",
    "attribution_replays",
    "attribution_horizon",
)


class EvolveConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Everything that decides a Loop 1 run. `apps/evolve` fills it from a protocol
    (`--protocol`, see `automem_agent.load_protocol`) and its flags; the field defaults here are
    a small offline setting for library users and tests.

    `seeds` and `max_steps` are one number for every game family or a per-family table
    (`{"crafter": 2000, "nethack": 100000}`); `max_steps` counts raw game steps."""

    run_dir: str
    protocol: str = "demo"  # the protocol the run was built from (recorded; flags may override)
    suite: str = "automem"
    envs: list[str] = msgspec.field(default_factory=lambda: ["crafter"])
    # the gate seeds per env: the suite's first N (one N, or per family), or an explicit list
    seeds: int | dict[str, int] | list[int] = 2
    held_out: int = 1  # held-out seeds: the N seeds after the fixed ones
    max_steps: int | dict[str, int] = 2
    # BALROG's no-progress timeout per family (raw steps without the game clock moving)
    no_progress_steps: dict[str, int] = msgspec.field(default_factory=lambda: {"nethack": 150})
    observation_format: str = "compact"  # compact | balrog (BALROG's own text)
    action_set: str = "automem"  # automem | balrog (BALROG's action names only)
    iterations: int = 2
    agent_llm: str = "smollm2"
    meta_llm: str = "smollm2"
    from_scaffold: str = "v0"  # a built-in scaffold name or a directory
    # the agent's sampling, written into the start scaffold's copy (None = as shipped): rounds
    # per phase, tokens per reply (both phases), temperature
    start_max_rounds: int | None = None
    start_max_tokens: int | None = None
    start_temperature: float | None = None
    gate: GateRule = "mean"
    ci_level: float = 0.9
    bootstrap: int = 2000
    concurrency: int = 2
    # review session
    review_turns: int = 2
    review_tokens: int = 60_000  # input + output tokens per review session
    review_wall_s: float = 900.0
    meta_max_tokens: int = 96  # per meta-LLM reply
    repair_attempts: int = 2
    # attempts per iteration (the reference's 3 fresh + 1 continuation): a candidate rejected
    # at review, validation, the screen or the gate is followed by the next attempt; the
    # continuation resumes a failed attempt's session with its error or per-seed gate result.
    # After `structural_after` rejections in a row the task asks for a structural change.
    attempts: int = 3
    continuations: int = 1
    structural_after: int = 3
    # validation sandbox
    validate_wall_s: float = 120.0
    validate_memory_mb: int = 3072
    smoke_steps: int = 3
    # evaluations run hooks in a worker process: a call is cut after hook_timeout_s, and the
    # worker's address space is capped at hook_memory_mb (a hang or a hoard costs one call)
    hook_timeout_s: float = 5.0
    hook_memory_mb: int = 1024
    # LLM-written code (hooks, validation) runs in bubblewrap; True runs it unconfined where
    # bwrap cannot run, with a warning in evolve.log and in the report
    unsafe_no_sandbox: bool = False
    # gating (issue 15). A screen first plays `screen_seeds` seeds per env (cut to
    # `screen_max_steps`); a candidate whose screen mean is below the incumbent's by more than
    # `screen_margin` is rejected there. 0 seeds = no screen: the paper's rule (full evaluation,
    # strict > on the mean). `accept_seeds` > 0 gives three disjoint pools per env: search (the
    # first `seeds`, which the reviewer reads), accept (the next `accept_seeds`, which the gate
    # decides on) and report (the next `held_out`, played by the start and the final scaffold).
    screen_seeds: int = 0
    screen_max_steps: int | None = None
    screen_margin: float = 0.0
    accept_seeds: int = 0
    pareto: bool = True  # offer the review the Pareto archive's scaffolds (bundle/pareto/)
    # write attribution in review: the meta-LLM's `attribute` tool replays a reviewed episode
    # without chosen writes, at most `attribution_replays` replays per review session of
    # `attribution_horizon` live steps each (0 = no tool). Replays cost agent calls; the plan
    # counts them and the tool refuses once the session's share is spent.
    attribution_replays: int = 0
    attribution_horizon: int = 20
    gpu_tokens_per_s: float = 2500.0  # agent tokens one GPU serves per second (estimates only)
    # run budgets (None = unlimited)
    max_meta_tokens: int | None = None
    max_cost: float | None = None
    max_hours: float | None = None
    # what the command line changed in the protocol (recorded; shown on the first output line)
    overrides: list[str] = []

    def __post_init__(self) -> None:
        # counts from flags and protocol files: a negative one is a typo, never "off"
        for name in _COUNTS:
            value = getattr(self, name)
            if value is not None and value < 0:
                raise EvolveError(f"{name} must be 0 or more, got {value}")

    @property
    def demo_agent(self) -> bool:
        """True when the agent is a CPU toy model (SmolLM2, tiny)."""
        return self.agent_llm.split(":")[0] in DEMO_MODELS

    @property
    def demo_scale(self) -> bool:
        """True when the models are the offline toy ones: results show the loop works, not more."""
        return any(spec.split(":")[0] in OFFLINE_SPECS for spec in (self.agent_llm, self.meta_llm))

    @property
    def scale_line(self) -> str:
        """The run's protocol, scale and overrides in one line: the first output line of
        `apps/evolve` and the top of report.md."""
        scale = "DEMO scale (small caps)" if self.demo_scale else "full scale"
        reviewer = (
            "reviewer rules (a rule-based baseline, not a meta-LLM)"
            if self.rule_reviewer
            else f"meta-LLM {self.meta_llm}"
        )
        from automem_scaffold._suite import per_env

        def seeds(env: str) -> str:
            if isinstance(self.seeds, list):
                return f"seeds {','.join(map(str, self.seeds))}"
            return f"{per_env(self.seeds, env)} seeds"

        episodes = ", ".join(
            f"{env} {seeds(env)} x {per_env(self.max_steps, env)} steps" for env in self.envs
        )
        line = (
            f"protocol {self.protocol} [{scale}]: {episodes}; {self.observation_format} text, "
            f"{self.action_set} actions; agent {self.agent_llm}; {reviewer}; "
            f"{self.iterations} iteration(s)"
        )
        return line + ("; OVERRIDDEN: " + "; ".join(self.overrides) if self.overrides else "")

    @property
    def rule_reviewer(self) -> bool:
        """True when the reviewer is the rule-based baseline, not a meta-LLM."""
        return self.meta_llm == "rules"


# Fields that decide what the stored evaluations mean; a resumed run must agree on them.
IDENTITY_FIELDS = (
    "suite",
    "envs",
    "seeds",
    "held_out",
    "max_steps",
    "no_progress_steps",
    "observation_format",
    "action_set",
    "agent_llm",
    "from_scaffold",
    "start_max_rounds",
    "start_max_tokens",
    "start_temperature",
    "screen_seeds",
    "screen_max_steps",
    "accept_seeds",
)


def config_toml(config: EvolveConfig) -> str:
    fields = msgspec.structs.asdict(config)
    unset = [f"# {name} = (unset)" for name, value in fields.items() if value is None]
    header = ["# Loop 1 run configuration (written by apps/evolve; checked on resume)", *unset]
    # TOML has no null: unset fields are left out (and named in a comment) and load as defaults.
    values = {name: value for name, value in fields.items() if value is not None}
    return "\n".join(header) + "\n" + tomli_w.dumps(values)


def save_config(config: EvolveConfig, path: Path) -> None:
    write_text_atomic(path, config_toml(config))


def load_config(path: Path) -> EvolveConfig:
    return msgspec.convert(tomllib.loads(path.read_text(encoding="utf-8")), EvolveConfig)


def check_resume(stored: EvolveConfig, wanted: EvolveConfig) -> None:
    """Raises `EvolveError` naming every identity field on which the two configs differ."""
    diffs = [
        f"{name}: run has {getattr(stored, name)!r}, command asks for {getattr(wanted, name)!r}"
        for name in IDENTITY_FIELDS
        if getattr(stored, name) != getattr(wanted, name)
    ]
    if diffs:
        raise EvolveError(
            f"{wanted.run_dir} was started with a different setup, so its evaluations cannot be "
            "reused:\n  " + "\n  ".join(diffs) + "\nUse a new --run-dir, or the original arguments."
        )
