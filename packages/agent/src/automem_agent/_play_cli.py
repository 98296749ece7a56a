"""`uv run apps/play`: parse the shared run flags into a `PlayConfig`, print the plan, play."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from automem_agent._manifest import with_sampling
from automem_agent._plan import format_phase_table, plan_episodes, read_manifest
from automem_agent._play import PlayConfig, play
from automem_agent._protocol import ProtocolError
from automem_agent._run_args import add_run_arguments, protocol_from_args
from automem_agent._scaffold import resolve_scaffold
from automem_agent._summary import format_summary


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="apps/play",
        description="Play or evaluate episodes under a protocol and summarise them. With no "
        "model flags it plays the demo protocol offline; any other agent model plays `paper` "
        "unless --protocol says otherwise.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_run_arguments(p, distribution="automem-agent", run_dir_default=None)
    p.add_argument("--llm", dest="agent_llm", help=argparse.SUPPRESS)  # the old name
    p.add_argument("--out", dest="run_dir", help=argparse.SUPPRESS)  # the old name
    p.add_argument("--agent", choices=["memory", "history"], default="memory")
    p.add_argument("--memory-llm", default=None, help="model for the memory role (two-model mode)")
    p.add_argument("--action-llm", default=None, help="model for the action role (two-model mode)")
    p.add_argument("--memory-adapter", default=None, help="NAME (served) or NAME=DIR (local PEFT)")
    p.add_argument("--action-adapter", default=None, help="NAME (served) or NAME=DIR (local PEFT)")
    p.add_argument(
        "--scaffold", default=None, help="built-in scaffold or directory (default: protocol's)"
    )
    p.add_argument("--concurrency", type=int, default=4, help="episodes at once")
    p.add_argument(
        "--unsafe-no-sandbox",
        action="store_true",
        help="run the scaffold's hooks without the bubblewrap sandbox (where bwrap cannot run)",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `apps/play`; returns the process exit status."""
    a = build_parser().parse_args(argv)
    try:
        run = protocol_from_args(a)
    except ProtocolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scaffold = a.scaffold or run.protocol.agent.scaffold
    agent = run.protocol.agent
    config = PlayConfig(
        envs=run.envs,
        seeds=run.seeds or [],
        episodes=run.episodes(),
        protocol=run.protocol.name,
        temperature=agent.temperature,
        max_tokens=agent.max_tokens,
        max_rounds=agent.max_rounds,
        agent=a.agent,
        llm=run.agent_llm,
        memory_llm=a.memory_llm,
        action_llm=a.action_llm,
        memory_adapter=a.memory_adapter,
        action_adapter=a.action_adapter,
        scaffold=scaffold,
        concurrency=a.concurrency,
        out=a.run_dir,
        progress=not a.no_progress,
        unsafe_no_sandbox=a.unsafe_no_sandbox,
    )
    print(run.first_line(), flush=True)
    if a.agent == "memory":
        manifest = with_sampling(
            read_manifest(resolve_scaffold(scaffold)),
            max_tokens=agent.max_tokens,
            max_rounds=agent.max_rounds,
        )
        print(format_phase_table([plan_episodes("play", config.episodes or [], manifest)]))
    if a.dry_run:
        return 0
    result, out = play(config)
    print(format_summary(result))
    print(f"run directory: {out}")
    return 1 if result.errored == len(result.episodes) and result.episodes else 0
