"""The flags every app shares, and how they turn a protocol into the run's episodes.

Every app that plays episodes (`play`, `evolve`, `train`, `attribute`) takes the same names:
`--protocol`, `--env`, `--seeds`, `--episodes`, `--max-steps`, `--no-progress-steps`,
`--observation-format`, `--action-set`, `--temperature`, `--max-tokens`, `--max-rounds`,
`--agent-llm`, `--run-dir`, `--no-progress`, `--dry-run` and `--version`. A flag left out keeps
the protocol's value; one given is printed as an override on the run's first line.
"""

from __future__ import annotations

import argparse
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec
from automem_envs import ACTION_SETS, OBSERVATION_FORMATS, EpisodeSpec

from automem_agent._play import parse_seeds
from automem_agent._protocol import (
    Protocol,
    ProtocolError,
    builtin_protocols,
    parse_per_family,
    resolve_protocol,
    with_overrides,
)


def package_version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"


def add_run_arguments(
    parser: argparse.ArgumentParser, *, distribution: str, run_dir_default: str | None
) -> None:
    """Adds the shared flags to `parser`; `distribution` names the package for `--version`."""
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {package_version(distribution)}"
    )
    g = parser.add_argument_group("protocol (every flag here defaults to the protocol's value)")
    g.add_argument(
        "--protocol",
        default=None,
        help=f"one of {builtin_protocols()} or a protocol .toml file (default: demo for the "
        "offline models, paper for any other agent model)",
    )
    g.add_argument(
        "--env", action="append", help="env id; repeat or comma-separate (default: the protocol's)"
    )
    g.add_argument(
        "--seeds",
        default=None,
        help="explicit seeds for every env, e.g. 42-51,60 (default: the protocol's first "
        "--episodes seeds of its suite)",
    )
    g.add_argument(
        "--episodes", default=None, help="episodes per env: N, or family=N,... (e.g. crafter=3)"
    )
    g.add_argument(
        "--max-steps",
        default=None,
        help="raw game steps per episode: N, or family=N,... (e.g. crafter=100,nethack=5000)",
    )
    g.add_argument(
        "--no-progress-steps",
        default=None,
        help="BALROG's no-progress timeout in raw steps: N or family=N,... (0: off)",
    )
    g.add_argument("--observation-format", choices=OBSERVATION_FORMATS, default=None)
    g.add_argument("--action-set", choices=ACTION_SETS, default=None)
    g.add_argument("--temperature", type=float, default=None, help="agent sampling temperature")
    g.add_argument("--max-tokens", type=int, default=None, help="tokens per agent reply")
    g.add_argument("--max-rounds", type=int, default=None, help="rounds per LOG/PLAN phase")
    parser.add_argument(
        "--agent-llm",
        default=None,
        help="agent model spec (load_model), e.g. openai:http://host:8000/v1#Qwen/... "
        "(default: the protocol's; only demo names one: llamacpp:smollm2)",
    )
    parser.add_argument(
        "--run-dir",
        default=run_dir_default,
        help="run directory; rerun the same command to resume (default: %(default)s)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no live progress bars")
    parser.add_argument(
        "--dry-run", action="store_true", help="print the plan (episodes, calls, cost) and stop"
    )


class RunProtocol(msgspec.Struct, frozen=True, kw_only=True):
    """A protocol with the command line's overrides applied, and what they changed."""

    protocol: Protocol
    envs: list[str]
    seeds: list[int] | None  # explicit `--seeds` (same for every env), else None
    agent_llm: str
    overrides: list[str]

    def episodes(self) -> list[EpisodeSpec]:
        """Every episode the run plays: per env, the explicit seeds or the protocol's."""
        return [
            self.protocol.episode(env, seed)
            for env in self.envs
            for seed in (self.seeds if self.seeds is not None else self.protocol.seed_list(env))
        ]

    def first_line(self) -> str:
        """The run's first output line: protocol, scale, episodes and every override."""
        line = self.protocol.summary(self.envs) + f"; agent {self.agent_llm}"
        if self.seeds is not None:
            line += f"; seeds {self.seeds}"
        if self.overrides:
            line += "; OVERRIDDEN: " + "; ".join(self.overrides)
        return line


def protocol_from_args(args: argparse.Namespace, *, agent_llm: str | None = None) -> RunProtocol:
    """Resolves `--protocol` (demo for offline models, paper otherwise) and applies the flags.
    Raises `ProtocolError` with a message for the user on bad values."""
    agent = agent_llm if agent_llm is not None else args.agent_llm
    protocol = resolve_protocol(args.protocol, agent)
    agent = agent or protocol.agent.llm
    if agent is None:
        raise ProtocolError(
            f"protocol {protocol.name!r} names no agent model: give --agent-llm, e.g. "
            '"openai:http://gpu-host:8000/v1#Qwen/Qwen2.5-32B-Instruct"'
        )
    overrides: dict[str, Any] = {
        "seeds": parse_per_family(args.episodes, "--episodes") if args.episodes else None,
        "max_steps": parse_per_family(args.max_steps, "--max-steps") if args.max_steps else None,
        "no_progress_steps": parse_per_family(args.no_progress_steps, "--no-progress-steps")
        if args.no_progress_steps
        else None,
        "observation_format": args.observation_format,
        "action_set": args.action_set,
        "temperature": args.temperature,
        "max_tokens": args.max_tokens,
        "max_rounds": args.max_rounds,
    }
    protocol, changes = with_overrides(protocol, **overrides)
    envs = [e for item in (args.env or protocol.envs) for e in item.split(",") if e]
    try:
        seeds = parse_seeds(args.seeds) if args.seeds else None
    except ValueError as exc:
        raise ProtocolError(f"bad --seeds {args.seeds!r}: {exc} (e.g. 42-51,60)") from None
    if seeds is not None:
        changes.append(f"seeds {seeds}")
    return RunProtocol(
        protocol=protocol, envs=envs, seeds=seeds, agent_llm=agent, overrides=changes
    )
