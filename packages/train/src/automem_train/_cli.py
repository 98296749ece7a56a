"""`uv run apps/train` (`automem-train`): parse the shared run flags and Loop 2's own into a
`Loop2Config`, print its first line and plan, run Loop 2."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import msgspec
from automem_agent import (
    JsonlError,
    ProtocolError,
    add_run_arguments,
    parse_per_family,
    parse_seeds,
    protocol_from_args,
)
from automem_envs import EnvError

from automem_train._from_run import Loop1Source, Loop2Error, loop1_source
from automem_train._loop_config import Loop2Config, load_recipe
from automem_train._recipe import Recipe
from automem_train._tokenize import HygieneError

DESCRIPTION = """\
Loop 2: train a memory specialist from the agent's own memory decisions.

    uv run apps/train                  # offline demo: the `demo` protocol's [train] table
    uv run apps/train --from-run runs/x --run-dir runs/y \\
        --agent-llm "openai:http://gpu-host:8000/v1#Qwen/Qwen2.5-32B-Instruct" \\
        --base-path /models/qwen2.5-32b --meta-llm anthropic:claude-opus-4-5 --dry-run

A protocol decides the evaluation (suite, envs, seeds, step limits, text, actions), the agent's
sampling in the pool and in both evaluations, the start scaffold, and Loop 2's scale (its
[train] table: pool episodes, fewest examples, trials ...). No model flags: `demo`; any other
agent model: `paper`, unless --protocol says otherwise. Every flag given that changes the
protocol is named on the first output line, in config.toml and atop report.md. Seeds are
written as in every app: 42-51,60.
"""

# Field defaults for settings a protocol's [train] table leaves out.
DEFAULTS = Loop2Config(run_dir="runs/train")
# Loop2Config fields the command line (or the protocol's own tables) decides, never [train].
_COMMAND_ONLY = frozenset(
    {
        "run_dir",
        "protocol",
        "overrides",
        "from_run",
        "traces",
        "suite",
        "envs",
        "no_progress_steps",
        "observation_format",
        "action_set",
        "allow_eval_seeds",
        "demo",
        "progress",
        "unsafe_no_sandbox",
    }
)
# Loop 2 settings that change what a run measures: a flag that changes one is an override even
# where the protocol's [train] table leaves it to the default.
_SCALE = frozenset(
    {
        "pool_episodes",
        "collect_seeds",
        "collect_max_steps",
        "trials",
        "min_examples",
        "max_train_steps",
        "max_length",
        "default_recipe",
        "evaluate",
        "allow_eval_seeds",
    }
)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Keeps the description's layout and shows defaults, except the unset ones (None: the
    protocol's value)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, []):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="apps/train", description=DESCRIPTION, formatter_class=_HelpFormatter
    )
    add_run_arguments(p, distribution="automem-train", run_dir_default="runs/train")
    # The old names, kept working: the base model is the agent model.
    p.add_argument("--base-llm", dest="agent_llm", help=argparse.SUPPRESS)
    p.add_argument(
        "--no-progress-bar", dest="no_progress", action="store_true", help=argparse.SUPPRESS
    )
    p.add_argument("--eval-seeds", dest="seeds", help=argparse.SUPPRESS)
    p.add_argument("--eval-max-steps", dest="max_steps", help=argparse.SUPPRESS)
    p.add_argument("--scaffold-rounds", dest="max_rounds", type=int, help=argparse.SUPPRESS)
    g = p.add_argument_group("Loop 2 (default: the protocol's [train] table, else as shown)")
    g.add_argument(
        "--meta-llm",
        default=None,
        help="model spec of the meta-LLM that proposes recipes, e.g. anthropic:claude-opus-4-5 "
        "(the demo: smollm2; needed for any other protocol when --trials > 1)",
    )
    g.add_argument(
        "--from-run",
        default=None,
        help="a Loop 1 run directory: its incumbent scaffold plays the pool, on seeds outside "
        "every evaluation set of that run; suite, envs, step limits, text, actions and the "
        "no-progress timeout default to that run's",
    )
    g.add_argument(
        "--traces",
        action="append",
        default=[],
        help="trace file or directory; repeat (traces on evaluation seeds are skipped). "
        "Without it a pool is collected",
    )
    g.add_argument("--suite", default=None, help="automem, balrog, or a suite TOML file")
    g.add_argument("--base-path", default=None, help="weights to train on (a remote agent model)")
    g.add_argument(
        "--scaffold",
        default=None,
        help="built-in scaffold name or directory (default: the protocol's start scaffold)",
    )
    g.add_argument("--recipe", default=None, help="JSON file: the default (first) recipe")
    g.add_argument(
        "--trials",
        type=int,
        default=None,
        help=f"the default recipe, then meta-LLM proposals (default {DEFAULTS.trials})",
    )
    g.add_argument(
        "--pool-episodes",
        type=int,
        default=None,
        help="episodes to collect for the pool (paper: 100)",
    )
    g.add_argument(
        "--collect-seeds",
        default=None,
        help="seeds for pool collection, e.g. 1000-1099 (default: counted up from "
        f"{DEFAULTS.first_collect_seed}, skipping every evaluation seed)",
    )
    g.add_argument(
        "--collect-max-steps",
        default=None,
        help="raw steps per pool episode: N or family=N,... (default: the evaluation's)",
    )
    g.add_argument("--max-train-steps", type=int, default=None, help="cap on every recipe")
    g.add_argument(
        "--max-length", type=int, default=None, help="cap on every recipe's tokens per example"
    )
    g.add_argument(
        "--min-examples",
        type=int,
        default=None,
        help=f"fewest examples a trial trains on (default {DEFAULTS.min_examples}, as in the "
        "reference)",
    )
    g.add_argument(
        "--max-meta-tokens",
        type=int,
        default=None,
        help=f"meta-LLM tokens for the run (default {DEFAULTS.max_meta_tokens:,})",
    )
    g.add_argument("--max-hours", type=float, default=None, help="no new trial after this")
    g.add_argument(
        "--attribution-replays",
        type=int,
        default=None,
        help="counterfactual replays the data engine's `attribute` tool may run per proposal "
        "(0 = no tool); each costs calls of the pool's model",
    )
    g.add_argument(
        "--attribution-horizon",
        type=int,
        default=None,
        help=f"live steps per attribution replay (default {DEFAULTS.attribution_horizon})",
    )
    g.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"episodes at once (default {DEFAULTS.concurrency})",
    )
    g.add_argument(
        "--allow-eval-seeds", action="store_true", help="train on evaluation seeds on purpose"
    )
    g.add_argument("--no-eval", action="store_true", help="train only; skip the two-model eval")
    g.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run LLM-written code (the selector, hooks) without the bubblewrap sandbox, where "
        "bwrap cannot run; the run says so at its start and end",
    )
    return p


def _show(value: Any) -> Any:
    if isinstance(value, Recipe):
        return value.name
    return value.get("name", "(unnamed)") if isinstance(value, dict) else value


def _from_loop1(
    args: argparse.Namespace, source: Loop1Source, episode: dict[str, Any], overrides: list[str]
) -> None:
    """Loop 1's suite, envs, step limits, text, actions and timeout where no flag names them:
    the pool and the evaluations play the setting the incumbent was chosen in."""
    taken = {
        "envs": (args.env, list(source.envs)),
        "suite": (args.suite, source.suite),
        "max_steps": (args.max_steps, source.max_steps),
        "no_progress_steps": (args.no_progress_steps, dict(source.no_progress_steps)),
        "observation_format": (args.observation_format, source.observation_format),
        "action_set": (args.action_set, source.action_set),
    }
    for name, (flag, value) in taken.items():
        if flag is None:
            if value != episode[name]:
                overrides.append(f"{name} {episode[name]} -> {value} (Loop 1 run's)")
            episode[name] = value


def config_from_args(args: argparse.Namespace) -> Loop2Config:
    """The run's config: the protocol (flags applied), then Loop 1's setting with --from-run,
    then the protocol's [train] table, then Loop 2's flags. What the flags change is listed in
    `overrides`, and so on the first output line, in config.toml and atop report.md."""
    run = protocol_from_args(args)
    protocol = run.protocol
    table = dict(protocol.train)
    allowed = set(Loop2Config.__struct_fields__) - _COMMAND_ONLY
    unknown = set(table) - allowed
    if unknown:
        raise ProtocolError(
            f"protocol {protocol.name!r}: [train] cannot set {sorted(unknown)}; it takes "
            f"Loop2Config fields {sorted(allowed)}"
        )
    overrides = list(run.overrides)
    fields: dict[str, Any] = dict(table)
    episode: dict[str, Any] = {
        "envs": run.envs,
        "suite": protocol.suite,
        "max_steps": dict(protocol.max_steps),
        "no_progress_steps": dict(protocol.no_progress_steps),
        "observation_format": protocol.observation_format,
        "action_set": protocol.action_set,
    }
    if args.from_run:
        if args.scaffold:
            raise ProtocolError("--scaffold and --from-run both choose the scaffold; give one")
        _from_loop1(args, loop1_source(args.from_run), episode, overrides)
    if args.suite is not None and args.suite != protocol.suite:
        overrides.append(f"suite {protocol.suite} -> {args.suite}")
    # The evaluation: explicit seeds, else the protocol's count (with --episodes), unless the
    # [train] table caps it (the demo); steps likewise.
    if run.seeds is not None:
        fields["eval_seeds"] = run.seeds
        fields.pop("eval_episodes", None)
    elif args.episodes or not {"eval_seeds", "eval_episodes"} & set(table):
        fields["eval_episodes"] = dict(protocol.seeds)
        fields.pop("eval_seeds", None)
    if args.max_steps is not None or "eval_max_steps" not in table:
        fields["eval_max_steps"] = episode["max_steps"]
    # The agent's sampling: the protocol's (with the flags), unless [train] sets Loop 2's own.
    for name in ("temperature", "max_tokens", "max_rounds"):
        if getattr(args, name) is not None or name not in table:
            fields[name] = getattr(protocol.agent, name)
    if args.scaffold:
        before = table.get("scaffold", protocol.agent.scaffold)
        if args.scaffold != before:
            overrides.append(f"start scaffold {before} -> {args.scaffold}")
        fields["scaffold"] = args.scaffold
    elif "scaffold" not in table:
        fields["scaffold"] = protocol.agent.scaffold
    if args.agent_llm is not None or "base_llm" not in table:
        fields["base_llm"] = run.agent_llm
        # A [train] table's pool player and evaluation decoding belong to its own base model
        # (the demo: llama.cpp plays what transformers trains); another agent plays its own pool.
        for name in ("collect_llm", "eval_decoding"):
            if fields.pop(name, None) is not None:
                overrides.append(f"{name} {table[name]} -> (the agent's own)")
    try:
        flags: dict[str, Any] = {
            "meta_llm": args.meta_llm,
            "trials": args.trials,
            "base_path": args.base_path,
            "pool_episodes": args.pool_episodes,
            "collect_seeds": parse_seeds(args.collect_seeds) if args.collect_seeds else None,
            "collect_max_steps": parse_per_family(args.collect_max_steps, "--collect-max-steps")
            if args.collect_max_steps
            else None,
            "max_train_steps": args.max_train_steps,
            "max_length": args.max_length,
            "min_examples": args.min_examples,
            "max_meta_tokens": args.max_meta_tokens,
            "max_hours": args.max_hours,
            "attribution_replays": args.attribution_replays,
            "attribution_horizon": args.attribution_horizon,
            "concurrency": args.concurrency,
            "default_recipe": load_recipe(args.recipe) if args.recipe else None,
            "allow_eval_seeds": True if args.allow_eval_seeds else None,
            "evaluate": False if args.no_eval else None,
        }
    except (ValueError, msgspec.DecodeError, OSError) as exc:  # a bad seed list or recipe file
        raise ProtocolError(str(exc)) from None
    for field, value in flags.items():
        if value is None:
            continue
        before = fields.get(field, getattr(DEFAULTS, field))
        if value != before and (field in _SCALE or field in table):
            overrides.append(f"{field} {_show(before)} -> {_show(value)}")
        fields[field] = value
    trials = fields.get("trials", DEFAULTS.trials)
    if not protocol.is_demo and "meta_llm" not in fields and trials > 1:
        raise ProtocolError(
            f"protocol {protocol.name!r}: trials after the first are proposed by a meta-LLM; "
            "give --meta-llm (e.g. anthropic:claude-opus-4-5), or --trials 1"
        )
    fields.update(
        run_dir=args.run_dir,
        protocol=protocol.name,
        overrides=overrides,
        from_run=args.from_run,
        traces=list(args.traces),
        suite=args.suite or episode["suite"],
        envs=episode["envs"],
        no_progress_steps=episode["no_progress_steps"],
        observation_format=episode["observation_format"],
        action_set=episode["action_set"],
        demo=protocol.is_demo,
        progress=not args.no_progress,
        unsafe_no_sandbox=args.unsafe_no_sandbox,
    )
    try:
        return msgspec.convert(fields, Loop2Config)
    except msgspec.ValidationError as exc:
        raise ProtocolError(f"protocol {protocol.name!r} [train]: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `apps/train` and `automem-train`; returns the process exit status."""
    from automem_train._loop import run_loop2
    from automem_train._plan import format_loop2_plan, plan_loop2

    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
        print(config.scale_line, flush=True)
        print(format_loop2_plan(plan_loop2(config)), flush=True)  # before anything is spent
        if args.dry_run:
            return 0
        best = run_loop2(config)
    except (ProtocolError, Loop2Error, HygieneError, JsonlError, EnvError) as exc:
        # bad input: one clear line, no traceback
        print(f"apps/train: error: {exc}", file=sys.stderr)
        return 2
    return 0 if best is not None else 1
