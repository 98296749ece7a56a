"""Loop 2 end to end: pool of traces -> trials (recipe -> data -> LoRA -> two-model eval) ->
the best recipe kept. One run directory holds everything and is the unit of resume:

    <run>/config.json, pool/ (collected traces), examples.jsonl, eval/base/ (base-only agent),
    trials/NNN/{recipe.json, proposal.json, examples.jsonl, train/, eval/}, trials.jsonl,
    best.json, best/adapter/, loss.png
"""

from __future__ import annotations

import asyncio
import re
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import (
    HookLimits,
    RoleModels,
    builtin_scaffold,
    load_model,
    load_scaffold,
    write_bytes_atomic,
)
from automem_agent.meta import (
    Budget,
    SandboxLimits,
    SandboxUnavailable,
    sandbox_problem,
    warn_unsafe,
)
from automem_envs._types import EpisodeSpec, Suite

from automem_train._config import TrainConfig
from automem_train._dataset import build_training_set, check_eval_leak, eval_keys
from automem_train._evaluate import attach_adapter, compare_specialist, run_agent
from automem_train._examples import MemoryExample, extract_examples, write_examples
from automem_train._fit import WontFit
from automem_train._policy import SelectionPolicy, run_policy
from automem_train._postprocess import postprocess
from automem_train._propose import Proposal, propose_recipe
from automem_train._recipe import (
    Recipe,
    TrialRecord,
    append_ledger,
    best_trial,
    ledger_table,
    read_ledger,
)
from automem_train._select import SelectionReport, compose
from automem_train._selector import run_selector
from automem_train._trainer import TrainingOOM, plot_loss, read_loss_log, train_lora


class Loop2Config(msgspec.Struct, frozen=True, kw_only=True):
    """Everything `run_loop2` needs. Apps parse arguments into this and call `run_loop2`."""

    run_dir: str
    traces: list[str] = []  # trace files/dirs; empty: collect a small pool first
    suite: str = "automem"
    envs: list[str] = msgspec.field(
        default_factory=lambda: ["crafter"]
    )  # env ids or families to evaluate on (and collect from)
    eval_seeds: list[int] | None = None  # a subset of the suite's fixed seeds (None: all)
    eval_max_steps: int | None = None  # None: the suite's (or the family default)
    collect_seeds: list[int] = msgspec.field(
        default_factory=lambda: [1000, 1001]
    )  # never evaluation seeds
    collect_max_steps: int = 20
    trials: int = 3
    base_llm: str = "smollm2"
    base_path: str | None = None  # weights to train on, when `base_llm` is a remote server
    meta_llm: str = "smollm2"
    scaffold: str = "v0"  # a built-in scaffold name or a scaffold directory
    scaffold_rounds: int | None = None  # cap LOG/PLAN rounds in a copy of the scaffold (demo)
    default_recipe: Recipe = Recipe()
    max_train_steps: int | None = None  # a cap over every recipe (demo runs)
    max_examples: int | None = None  # a cap over every recipe's composition
    max_length: int | None = None  # a cap over every recipe's max_length
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

    def with_overrides(self, changes: dict[str, Any]) -> Loop2Config:
        """A copy with some fields replaced (the app's command-line overrides)."""
        return msgspec.structs.replace(self, **changes)


def demo_config(run_dir: str = "runs/train-demo") -> Loop2Config:
    """The offline default: SmolLM2-135M on CPU as base and meta model, a pool of two 2-step
    Crafter episodes, a 1-step evaluation episode, 2 LoRA steps per trial and 2 trials."""
    # SmolLM2-135M rarely writes a well-formed memory op, so the default policy would keep
    # nothing from its pool; the demo keeps every turn to show the whole pipeline run.
    recipe = Recipe(
        name="demo-all",
        policy=SelectionPolicy(name="all", builtin="all"),
        train=TrainConfig(
            learning_rate=1e-3,
            epochs=2,
            batch_size=2,
            grad_accum=1,
            max_length=1024,
            checkpoint_every=1,
        ),
    )
    return Loop2Config(
        run_dir=run_dir,
        envs=["crafter"],
        eval_seeds=[42],
        eval_max_steps=1,
        collect_seeds=[1000, 1001],
        collect_max_steps=2,
        trials=2,
        default_recipe=recipe,
        max_train_steps=2,
        max_examples=16,
        max_length=1024,
        min_examples=1,
        meta_turns=2,
        meta_tokens_per_turn=256,
        scaffold_rounds=2,
        concurrency=2,
        demo=True,
    )


def load_recipe(path: str | Path) -> Recipe:
    """A recipe from a JSON file (any field left out keeps its default)."""
    return msgspec.json.decode(Path(path).read_bytes(), type=Recipe)


def _log(message: str) -> None:
    print(message, flush=True)


def full_suite(config: Loop2Config) -> Suite:
    """The named suite (`automem`, `balrog`, or a TOML file) restricted to `config.envs`.
    Its (env_id, seed) pairs are the ones training data must never come from."""
    from automem_envs import load_suite, suite

    if Path(config.suite).is_file():
        base = load_suite(config.suite)
        keep = set(config.envs)
        episodes = [e for e in base.episodes if e.env_id in keep or e.env_id.split("/")[0] in keep]
        return Suite(name=base.name, episodes=episodes, skipped=base.skipped)
    return suite(config.suite, envs=config.envs)


def eval_suite_of(config: Loop2Config, full: Suite) -> Suite:
    """The episodes actually played for evaluation: the suite's, optionally fewer seeds and
    fewer steps (demo scale)."""
    episodes = [
        msgspec.structs.replace(e, max_steps=config.eval_max_steps or e.max_steps)
        for e in full.episodes
        if config.eval_seeds is None or e.seed in config.eval_seeds
    ]
    return Suite(name=full.name, episodes=episodes, skipped=full.skipped)


def pool_suite_of(config: Loop2Config, full: Suite) -> Suite:
    """Episodes to collect training traces from: each env of the suite on `collect_seeds`."""
    first: dict[str, EpisodeSpec] = {}
    for e in full.episodes:
        first.setdefault(e.env_id, e)
    episodes = [
        msgspec.structs.replace(e, seed=seed, max_steps=config.collect_max_steps)
        for e in first.values()
        for seed in config.collect_seeds
    ]
    return Suite(name="loop2-pool", episodes=episodes)


def _capped(recipe: Recipe, config: Loop2Config) -> Recipe:
    train: TrainConfig = recipe.train
    if config.max_train_steps is not None:
        steps = min(train.max_steps or config.max_train_steps, config.max_train_steps)
        train = msgspec.structs.replace(train, max_steps=steps)
    if config.max_length is not None:
        train = msgspec.structs.replace(train, max_length=min(train.max_length, config.max_length))
    comp = recipe.composition
    if config.max_examples is not None:
        cap = min(comp.max_examples or config.max_examples, config.max_examples)
        comp = msgspec.structs.replace(comp, max_examples=cap)
    return msgspec.structs.replace(recipe, train=train, composition=comp)


def _base_path(config: Loop2Config, model: Any) -> str:
    if config.base_path:
        return config.base_path
    path = getattr(model, "path", None)
    if path is None:
        raise ValueError(
            f"{config.base_llm!r} is served remotely; pass base_path (the weights to train on)"
        )
    return str(path)


async def run_trial(
    index: int,
    recipe: Recipe,
    examples: list[MemoryExample],
    *,
    config: Loop2Config,
    model: Any,
    scaffold: Any,
    eval_suite: Suite,
    hygiene_suite: Suite | None = None,
    proposer: str,
    note: str = "",
    meta_tokens: int = 0,
) -> TrialRecord:
    """Data, training and evaluation for one recipe; failures become a `failed` record."""
    start = time.perf_counter()
    trial_dir = Path(config.run_dir) / "trials" / f"{index:03d}"
    trial_dir.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(trial_dir / "recipe.json", msgspec.json.format(msgspec.json.encode(recipe)))
    common: dict[str, Any] = dict(
        index=index, recipe=recipe, proposer=proposer, meta_tokens=meta_tokens
    )
    chosen, selection, failure = select_for_recipe(
        recipe,
        examples,
        config.min_examples,
        reasons_path=trial_dir / "reasons.jsonl",
        unsafe_no_sandbox=config.unsafe_no_sandbox,
    )
    if failure and failure[0] == "too-few":  # a leak is the louder error
        check_eval_leak(
            chosen, eval_keys(hygiene_suite or eval_suite), allow_eval_seeds=config.allow_eval_seeds
        )
    if failure:
        kind, message = failure
        return TrialRecord(
            status="failed", note=message, failure=kind, selection=selection, **common
        )
    write_examples(trial_dir / "examples.jsonl", chosen)
    tokenizer = _tokenizer(_base_path(config, model))
    data = build_training_set(
        chosen,
        tokenizer,
        max_length=recipe.train.max_length,
        eval_episodes=eval_keys(hygiene_suite or eval_suite),
        allow_eval_seeds=config.allow_eval_seeds,
        removed=selection.removed,
    )
    _log(data.report.table())
    if not data.encoded:
        return TrialRecord(
            status="failed",
            note="no example survived",
            selection=selection,
            dataset=data.report,
            **common,
        )
    memory = None if config.device_memory_gb is None else int(config.device_memory_gb * 2**30)
    try:
        train = await asyncio.to_thread(
            train_lora,
            _base_path(config, model),
            data.encoded,
            trial_dir / "train",
            recipe.train,
            base_model_name=config.base_path or _base_path(config, model),
            progress=config.progress,
            device_memory=memory,
        )
    except (WontFit, TrainingOOM) as exc:
        # A recipe too big for the devices is a result the next proposal learns from, not a
        # reason to stop the loop.
        kind = "does not fit" if isinstance(exc, WontFit) else "out of memory"
        _log(f"trial {index}: {kind}: {exc}")
        return TrialRecord(
            status="failed",
            note=f"{kind}: {str(exc).splitlines()[0]}",
            failure="wont-fit" if isinstance(exc, WontFit) else "oom",
            selection=selection,
            dataset=data.report,
            wall_s=time.perf_counter() - start,
            **common,
        )
    plot_loss(trial_dir / "train", title=f"trial {index}: {recipe.name}")
    comparison = None
    score = None
    if config.evaluate:
        attach_adapter(model, train.adapter_dir)
        comparison = await compare_specialist(
            eval_suite,
            scaffold,
            model,
            base_dir=Path(config.run_dir) / "eval" / "base",
            specialist_dir=trial_dir / "eval",
            concurrency=config.concurrency,
            progress=config.progress,
        )
        score = comparison.mean_progression("specialist")
        _log(comparison.table())
    return TrialRecord(
        status="ok",
        note=note,
        selection=selection,
        dataset=data.report,
        train=train,
        comparison=comparison,
        score=score,
        wall_s=time.perf_counter() - start,
        **common,
    )


def select_for_recipe(
    recipe: Recipe,
    examples: list[MemoryExample],
    min_examples: int = 1,
    *,
    reasons_path: Path | None = None,
    unsafe_no_sandbox: bool = False,
) -> tuple[list[MemoryExample], SelectionReport | None, tuple[str, str] | None]:
    """The recipe's training examples: its policy (per example, or a pool selector run in the
    sandbox), its post-processing, then its composition. The third value is (failure kind,
    message) when the policy broke or fewer than `min_examples` survived. A pool selector's
    reasons are written to `reasons_path` (one {id, reason} per line) when given."""
    policy = recipe.policy
    if policy.scope == "pool":
        picked = run_selector(
            policy.code or "",
            examples,
            limits=SandboxLimits(wall_s=300.0, memory_mb=4096, unsafe_no_sandbox=unsafe_no_sandbox),
        )
        if not picked.ok:
            return [], None, ("policy", picked.message)
        by_id = {e.id: e for e in examples}
        selected = [by_id[i] for i, _ in picked.picks]
        if reasons_path is not None:
            lines = [msgspec.json.encode({"id": i, "reason": r}) for i, r in picked.picks]
            write_bytes_atomic(reasons_path, b"".join(x + b"\n" for x in lines))
        scores = [1.0] * len(selected)
        rejected = len(examples) - len(selected)
    else:
        outcome = run_policy(
            policy,
            examples,
            limits=SandboxLimits(wall_s=120.0, memory_mb=2048, unsafe_no_sandbox=unsafe_no_sandbox),
        )
        if not outcome.ok:
            return [], None, ("policy", outcome.message)
        selected = [e for e, s in zip(examples, outcome.scores, strict=True) if s > 0]
        scores = [s for s in outcome.scores if s > 0]
        rejected = len(examples) - len(selected)
    score_of = {e.id: s for e, s in zip(selected, scores, strict=True)}
    kept, removed = postprocess(selected, recipe.postprocess)
    chosen, report = compose(kept, [score_of[e.id] for e in kept], recipe.composition)
    merged = dict(report.removed)
    if rejected:
        merged["rejected by policy"] = merged.get("rejected by policy", 0) + rejected
    for why, n in removed.items():
        merged[why] = merged.get(why, 0) + n
    report = SelectionReport(candidates=len(examples), selected=len(chosen), removed=merged)
    if len(chosen) < min_examples:
        return (
            chosen,
            report,
            (
                "too-few",
                f"only {len(chosen)} examples survive selection and post-processing "
                f"(removed: {merged}); at least {min_examples} are needed. Collect more "
                "traces (more seeds or longer episodes), loosen the selector, or lower "
                "min_examples on purpose.",
            ),
        )
    return chosen, report, None


def _tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


async def _pool(config: Loop2Config, model: Any, scaffold: Any, full: Suite) -> list[str]:
    if config.traces:
        return list(config.traces)
    suite = pool_suite_of(config, full)
    leaked = {(e.env_id, e.seed) for e in suite.episodes} & eval_keys(full)
    if leaked and not config.allow_eval_seeds:
        raise ValueError(f"collect_seeds {sorted(leaked)} are evaluation episodes")
    pool_dir = Path(config.run_dir) / "pool"
    _log(f"collecting a pool of {len(suite.episodes)} episodes with the current agent")
    await run_agent(
        suite,
        scaffold,
        RoleModels.single(model),
        pool_dir,
        concurrency=config.concurrency,
        progress=config.progress,
    )
    return [str(pool_dir / "eval")]


async def run_loop2_async(config: Loop2Config) -> TrialRecord | None:
    """Runs (or resumes) Loop 2 and returns the best trial (None if no trial succeeded)."""
    started = time.perf_counter()
    run = Path(config.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(run / "config.json", msgspec.json.format(msgspec.json.encode(config)))
    if config.demo:
        _log("** demo-scale run: a tiny pool, a few LoRA steps on CPU; figures are not results **")
    if config.unsafe_no_sandbox:
        _log(f"** UNSAFE: {warn_unsafe()} **")
    elif problem := sandbox_problem():
        raise SandboxUnavailable(problem)
    model = load_model(config.base_llm)
    scaffold = load_scaffold(
        _scaffold_dir(config), hook_limits=HookLimits(unsafe_no_sandbox=config.unsafe_no_sandbox)
    )
    full = full_suite(config)
    eval_suite = eval_suite_of(config, full)
    traces = await _pool(config, model, scaffold, full)
    examples = extract_examples(traces, plan_actions=True)
    write_examples(run / "examples.jsonl", examples)
    _log(f"{len(examples)} candidate memory turns from {traces}")
    if not examples:
        raise ValueError(f"no memory turns found in {traces}")
    ledger = read_ledger(run)
    meta = None
    for index in range(len(ledger), config.trials):
        if config.max_hours is not None and time.perf_counter() - started > config.max_hours * 3600:
            _log(f"time budget of {config.max_hours} h spent; stopping before trial {index}")
            break
        spent = sum(r.meta_tokens for r in ledger)
        proposer, note, tokens = "default", "", 0
        inputs: list[str] = []
        recipe = config.default_recipe
        if index > 0:
            if spent >= config.max_meta_tokens:
                _log(f"meta-token budget spent ({spent}); stopping before trial {index}")
                break
            budget = Budget(
                max_turns=config.meta_turns,
                max_tokens=config.max_meta_tokens - spent,
                max_wall_s=1800.0,
            )
            trial_dir = run / "trials" / f"{index:03d}"
            saved = trial_dir / "proposal.json"
            if saved.exists():  # resumed: the proposal was made (and paid for) already
                proposal = msgspec.json.decode(saved.read_bytes(), type=Proposal)
            else:
                if meta is None:  # the same spec shares the loaded model (adapters off for meta)
                    same = config.meta_llm == config.base_llm
                    meta = model if same else load_model(config.meta_llm)
                proposal = await propose_recipe(
                    meta,
                    ledger,
                    examples,
                    default=config.default_recipe,
                    budget=budget,
                    max_tokens_per_turn=config.meta_tokens_per_turn,
                    code_roots=_code_roots(config),
                    run_dir=run,
                    max_lora_rank=config.max_lora_rank,
                    unsafe_no_sandbox=config.unsafe_no_sandbox,
                )
                trial_dir.mkdir(parents=True, exist_ok=True)
                write_bytes_atomic(saved, msgspec.json.encode(proposal))
            tokens = proposal.tokens
            inputs = list(proposal.inputs)
            if proposal.recipe is not None:
                proposer, recipe = "meta", proposal.recipe
            else:
                proposer, note = "fallback", proposal.reason
                _log(f"trial {index}: meta proposal unusable ({note}); using the default recipe")
        recipe = _capped(recipe, config)
        same = next((r for r in ledger if r.status == "ok" and r.recipe == recipe), None)
        if same is not None:  # e.g. a fallback to the default: training it again teaches nothing
            _log(f"trial {index}: same recipe as trial {same.index}; its result is reused")
            reused = f"same recipe as trial {same.index}, result reused"
            record = msgspec.structs.replace(
                same,
                index=index,
                proposer=proposer,
                meta_tokens=tokens,
                inputs=inputs,
                wall_s=0.0,
                note=f"{note}; {reused}" if note else reused,
            )
            append_ledger(run, record)
            ledger.append(record)
            continue
        record = await run_trial(
            index,
            recipe,
            examples,
            config=config,
            model=model,
            scaffold=scaffold,
            eval_suite=eval_suite,
            hygiene_suite=full,
            proposer=proposer,
            note=note,
            meta_tokens=tokens,
        )
        record = msgspec.structs.replace(record, inputs=inputs)
        append_ledger(run, record)
        ledger.append(record)
        _keep_best(run, ledger)
    _plot_all(run, ledger)
    _log(ledger_table(ledger))
    if config.unsafe_no_sandbox:
        _log("** UNSAFE: this run's selector and hooks ran WITHOUT the bubblewrap sandbox **")
    best = best_trial(ledger)
    if best is not None:
        _log(
            f"best: trial {best.index} ({best.recipe.name}); adapter in {run / 'best' / 'adapter'}"
        )
    return best


def _code_roots(config: Loop2Config) -> dict[str, Path]:
    """The agent code the data engine reads: the scaffold and the agent package's step logic."""
    import automem_agent

    return {"scaffold": _scaffold_dir(config), "agent": Path(automem_agent.__file__).parent}


def _scaffold_dir(config: Loop2Config) -> Path:
    source = Path(config.scaffold)
    source = source if source.is_dir() else builtin_scaffold(config.scaffold)
    if config.scaffold_rounds is None:
        return source
    # A copy with fewer LOG/PLAN rounds: the demo's small model rarely ends a phase early, and
    # every round is a slow CPU generation. The copy has its own content hash in the traces.
    target = Path(config.run_dir) / "scaffold"
    if not target.exists():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        manifest = target / "scaffold.toml"
        text = re.sub(
            r"(?m)^max_rounds\s*=\s*\d+",
            f"max_rounds = {config.scaffold_rounds}",
            manifest.read_text(encoding="utf-8"),
        )
        manifest.write_text(text, encoding="utf-8")
    return target


def _keep_best(run: Path, ledger: list[TrialRecord]) -> None:
    best = best_trial(ledger)
    if best is None or best.train is None:
        return
    write_bytes_atomic(run / "best.json", msgspec.json.format(msgspec.json.encode(best)))
    target = run / "best" / "adapter"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(best.train.adapter_dir, target)


def _plot_all(run: Path, ledger: list[TrialRecord]) -> None:
    # A bare Figure draws with the Agg canvas without touching pyplot's global backend.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    plotted = False
    for r in ledger:
        records = read_loss_log(run / "trials" / f"{r.index:03d}" / "train")
        if records:
            plotted = True
            ax.plot(
                [x["step"] for x in records], [x["loss"] for x in records], label=f"trial {r.index}"
            )
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("response-token loss")
    ax.grid(alpha=0.3)
    if plotted:
        ax.legend()
    fig.tight_layout()
    fig.savefig(run / "loss.png", dpi=100)


def run_loop2(config: Loop2Config) -> TrialRecord | None:
    """Synchronous entry point for apps: `asyncio.run(run_loop2_async(config))`."""
    return asyncio.run(run_loop2_async(config))
