"""Loop 2 end to end: pool of traces -> trials (recipe -> data -> LoRA -> two-model eval) ->
the best recipe kept. One run directory holds everything and is the unit of resume:

    <run>/config.toml, recipe.json (the default recipe), source.json (Loop 1's incumbent, with
    --from-run), scaffold/ (the scaffold played), pool/ (collected traces), pool.json,
    examples.jsonl, eval/base/ (base-only agent), trials/NNN/{recipe.json, proposal.json,
    examples.jsonl, train/, eval/}, trials.jsonl, best.json, best/adapter/, loss.png,
    report.md, train.log
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import (
    HookLimits,
    RoleModels,
    load_model,
    load_scaffold,
    resolve_scaffold,
    with_sampling,
    write_bytes_atomic,
)
from automem_agent.meta import (
    Budget,
    SandboxLimits,
    SandboxUnavailable,
    Tool,
    sandbox_problem,
    warn_unsafe,
)
from automem_envs import Suite

from automem_train._config import TrainConfig
from automem_train._dataset import EvalKeys, build_training_set, check_eval_leak, eval_keys
from automem_train._evaluate import attach_adapter, compare_specialist, run_agent
from automem_train._examples import MemoryExample, extract_examples, write_examples
from automem_train._fit import WontFit
from automem_train._from_run import Loop1Source, Loop2Error, loop1_source
from automem_train._loop_config import Loop2Config, check_resume, save_config
from automem_train._policy import run_policy
from automem_train._pool import drop_eval_episodes, eval_suite_of, full_suite, pool_suite_of
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
from automem_train._report import PoolRecord, write_report
from automem_train._select import SelectionReport, compose
from automem_train._selector import run_selector
from automem_train._trainer import TrainingOOM, plot_loss, train_lora

log = logging.getLogger("automem_train")


def _log(message: str) -> None:
    # The console and the run's train.log (a handler `run_loop2_async` adds) get every line.
    print(message, flush=True)
    log.info(message)


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
    hygiene_keys: EvalKeys | None = None,
    proposer: str,
    note: str = "",
    meta_tokens: int = 0,
) -> TrialRecord:
    """Data, training and evaluation for one recipe; failures become a `failed` record.
    Training data never comes from `hygiene_suite`'s episodes (default: `eval_suite`'s) nor from
    `hygiene_keys` (e.g. a Loop 1 run's evaluation episodes)."""
    forbidden = eval_keys(hygiene_suite or eval_suite) | set(hygiene_keys or ())
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
        check_eval_leak(chosen, forbidden, allow_eval_seeds=config.allow_eval_seeds)
    if failure:
        kind, message = failure
        return TrialRecord(
            status="failed", note=message, failure=kind, selection=selection, **common
        )
    write_examples(trial_dir / "examples.jsonl", chosen)
    assert selection is not None  # select_for_recipe returns None only with a failure
    tokenizer = _tokenizer(_base_path(config, model))
    data = build_training_set(
        chosen,
        tokenizer,
        max_length=recipe.train.max_length,
        eval_episodes=forbidden,
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


async def _pool(
    config: Loop2Config, model: Any, scaffold: Any, full: Suite, excluded: EvalKeys
) -> tuple[list[str], dict[str, list[int]]]:
    """The trace paths of the pool (given, or collected now) and the seeds collected per env."""
    if config.traces:
        return list(config.traces), {}
    suite = pool_suite_of(config, full, excluded)
    leaked = sorted({(e.env_id, e.seed) for e in suite.episodes} & excluded)
    if leaked and not config.allow_eval_seeds:
        names = ", ".join(f"{env} seed {seed}" for env, seed in leaked[:10])
        raise Loop2Error(f"collect_seeds include evaluation episodes ({names}); pick others")
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
    seeds: dict[str, list[int]] = {}
    for e in suite.episodes:
        seeds.setdefault(e.env_id, []).append(e.seed)
    return [str(pool_dir / "eval")], seeds


def _source(config: Loop2Config) -> Loop1Source | None:
    """Loop 1's incumbent as this run first saw it (`source.json`), read fresh on a new run."""
    if config.from_run is None:
        return None
    saved = Path(config.run_dir) / "source.json"
    current = loop1_source(config.from_run)
    if not saved.exists():
        write_bytes_atomic(saved, msgspec.json.format(msgspec.json.encode(current)))
        return current
    source = msgspec.json.decode(saved.read_bytes(), type=Loop1Source)
    if current.incumbent != source.incumbent:
        _log(
            f"Loop 1's incumbent is now iteration {current.incumbent}; this run keeps iteration "
            f"{source.incumbent}, which its pool was collected with (a new --run-dir takes "
            "the new one)"
        )
    return source


async def run_loop2_async(config: Loop2Config) -> TrialRecord | None:
    """Runs (or resumes) Loop 2 and returns the best trial (None if no trial succeeded).
    A run directory made with a different setup raises `Loop2Error`; so does a pool with no
    memory turn left once evaluation episodes are skipped."""
    run = Path(config.run_dir)
    check_resume(config)  # before anything is written there
    run.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    # The JSONL rule's warnings (a torn line skipped) belong in the run's log too.
    loggers = [log, logging.getLogger("automem_agent.jsonl")]
    for logger in loggers:
        logger.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return await _run(config, run)
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
        with contextlib.suppress(Exception):
            handler.close()


async def _run(config: Loop2Config, run: Path) -> TrialRecord | None:
    started = time.perf_counter()
    save_config(config)
    log.info(config.scale_line)  # the app printed it already, as its first line
    _log(f"Loop 2 run {run} ({'resumed' if read_ledger(run) else 'started'})")
    if config.demo:
        _log("** demo-scale run: a tiny pool, a few LoRA steps on CPU; figures are not results **")
    if config.unsafe_no_sandbox:
        _log(f"** UNSAFE: {warn_unsafe()} **")
    elif problem := sandbox_problem():
        raise SandboxUnavailable(problem)
    source = _source(config)
    if source is not None:
        _log(source.describe())
    model = load_model(config.base_llm)
    scaffold = _sampled(
        load_scaffold(
            _scaffold_dir(config, source),
            hook_limits=HookLimits(unsafe_no_sandbox=config.unsafe_no_sandbox),
        ),
        config,
    )
    full = full_suite(config)
    eval_suite = eval_suite_of(config, full)
    excluded = eval_keys([full, eval_suite]) | set(source.evaluation if source else [])
    collector = (
        load_model(config.collect_llm)
        if config.collect_llm and config.collect_llm != config.base_llm and not config.traces
        else model
    )
    traces, collected = await _pool(config, collector, scaffold, full, excluded)
    if config.eval_decoding is not None:  # both evaluations play this decoding
        manifest = msgspec.structs.replace(scaffold.manifest, decoding=config.eval_decoding)
        scaffold = dataclasses.replace(scaffold, manifest=manifest)
    examples = extract_examples(traces, plan_actions=True)
    skipped: list[MemoryExample] = []
    if not config.allow_eval_seeds:
        examples, skipped = drop_eval_episodes(examples, excluded)
    if skipped:
        episodes = sorted({(e.env_id, e.seed) for e in skipped})
        names = [f"{env} seed {seed}" for env, seed in episodes]
        _log(
            f"skipped {len(skipped)} memory turns from {len(episodes)} traces on evaluation "
            f"seeds ({', '.join(names[:10])}{' ...' if len(names) > 10 else ''}); training "
            "never sees them"
        )
    write_examples(run / "examples.jsonl", examples)
    pool = PoolRecord(
        sources=traces,
        episodes=len({e.source for e in examples}),
        candidates=len(examples),
        collected_seeds=collected,
        skipped_turns=len(skipped),
        skipped_episodes=sorted({f"{e.env_id} seed {e.seed}" for e in skipped}),
        loop1=source.describe() if source else "",
    )
    write_bytes_atomic(run / "pool.json", msgspec.json.format(msgspec.json.encode(pool)))
    _log(f"{len(examples)} candidate memory turns from {', '.join(traces)}")
    if not examples:
        why = " once evaluation episodes are skipped" if skipped else ""
        raise Loop2Error(f"no memory turns left in {', '.join(traces)}{why}; give other traces")
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
                    shared = config.meta_llm == config.base_llm
                    meta = model if shared else load_model(config.meta_llm)
                proposal = await propose_recipe(
                    meta,
                    ledger,
                    examples,
                    default=config.default_recipe,
                    budget=budget,
                    max_tokens_per_turn=config.meta_tokens_per_turn,
                    code_roots=_code_roots(config, source),
                    run_dir=run,
                    max_lora_rank=config.max_lora_rank,
                    unsafe_no_sandbox=config.unsafe_no_sandbox,
                    extra_tools=_attribution_tools(config, source, scaffold, collector),
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
            hygiene_keys=excluded,
            proposer=proposer,
            note=note,
            meta_tokens=tokens,
        )
        record = msgspec.structs.replace(record, inputs=inputs)
        append_ledger(run, record)
        ledger.append(record)
        _keep_best(run, ledger)
    report = write_report(
        run,
        ledger,
        pool,
        demo=config.demo,
        unsafe=config.unsafe_no_sandbox,
        scale_line=config.scale_line,
    )
    _log(ledger_table(ledger))
    if config.unsafe_no_sandbox:
        _log("** UNSAFE: this run's selector and hooks ran WITHOUT the bubblewrap sandbox **")
    best = best_trial(ledger)
    if best is not None:
        _log(
            f"best: trial {best.index} ({best.recipe.name}); adapter in {run / 'best' / 'adapter'}"
        )
    _log(f"report: {report}")
    return best


def _code_roots(config: Loop2Config, source: Loop1Source | None = None) -> dict[str, Path]:
    """The agent code the data engine reads: the scaffold and the agent package's step logic."""
    import automem_agent

    return {
        "scaffold": _scaffold_dir(config, source),
        "agent": Path(automem_agent.__file__).parent,
    }


def _scaffold_dir(config: Loop2Config, source: Loop1Source | None = None) -> Path:
    """The scaffold the agent plays: Loop 1's incumbent (copied into the run, so a resumed run
    keeps it while Loop 1 goes on) or `config.scaffold`."""
    if source is None:
        return resolve_scaffold(config.scaffold)
    target = Path(config.run_dir) / "scaffold"
    if not target.exists():
        tmp = target.with_name(".scaffold.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(source.scaffold_dir, tmp, ignore=shutil.ignore_patterns("__pycache__"))
        tmp.rename(target)  # whole or not at all: a kill mid-copy leaves only the tmp
    return target


def _sampled(scaffold: Any, config: Loop2Config) -> Any:
    """`scaffold` with the run's sampling (the protocol's) on every phase: the pool and both
    evaluations play with it. The scaffold's files, and so its content hash, stay as they are;
    config.toml records the sampling."""
    manifest = with_sampling(
        scaffold.manifest,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        max_rounds=config.max_rounds,
    )
    return (
        scaffold
        if manifest == scaffold.manifest
        else dataclasses.replace(scaffold, manifest=manifest)
    )


def _attribution_tools(
    config: Loop2Config, source: Loop1Source | None, scaffold: Any, model: Any
) -> list[Tool]:
    """The `attribute` tool over the collected pool, with one session's replays and the calls
    the plan allows them, when configured."""
    from automem_scaffold import AttributionBudget, attribution_tool  # Loop 1's bounded tool

    pool = Path(config.run_dir) / "pool"
    if config.attribution_replays <= 0 or config.traces or not (pool / "eval").is_dir():
        return []
    budget = AttributionBudget.planned(
        config.attribution_replays, config.attribution_horizon, scaffold.manifest, config.envs[0]
    )
    tool = attribution_tool(
        pool,
        _scaffold_dir(config, source),
        model,
        budget=budget,
        horizon=config.attribution_horizon,
    )
    return [tool]


def _keep_best(run: Path, ledger: list[TrialRecord]) -> None:
    best = best_trial(ledger)
    if best is None or best.train is None:
        return
    write_bytes_atomic(run / "best.json", msgspec.json.format(msgspec.json.encode(best)))
    target = run / "best" / "adapter"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(best.train.adapter_dir, target)


def run_loop2(config: Loop2Config) -> TrialRecord | None:
    """Synchronous entry point for apps: `asyncio.run(run_loop2_async(config))`."""
    return asyncio.run(run_loop2_async(config))
