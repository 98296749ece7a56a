"""Two-model evaluation: the specialist adapter in the memory role, the base model acting,
against the base-only agent on the same fixed seeds.

Both runs go through `automem_agent.run_suite`, so traces land in `<out>/eval/<env>/<seed>.jsonl`
and an interrupted evaluation resumes episode by episode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from automem_agent import RoleModels, SuiteResult, memory_agent_factory, run_suite
from automem_envs import Suite

SPECIALIST = "memory"  # the adapter name the specialist is loaded and served under


class AgentMetrics(msgspec.Struct, frozen=True, kw_only=True):
    """The figures Loop 2 compares, per env family (progression x100, like BALROG)."""

    progression: float
    stderr: float
    write_to_search: float | None
    memory_growth_per_step: float
    episodes: int
    errored: int = 0


class Comparison(msgspec.Struct, frozen=True, kw_only=True):
    """Base-only vs specialist, per env family."""

    base: dict[str, AgentMetrics]
    specialist: dict[str, AgentMetrics]

    def mean_progression(self, which: str = "specialist") -> float:
        rows = self.specialist if which == "specialist" else self.base
        return sum(r.progression for r in rows.values()) / len(rows) if rows else 0.0

    def table(self) -> str:
        """Before/after rows: progression, write-to-search ratio, memory growth per step."""

        def ratio(x: float | None) -> str:
            return "-" if x is None else f"{x:.2f}"

        lines = [
            f"{'env':<12} {'agent':<11} {'progression':>13} {'write/search':>13} {'growth/step':>12}"
        ]
        for family in sorted(set(self.base) | set(self.specialist)):
            for label, rows in (("base", self.base), ("specialist", self.specialist)):
                r = rows.get(family)
                if r is None:
                    continue
                prog = f"{r.progression:.1f}±{r.stderr:.1f}"
                lines.append(
                    f"{family:<12} {label:<11} {prog:>13} {ratio(r.write_to_search):>13} "
                    f"{r.memory_growth_per_step:>12.1f}"
                )
        return "\n".join(lines)


def metrics(result: SuiteResult) -> dict[str, AgentMetrics]:
    """Per-family figures from a suite result."""
    return {
        name: AgentMetrics(
            progression=s.progression,
            stderr=s.stderr,
            write_to_search=s.write_to_search,
            memory_growth_per_step=s.memory_growth_per_step,
            episodes=s.episodes,
            errored=s.errored,
        )
        for name, s in result.families.items()
    }


def attach_adapter(
    model: Any, adapter_dir: str | Path, name: str = SPECIALIST, *, served_name: str | None = None
) -> None:
    """Makes `model` answer requests with `adapter=name` using the adapter in `adapter_dir`.

    A local model loads it (replacing one of that name). An OpenAI-compatible model (a vLLM
    server) is asked to load it at run time under `served_name` (default: the directory's
    parent name, unique per trial, since vLLM will not reload a name); the server must run with
    `--enable-lora` and `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True` and see the same filesystem.
    """
    if hasattr(model, "load_adapter"):
        inner: Any = getattr(model, "model", None)
        if name in (getattr(inner, "peft_config", None) or {}):
            inner.delete_adapter(name)
        model.load_adapter(name, adapter_dir)
        return
    base_url = getattr(model, "base_url", None)
    if base_url is None:
        raise TypeError(f"{getattr(model, 'name', model)!r} cannot serve LoRA adapters")
    import httpx

    path = Path(adapter_dir).resolve()
    served = served_name or f"{name}-{path.parent.parent.name}-{path.parent.name}"
    response = httpx.post(
        f"{base_url}/load_lora_adapter",
        json={"lora_name": served, "lora_path": str(path)},
        timeout=600.0,
    )
    if response.status_code >= 400:
        raise RuntimeError(
            f"the server refused to load the adapter ({response.status_code}: "
            f"{response.text[:300]}); start vLLM with --enable-lora and "
            "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, or serve it with "
            f"--lora-modules {name}={path}"
        )
    model.adapter_models[name] = served


async def run_agent(
    suite: Suite,
    scaffold: Any,
    models: RoleModels,
    out_dir: str | Path,
    *,
    concurrency: int = 1,
    progress: bool = True,
) -> SuiteResult:
    """One agent configuration over the suite (resumable per episode)."""
    factory = memory_agent_factory(scaffold, models)
    return await run_suite(suite, factory, out_dir, concurrency=concurrency, progress=progress)


async def compare_specialist(
    suite: Suite,
    scaffold: Any,
    model: Any,
    *,
    base_dir: str | Path,
    specialist_dir: str | Path,
    adapter: str = SPECIALIST,
    concurrency: int = 1,
    progress: bool = True,
) -> Comparison:
    """Runs (or resumes) the base-only agent and the two-model agent and compares them.

    `model` must already serve `adapter` (see `attach_adapter`). The memory role (LOG and the
    PLAN consultation) uses the adapter; the action role uses the unmodified base model.
    """
    base = await run_agent(
        suite,
        scaffold,
        RoleModels.single(model),
        base_dir,
        concurrency=concurrency,
        progress=progress,
    )
    two = RoleModels(memory=model, action=model, memory_adapter=adapter, action_adapter=None)
    special = await run_agent(
        suite, scaffold, two, specialist_dir, concurrency=concurrency, progress=progress
    )
    return Comparison(base=metrics(base), specialist=metrics(special))
