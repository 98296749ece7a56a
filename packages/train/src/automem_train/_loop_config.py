"""Typed configuration of a Loop 2 run, saved as `config.toml` (and the default recipe as
`recipe.json`) and checked again on resume, as Loop 1 does."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec
import tomli_w
from automem_agent import write_bytes_atomic, write_text_atomic
from automem_envs import env_family

from automem_train._from_run import Loop1Source, Loop2Error
from automem_train._recipe import Recipe


class Loop2Config(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `run_loop2` needs. Apps parse arguments into this and call `run_loop2`."""

    run_dir: str
    # The protocol the run was built from (`apps/train --protocol`; "" when built directly) and
    # what the command line changed in it (shown on the first output line and in report.md).
    protocol: str = ""
    overrides: list[str] = []
    # A Loop 1 run directory: its incumbent scaffold plays the pool, and no pool episode is on
    # any of its evaluation seeds. `from_loop1` fills suite, envs and step caps from it.
    from_run: str | None = None
    traces: list[str] = []  # trace files/dirs; empty: collect a pool first
    suite: str = "automem"
    envs: list[str] = msgspec.field(
        default_factory=lambda: ["crafter"]
    )  # env ids or families to evaluate on (and collect from)
    # The evaluation episodes per env: `eval_seeds` (the same explicit seeds for every env), else
    # the suite's first `eval_episodes` seeds (one N, or per family), else every seed it lists.
    eval_seeds: list[int] | None = None
    eval_episodes: int | dict[str, int] | None = None
    # Raw game steps per evaluation episode (one N, or per family); None: the suite's.
    eval_max_steps: int | dict[str, int] | None = None
    no_progress_steps: dict[str, int] | None = None  # per family; None: the suite's
    observation_format: str = "compact"  # compact | balrog (see automem_envs.make)
    action_set: str = "automem"  # automem | balrog
    # The pool: `pool_episodes` episodes in all (split over the envs), on seeds counted up from
    # `first_collect_seed` that no evaluation uses, unless `collect_seeds` names them.
    pool_episodes: int = 100  # the paper collects about 100 episodes with Loop 1's scaffold
    first_collect_seed: int = 1000
    collect_seeds: list[int] | None = None
    collect_max_steps: int | dict[str, int] | None = None  # None: the evaluation's step limits
    trials: int = 3
    base_llm: str = "smollm2"
    # The model that plays the pool (None: `base_llm`). The offline demo plays it with SmolLM2
    # on llama.cpp, which enforces the demo scaffold's grammar and is fast, and trains the same
    # SmolLM2 weights through transformers.
    collect_llm: str | None = None
    # Decoding in both evaluations (None: the scaffold's). transformers cannot enforce a
    # grammar, so the demo evaluates base and specialist with free decoding: what training
    # taught shows as turns that parse without the grammar.
    eval_decoding: Literal["free", "grammar"] | None = None
    base_path: str | None = None  # weights to train on, when `base_llm` is a remote server
    meta_llm: str = "smollm2"
    scaffold: str = "v0"  # a built-in scaffold name or a scaffold directory (no from_run)
    # The agent's sampling in the pool and in both evaluations, set on every phase of the
    # scaffold played (None keeps the scaffold's own): temperature, tokens per reply, rounds.
    temperature: float | None = None
    max_tokens: int | None = None
    max_rounds: int | None = None
    default_recipe: Recipe = Recipe()
    max_train_steps: int | None = None  # a cap over every recipe (demo runs)
    max_examples: int | None = None  # a cap over every recipe's composition
    max_length: int | None = None  # a cap over every recipe's max_length
    # Write attribution for the data engine: its `attribute` tool replays collected pool
    # episodes without chosen writes (at most `attribution_replays` per proposal session, each
    # `attribution_horizon` live steps with the pool's model), so what a write was worth can
    # steer selection. 0: no tool. Given traces (`traces`) have no replayable pool.
    attribution_replays: int = 0
    attribution_horizon: int = 20
    meta_turns: int = 8
    meta_tokens_per_turn: int = 1536
    max_meta_tokens: int = 400_000  # across the run (resume included)
    max_hours: float | None = None  # this invocation's wall time; no new trial starts after it
    allow_eval_seeds: bool = False
    # Memory per training device in GiB (None: what the visible devices have free). A recipe
    # whose estimate exceeds it is recorded as a failed trial without loading the model.
    device_memory_gb: float | None = None
    # Fewer examples than this after selection fails the trial with a message (the reference
    # trains on at least 300 memory turns); demo runs lower it.
    min_examples: int = 300
    # The LoRA rank the vLLM server serves (its --max-lora-rank); proposals above it are refused.
    max_lora_rank: int | None = None
    concurrency: int = 1
    evaluate: bool = True
    demo: bool = False  # print that this is a demo-scale run
    progress: bool = True
    # the selector and the scaffold's hooks (LLM-written code) run in bubblewrap; True runs them
    # unconfined where bwrap cannot run, with a warning at the start and the end of the run
    unsafe_no_sandbox: bool = False

    def __post_init__(self) -> None:
        # counts from flags and protocol files: a negative one is a typo, never "off"
        for name in ("pool_episodes", "trials", "min_examples", "attribution_replays",
                     "attribution_horizon"):  # fmt: skip
            value = getattr(self, name)
            if value < 0:
                raise Loop2Error(f"{name} must be 0 or more, got {value}")

    @property
    def scale_line(self) -> str:
        """The run's protocol, scale, episodes, models and overrides in one line: the first
        output line of `apps/train`, a comment atop config.toml and the top of report.md."""
        scale = "DEMO scale (small caps)" if self.demo else "full scale"

        def per_env(value: int | dict[str, int] | None, env: str, unset: str) -> str:
            if value is None:
                return unset
            if isinstance(value, int):
                return str(value)
            return str(value.get(env_family(env), unset))

        def seeds(env: str) -> str:
            if self.eval_seeds is not None:
                return "seeds " + ",".join(map(str, self.eval_seeds))
            return f"{per_env(self.eval_episodes, env, 'all')} seeds"

        evals = ", ".join(
            f"{env} {seeds(env)} x {per_env(self.eval_max_steps, env, 'the suite')} steps"
            for env in self.envs
        )
        if self.traces:
            pool = f"pool from given traces ({', '.join(self.traces)})"
        else:
            steps = ", ".join(
                per_env(self.collect_max_steps or self.eval_max_steps, env, "the suite")
                for env in self.envs
            )
            pool = f"pool {self.pool_episodes} episodes x {steps} steps"
            if self.from_run:
                pool += f" of Loop 1's incumbent ({self.from_run})"

        def own(value: object) -> str:
            return "the scaffold's" if value is None else str(value)

        sampling = (
            f"temperature {own(self.temperature)}, max_tokens {own(self.max_tokens)}, "
            f"max_rounds {own(self.max_rounds)}"
        )
        line = (
            f"protocol {self.protocol or '(none)'} [{scale}]: evaluate {evals} "
            f"({self.suite} seeds); {pool}; {self.observation_format} text, {self.action_set} "
            f"actions; agent sampling {sampling}; base {self.base_llm}"
            + (f"; pool played by {self.collect_llm}" if self.collect_llm else "")
            + (f"; evaluated with {self.eval_decoding} decoding" if self.eval_decoding else "")
            + "; meta-LLM "
            f"{self.meta_llm}; {self.trials} trial(s), at least {self.min_examples} examples"
        )
        return line + ("; OVERRIDDEN: " + "; ".join(self.overrides) if self.overrides else "")

    def with_overrides(self, changes: dict[str, Any]) -> Loop2Config:
        """A copy with some fields replaced (the app's command-line overrides)."""
        return msgspec.structs.replace(self, **changes)


def demo_config(run_dir: str = "runs/train-demo") -> Loop2Config:
    """The offline default, as `apps/train` with no model flags builds it from the `demo`
    protocol's `[train]` table: SmolLM2-135M on CPU as base and meta model, a tiny pool and
    evaluation, a few LoRA steps per trial."""
    from automem_train._cli import build_parser, config_from_args

    return config_from_args(build_parser().parse_args(["--run-dir", run_dir]))


def from_loop1(config: Loop2Config, source: Loop1Source) -> Loop2Config:
    """`config` taking Loop 1's suite, envs, text, actions and no-progress timeout, and Loop 1's
    step limits where it sets none, so the pool and the before/after evaluation play the setting
    the incumbent was chosen in."""
    return msgspec.structs.replace(
        config,
        from_run=source.run_dir,
        suite=source.suite,
        envs=list(source.envs),
        collect_max_steps=config.collect_max_steps or source.max_steps,
        eval_max_steps=config.eval_max_steps or source.max_steps,
        no_progress_steps=dict(source.no_progress_steps),
        observation_format=source.observation_format,
        action_set=source.action_set,
    )


def load_recipe(path: str | Path) -> Recipe:
    """A recipe from a JSON file (any field left out keeps its default)."""
    return msgspec.json.decode(Path(path).read_bytes(), type=Recipe)


# Fields that decide what the pool, the trials and the evaluations on disk mean; a resumed run
# must agree on them. Trials, budgets, the meta-LLM and concurrency may change between runs.
IDENTITY_FIELDS = (
    "from_run",
    "traces",
    "suite",
    "envs",
    "eval_seeds",
    "eval_episodes",
    "eval_max_steps",
    "no_progress_steps",
    "observation_format",
    "action_set",
    "pool_episodes",
    "first_collect_seed",
    "collect_seeds",
    "collect_max_steps",
    "base_llm",
    "collect_llm",
    "eval_decoding",
    "base_path",
    "scaffold",
    "temperature",
    "max_tokens",
    "max_rounds",
    "max_train_steps",
    "max_examples",
    "max_length",
    "min_examples",
    "allow_eval_seeds",
    "evaluate",
)
CONFIG = "config.toml"
RECIPE = "recipe.json"  # the default recipe (trial 0), in `--recipe` format


def _table(config: Loop2Config) -> dict[str, Any]:
    # TOML has no null: unset fields are left out (and named in a comment). The default recipe
    # has nested nulls that mean something (log_share = null: no LOG/PLAN balance), so it is
    # kept whole in recipe.json instead.
    fields = msgspec.to_builtins(config)
    fields.pop("default_recipe")
    return {name: value for name, value in fields.items() if value is not None}


def config_toml(config: Loop2Config) -> str:
    """The `config.toml` text of a run: every set field, unset ones named in a comment."""
    unset = [f"# {n} = (unset)" for n, v in msgspec.structs.asdict(config).items() if v is None]
    header = [
        "# Loop 2 run configuration (written by apps/train; checked on resume).",
        f"# {config.scale_line}",
        f"# The default recipe (trial 0) is in {RECIPE}.",
        *unset,
    ]
    return "\n".join(header) + "\n" + tomli_w.dumps(_table(config))


def save_config(config: Loop2Config) -> None:
    """Writes `config.toml` and `recipe.json` into the run directory, atomically."""
    run = Path(config.run_dir)
    write_text_atomic(run / CONFIG, config_toml(config))
    recipe = msgspec.json.format(msgspec.json.encode(config.default_recipe))
    write_bytes_atomic(run / RECIPE, recipe + b"\n")


def check_resume(config: Loop2Config) -> None:
    """Raises `Loop2Error` naming every identity field (and the default recipe) on which the run
    directory's stored configuration differs from `config`. A new directory passes."""
    run = Path(config.run_dir)
    path = run / CONFIG
    if not path.exists():
        return
    try:
        stored = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise Loop2Error(f"{path} is unreadable ({exc}); use a new --run-dir") from None
    wanted = _table(config)
    # A field an older run did not record had its default then.
    defaults = _table(Loop2Config(run_dir=config.run_dir))
    stored = {name: stored.get(name, defaults.get(name)) for name in IDENTITY_FIELDS}
    diffs = [
        f"{name}: run has {stored.get(name)!r}, command asks for {wanted.get(name)!r}"
        for name in IDENTITY_FIELDS
        if stored.get(name) != wanted.get(name)
    ]
    if (run / RECIPE).is_file():
        try:
            old = load_recipe(run / RECIPE)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise Loop2Error(f"{run / RECIPE} is unreadable ({exc}); use a new --run-dir") from None
        if old != config.default_recipe:
            diffs.append(f"default recipe: run has {old.name!r}, command asks for a different one")
    if diffs:
        raise Loop2Error(
            f"{run} was started with a different setup, so its pool, trials and evaluations "
            "cannot be reused:\n  " + "\n  ".join(diffs) + "\nUse a new --run-dir, or the "
            "original arguments."
        )
