"""Loop 1: evaluate, review, validate, gate, archive — resumable from the run directory.

Iteration 0 is the start scaffold, evaluated on the fixed seeds. Iteration k >= 1 revises the
incumbent (the last kept iteration) into a candidate, validates it, evaluates it on the same
seeds and keeps it iff the gate says so. Each phase's output on disk marks it done.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from pathlib import Path
from typing import Any

import msgspec
from automem_agent import ChatModel, read_manifest, write_json_atomic
from automem_agent.meta import Tool, sandbox_problem, warn_unsafe
from automem_envs import EpisodeSpec

from automem_scaffold._archive import (
    Decision,
    copy_scaffold,
    iteration_dir,
    lineage,
    read_decisions,
    read_json,
)
from automem_scaffold._attempts import (
    archive_attempt,
    attempts_meta_tokens,
    current_plan,
    files_of,
    read_attempts,
    revisions,
    seed_deltas,
)
from automem_scaffold._attribute import AttributionBudget, attribution_tool
from automem_scaffold._bundle import build_bundle
from automem_scaffold._caps import set_sampling
from automem_scaffold._claude_code import ClaudeCodeReviewer, is_claude_code
from automem_scaffold._config import (
    EvolveConfig,
    EvolveError,
    check_resume,
    load_config,
    save_config,
)
from automem_scaffold._evaluate import Evaluation, evaluate, load_evaluation
from automem_scaffold._gate import decide
from automem_scaffold._ledger import build_ledger
from automem_scaffold._lineage import (
    AttemptPlan,
    AttemptRecord,
    lineage_section,
    plan_next,
    write_lineage,
)
from automem_scaffold._pareto import build_archive, offer_archive, offered_to
from automem_scaffold._plan import start_scaffold
from automem_scaffold._pools import search_accept_gap, seed_pools
from automem_scaffold._prompt import continuation_message
from automem_scaffold._report import IterationRow, RunSummary, write_outputs
from automem_scaffold._review import (
    CandidateOutcome,
    Continuation,
    ReviewSettings,
    resumable,
    revise,
)
from automem_scaffold._rules import RULES, RulesReviewer
from automem_scaffold._screen import (
    ScreenResult,
    evaluation_cost,
    judge_screen,
    screen_episodes,
    screen_savings,
)

log = logging.getLogger("automem_scaffold")


class Timings(msgspec.Struct, kw_only=True):
    """`timings.json` of an iteration: wall seconds per phase and inside the LLMs."""

    evaluate: float = 0.0
    review: float = 0.0
    validate: float = 0.0
    gate: float = 0.0
    screen: float = 0.0
    agent_llm: float = 0.0
    meta_llm: float = 0.0


def _memory_figures(evaluation: Evaluation | None) -> dict:
    """The report's memory columns from an iteration's evaluation (empty: not evaluated)."""
    if evaluation is None or not evaluation.steps:
        return {}
    rates = {p: evaluation.parse_rate(p) for p in evaluation.turns}
    return {
        "write_to_search": evaluation.write_to_search,
        "memory_growth_per_step": evaluation.memory_growth_per_step,
        "memory_ops": sum(evaluation.op_counts.values()),
        "parse_rate": {p: r for p, r in sorted(rates.items()) if r is not None},
    }


def _load_timings(path: Path) -> Timings:
    return read_json(path, Timings) if path.exists() else Timings()


class _Stop(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Evolver:
    """One Loop 1 run. Models may be injected (tests); otherwise they load from the config."""

    def __init__(
        self,
        config: EvolveConfig,
        *,
        agent_model: ChatModel | None = None,
        meta_model: ChatModel | ClaudeCodeReviewer | None = None,
        progress: Any = None,
        show_episodes: bool = False,
    ):
        self.config = config
        self.run_dir = Path(config.run_dir)
        self._agent = agent_model
        self._meta = meta_model
        self.progress = progress
        self.show_episodes = show_episodes
        self.started = time.monotonic()
        self.pools = seed_pools(config)
        self.fixed, self.heldout = self.pools.search, self.pools.report

    # models are loaded on first use, so a resumed run that only needs the gate loads no meta-LLM
    @property
    def agent(self) -> ChatModel:
        if self._agent is None:
            from automem_agent.models import load_model

            self._agent = load_model(self.config.agent_llm)
        return self._agent

    @property
    def meta(self) -> ChatModel | ClaudeCodeReviewer:
        if self._meta is None:
            from automem_agent.models import load_model

            if is_claude_code(self.config.meta_llm):
                self._meta = ClaudeCodeReviewer(
                    self.config.meta_llm, unsafe_no_sandbox=self.config.unsafe_no_sandbox
                )
            elif self.config.meta_llm == RULES:
                self._meta = RulesReviewer()  # the rule-based baseline: no LLM at all
            elif self.config.meta_llm == self.config.agent_llm:
                self._meta = self.agent  # one model serves both roles: load it once
            else:
                self._meta = load_model(self.config.meta_llm)
        return self._meta

    def _phase(self, text: str, *, advance: bool = False) -> None:
        log.info(text)
        if self.progress is not None:
            self.progress(text, advance=advance)

    # ------------------------------------------------------------------ run
    def prepare(self) -> None:
        """Creates the run directory, or checks that it was made by the same setup."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / "config.toml"
        if path.exists():
            try:
                stored = load_config(path)
            except (msgspec.ValidationError, ValueError) as exc:
                raise EvolveError(f"{path} is unreadable: {exc}") from None
            check_resume(stored, self.config)
        save_config(self.config, path)

    async def run(self) -> RunSummary:
        self.prepare()
        stopped = "completed"
        try:
            await self._iteration_zero()
            for k in range(1, self.config.iterations + 1):
                await self._iteration(k)
            await self._heldout()
        except _Stop as stop:
            stopped = stop.reason
            self._phase(f"stopping: {stop.reason}")
        return self.finish(stopped)

    def finish(self, stopped: str) -> RunSummary:
        decisions = read_decisions(self.run_dir)
        entries = lineage(decisions)
        write_json_atomic(self.run_dir / "lineage.json", entries)
        ledger = build_ledger(self.run_dir)
        write_json_atomic(self.run_dir / "costs.json", ledger)
        rows = []
        for entry in entries:
            it = iteration_dir(self.run_dir, entry.iteration)
            evaluation = load_evaluation(it)
            rows.append(
                IterationRow(
                    iteration=entry.iteration,
                    parent=entry.parent,
                    kept=entry.kept,
                    stage=entry.stage,
                    reason=entry.reason,
                    mean_progression=entry.mean_progression,
                    per_env=decisions[entry.iteration].per_env,
                    incumbent_after=entry.incumbent_after,
                    meta_tokens=attempts_meta_tokens(it),
                    agent_tokens=sum(
                        v.get("input", 0) + v.get("output", 0) for v in evaluation.tokens.values()
                    )
                    if evaluation
                    else 0,
                    timings=msgspec.structs.asdict(_load_timings(it / "timings.json")),
                    accept_mean=decisions[entry.iteration].accept_mean,
                    search_accept_gap=search_accept_gap(decisions, entry.iteration),
                    **_memory_figures(evaluation),
                )
            )
        heldout = load_evaluation(self.run_dir / "heldout")
        incumbent = entries[-1].incumbent_after if entries else 0
        fixed_mean = decisions[incumbent].mean_progression if decisions else None
        report_start = load_evaluation(self.run_dir / "report_start")
        if report_start is None and incumbent == 0:
            report_start = heldout  # the start scaffold is the final one
        final_accept = decisions[incumbent].accept_mean if decisions else None
        start_accept = decisions[0].accept_mean if final_accept is not None else None
        accept_gain = (
            final_accept - start_accept
            if final_accept is not None and start_accept is not None
            else None
        )
        summary = RunSummary(
            run_dir=str(self.run_dir),
            demo_scale=self.config.demo_scale,
            scale_line=self.config.scale_line,
            unsafe_no_sandbox=self.config.unsafe_no_sandbox,
            stopped=stopped,
            iterations_planned=self.config.iterations,
            iterations_done=max(0, len(entries) - 1),
            incumbent=incumbent,
            start_mean=decisions[0].mean_progression if 0 in decisions else None,
            final_mean=fixed_mean,
            heldout_mean=heldout.mean if heldout else None,
            heldout_gap=(fixed_mean - heldout.mean) if heldout and fixed_mean is not None else None,
            fixed_episodes=[e.key for e in self.fixed],
            heldout_episodes=[e.key for e in self.heldout],
            meta_tokens=ledger.meta_tokens,
            agent_tokens=ledger.agent_tokens,
            dollars=ledger.dollars,
            rows=rows,
            heldout_timings=msgspec.structs.asdict(
                _load_timings(self.run_dir / "heldout" / "timings.json")
            ),
            screen=screen_savings(self.run_dir, tokens_per_s=self.config.gpu_tokens_per_s)
            if self.config.screen_seeds > 0
            else None,
            report_start_mean=report_start.mean if report_start and self.pools.accept else None,
            accept_report_gap=accept_gain - (heldout.mean - report_start.mean)
            if accept_gain is not None and heldout and report_start
            else None,
        )
        write_outputs(self.run_dir, summary)
        return summary

    # ------------------------------------------------------------------ budgets
    def _check_budget(self) -> None:
        c = self.config
        if c.max_hours is not None and (time.monotonic() - self.started) / 3600 >= c.max_hours:
            raise _Stop(f"max_hours ({c.max_hours:g} h) reached")
        if c.max_meta_tokens is not None or c.max_cost is not None:
            ledger = build_ledger(self.run_dir)
            if c.max_meta_tokens is not None and ledger.meta_tokens >= c.max_meta_tokens:
                raise _Stop(
                    f"max_meta_tokens ({c.max_meta_tokens}) reached: {ledger.meta_tokens} used"
                )
            if c.max_cost is not None and ledger.dollars >= c.max_cost:
                raise _Stop(f"max_cost (${c.max_cost:g}) reached: ${ledger.dollars:.4f} spent")

    def _meta_token_allowance(self) -> int:
        c = self.config
        if c.max_meta_tokens is None:
            return c.review_tokens
        used = build_ledger(self.run_dir).meta_tokens
        return max(1, min(c.review_tokens, c.max_meta_tokens - used))

    # ------------------------------------------------------------------ phases
    def _start_scaffold(self) -> Path:
        return start_scaffold(self.config)

    async def _evaluate(
        self, scaffold: Path, episodes: list[EpisodeSpec], root: Path, phase: str
    ) -> Evaluation:
        timings_path = root / "timings.json"
        timings = _load_timings(timings_path)
        if (done := load_evaluation(root)) is not None:
            return done
        self._phase(f"{phase}: {root.relative_to(self.run_dir)} on {len(episodes)} episodes")
        start = time.perf_counter()
        evaluation = await evaluate(
            scaffold,
            episodes,
            root,
            model=self.agent,
            concurrency=self.config.concurrency,
            progress=self.show_episodes,
            hook_timeout_s=self.config.hook_timeout_s,
            hook_memory_mb=self.config.hook_memory_mb,
            unsafe_no_sandbox=self.config.unsafe_no_sandbox,
        )
        setattr(timings, phase, getattr(timings, phase) + time.perf_counter() - start)
        timings.agent_llm += evaluation.llm_s
        write_json_atomic(timings_path, timings)
        return evaluation

    async def _iteration_zero(self) -> None:
        it = iteration_dir(self.run_dir, 0)
        if (it / "decision.json").exists():
            return
        caps: list[str] = []
        if not (it / "scaffold").exists():
            tmp = it / ".scaffold.tmp"
            copy_scaffold(self._start_scaffold(), tmp)
            caps = set_sampling(
                tmp / "scaffold.toml",
                max_rounds=self.config.start_max_rounds,
                max_tokens=self.config.start_max_tokens,
                temperature=self.config.start_temperature,
            )
            if caps:
                self._phase(f"start scaffold set by the protocol: {'; '.join(caps)}")
            tmp.rename(it / "scaffold")
        self._check_budget()
        evaluation = await self._evaluate(it / "scaffold", self.fixed, it, "evaluate")
        accept = None
        if self.pools.accept:
            accept = await self._evaluate(
                it / "scaffold", self.pools.accept, it / "accept", "evaluate"
            )
        write_json_atomic(
            it / "decision.json",
            Decision(
                iteration=0,
                parent=None,
                kept=True,
                stage="start",
                reason=f"start point ({self.config.from_scaffold}"
                + (f"; {'; '.join(caps)})" if caps else ")"),
                scaffold_hash=evaluation.scaffold_hash,
                mean_progression=evaluation.mean,
                per_env=evaluation.per_env,
                per_episode=evaluation.per_episode,
                accept=accept.per_episode if accept else {},
                accept_mean=accept.mean if accept else None,
            ),
        )
        self._phase(f"start scaffold: mean progression {evaluation.mean:.3f}", advance=True)

    def _incumbent(self, before: int) -> tuple[int, Decision]:
        decisions = read_decisions(self.run_dir)
        kept = [k for k, d in decisions.items() if d.kept and k < before]
        number = max(kept)
        return number, decisions[number]

    async def _iteration(self, k: int) -> None:
        """Attempts until one is kept or the iteration's attempts are used up (see
        `plan_next`); every attempt is recorded in `decision.json`."""
        it = iteration_dir(self.run_dir, k)
        if (it / "decision.json").exists():
            return
        c = self.config
        parent, parent_decision = self._incumbent(k)
        done = read_attempts(it)
        plan = current_plan(it, done) or plan_next(
            done, fresh=c.attempts, continuations=c.continuations
        )
        while plan is not None:
            if not (it / "attempt.json").exists():
                it.mkdir(parents=True, exist_ok=True)
                write_json_atomic(it / "attempt.json", plan)
            decision, record = await self._attempt(k, plan, parent, parent_decision, done)
            following = (
                None
                if record.kept
                else plan_next([*done, record], fresh=c.attempts, continuations=c.continuations)
            )
            if following is not None:
                try:
                    self._check_budget()
                except _Stop:
                    # Out of budget between attempts: the iteration ends with what it has.
                    self._decide(k, decision, [*done, record])
                    raise
            if following is None:
                self._decide(k, decision, [*done, record])
                return
            self._phase(
                f"iteration {k}: attempt {plan.number} rejected at {record.stage}; "
                f"attempt {following.number} ({following.kind}) follows"
            )
            done.append(archive_attempt(it, record))
            plan = following

    def _decide(self, k: int, decision: Decision, attempts: list[AttemptRecord]) -> None:
        last = attempts[-1]
        reason = decision.reason
        if len(attempts) > 1:
            reason = (
                f"attempt {last.number} ({last.kind}): {reason}"
                if last.kept
                else f"all {len(attempts)} attempts rejected; the last (attempt {last.number}, "
                f"{last.kind}) at {last.stage}: {reason}"
            )
        decision = msgspec.structs.replace(decision, reason=reason, attempts=attempts)
        write_json_atomic(iteration_dir(self.run_dir, k) / "decision.json", decision)
        if self.config.pareto and decision.stage == "gate":
            build_archive(self.run_dir)
        self._phase(
            f"iteration {k}: {'KEPT' if decision.kept else 'rejected'}: {reason}", advance=True
        )

    def _continuation(self, it: Path, plan: AttemptPlan, done: list[AttemptRecord]):
        earlier = next(a for a in done if a.number == plan.continues)
        deltas = ", ".join(f"{key} {d:+.3f}" for key, d in sorted(earlier.deltas.items()))
        message = continuation_message(
            attempt=plan.number,
            of=earlier.number,
            stage=earlier.stage,
            result=earlier.reason,
            validation_error=earlier.validation_error,
            deltas=deltas,
        )
        return Continuation(from_dir=str(files_of(it, earlier)), message=message)

    def _attribution_tools(self, parent_dir: Path) -> list[Tool]:
        """The `attribute` tool over the reviewed (search-pool) traces of `parent_dir`, with
        this session's share of replays and calls, when configured and the reviewer is an LLM
        in a tool session (the rules never call it; Claude Code keeps its own tools)."""
        c = self.config
        if c.attribution_replays <= 0 or c.rule_reviewer or is_claude_code(c.meta_llm):
            return []
        scaffold = parent_dir / "scaffold"
        budget = AttributionBudget.planned(
            c.attribution_replays, c.attribution_horizon, read_manifest(scaffold), c.envs[0]
        )
        tool = attribution_tool(
            parent_dir, scaffold, self.agent, budget=budget, horizon=c.attribution_horizon
        )
        return [tool]

    async def _attempt(
        self,
        k: int,
        plan: AttemptPlan,
        parent: int,
        parent_decision: Decision,
        done: list[AttemptRecord],
    ) -> tuple[Decision, AttemptRecord]:
        """One attempt at the top of the iteration directory: review (fresh or continued),
        validation, screen and gate. Returns the decision it would make as the last attempt,
        and its record."""
        it = iteration_dir(self.run_dir, k)
        parent_dir = iteration_dir(self.run_dir, parent)
        timings_path = it / "timings.json"
        c = self.config
        if not (it / "candidate.json").exists():
            self._check_budget()
            bundle = parent_dir / "bundle"
            if not (bundle / "summary.md").exists():
                build_bundle(
                    parent_dir,
                    parent_dir / "scaffold",
                    bundle,
                    title=f"Iteration {parent:03d} evaluation",
                )
            if self.config.pareto:
                offered = offer_archive(self.run_dir, parent, bundle)
                it.mkdir(parents=True, exist_ok=True)
                write_json_atomic(it / "offered.json", offered)
            history = revisions(self.run_dir, before=k, current=done)
            write_lineage(bundle, history)
            self._phase(
                f"iteration {k}: attempt {plan.number} ({plan.kind}): review of iteration "
                f"{parent} by {self.config.meta_llm}"
            )
            outcome = await revise(
                iteration=k,
                incumbent=parent,
                incumbent_scaffold=parent_dir / "scaffold",
                incumbent_mean=parent_decision.mean_progression or 0.0,
                bundle_dir=bundle,
                episodes=[e.key for e in self.fixed],
                out_dir=it,
                meta=self.meta,
                settings=ReviewSettings(
                    turns=c.review_turns,
                    tokens=self._meta_token_allowance(),
                    wall_s=c.review_wall_s,
                    max_tokens_per_turn=c.meta_max_tokens,
                    repair_attempts=c.repair_attempts,
                    smoke_env=self.fixed[0].env_id,
                    smoke_seed=self.fixed[0].seed,
                    smoke_steps=c.smoke_steps,
                    validate_wall_s=c.validate_wall_s,
                    validate_memory_mb=c.validate_memory_mb,
                    unsafe_no_sandbox=c.unsafe_no_sandbox,
                ),
                lineage=lineage_section(history, structural_after=c.structural_after),
                continuation=self._continuation(it, plan, done)
                if plan.kind == "continuation"
                else None,
                extra_tools=self._attribution_tools(parent_dir),
            )
            timings = _load_timings(timings_path)
            timings.review += outcome.review_s
            timings.validate += outcome.validate_s
            timings.meta_llm += outcome.meta_llm_s
            write_json_atomic(timings_path, timings)
        outcome = read_json(it / "candidate.json", CandidateOutcome)
        record = AttemptRecord(
            number=plan.number,
            kind=plan.kind,
            continues=plan.continues,
            dir=".",
            kept=False,
            stage="review",
            reason="",
            rationale=outcome.rationale,
            changed_files=outcome.changed_files,
            resumable=resumable(it),
        )

        def rejected(decision: Decision, **extra: Any) -> tuple[Decision, AttemptRecord]:
            return decision, msgspec.structs.replace(
                record, stage=decision.stage, reason=decision.reason, **extra
            )

        if not outcome.ok:
            error = outcome.validation.message if outcome.validation else None
            return rejected(
                Decision(
                    iteration=k,
                    parent=parent,
                    kept=False,
                    stage=outcome.stage if outcome.stage != "ok" else "review",
                    reason=outcome.reason,
                    validation_error=error,
                    offered=offered_to(it),
                ),
                validation_error=error,
            )
        diff = (it / "scaffold.diff").read_text(encoding="utf-8")
        for earlier in done:
            path = files_of(it, earlier) / "scaffold.diff"
            if path.exists() and path.read_text(encoding="utf-8") == diff:
                return rejected(
                    Decision(
                        iteration=k,
                        parent=parent,
                        kept=False,
                        stage="review",
                        reason=f"the same candidate as attempt {earlier.number} (rejected at "
                        f"{earlier.stage}); not evaluated again",
                        offered=offered_to(it),
                    )
                )
        screen = None
        if self.config.screen_seeds > 0:
            self._check_budget()
            screen = await self._screen(parent, it)
            if screen.rejected:
                return rejected(
                    Decision(
                        iteration=k,
                        parent=parent,
                        kept=False,
                        stage="screen",
                        reason=screen.reason,
                        screen=screen,
                        offered=offered_to(it),
                    ),
                    screen=screen,
                    deltas=seed_deltas(it / "screen", parent_dir / "screen"),
                )
        self._check_budget()
        evaluation = await self._evaluate(it / "scaffold", self.fixed, it, "gate")
        accept = None
        if self.pools.accept:
            accept = await self._evaluate(it / "scaffold", self.pools.accept, it / "accept", "gate")
        start = time.perf_counter()
        verdict = decide(
            parent_decision.accept if accept else parent_decision.per_episode,
            accept.per_episode if accept else evaluation.per_episode,
            rule=self.config.gate,
            level=self.config.ci_level,
            n_bootstrap=self.config.bootstrap,
            seed=k,
        )
        reason = verdict.reason
        if evaluation.errored:
            # Kept in the mean as BALROG does (progression reached before the error), but flagged.
            reason += (
                f"; {len(evaluation.errored)} episode(s) errored: {', '.join(evaluation.errored)}"
            )
        decision = Decision(
            iteration=k,
            parent=parent,
            kept=verdict.kept,
            stage="gate",
            reason=reason,
            scaffold_hash=evaluation.scaffold_hash,
            mean_progression=evaluation.mean,
            per_env=evaluation.per_env,
            per_episode=evaluation.per_episode,
            gate=verdict,
            screen=screen,
            accept=accept.per_episode if accept else {},
            accept_mean=accept.mean if accept else None,
            offered=offered_to(it),
        )
        timings = _load_timings(timings_path)
        timings.gate += time.perf_counter() - start
        write_json_atomic(timings_path, timings)
        return decision, msgspec.structs.replace(
            record,
            kept=verdict.kept,
            stage="gate",
            reason=reason,
            mean_progression=evaluation.mean,
            # on the search pool: the accept pool's seeds never reach the reviewer
            deltas={
                key: value - parent_decision.per_episode[key]
                for key, value in sorted(evaluation.per_episode.items())
                if key in parent_decision.per_episode
            },
            screen=screen,
            gate=verdict,
        )

    async def _screen(self, parent: int, it: Path) -> ScreenResult:
        """Plays the screen for the incumbent (once: its own screen as a candidate is reused)
        and for the candidate, and judges the candidate on it."""
        c = self.config
        episodes = screen_episodes(self.fixed, c.screen_seeds, c.screen_max_steps)
        parent_dir = iteration_dir(self.run_dir, parent)
        incumbent = await self._evaluate(
            parent_dir / "scaffold", episodes, parent_dir / "screen", "screen"
        )
        candidate = await self._evaluate(it / "scaffold", episodes, it / "screen", "screen")
        # What the full evaluation would cost: the incumbent's, on the same episodes.
        full = [evaluation_cost(parent_dir), evaluation_cost(parent_dir / "accept")]
        return judge_screen(
            incumbent.per_episode,
            candidate.per_episode,
            margin=c.screen_margin,
            max_steps=c.screen_max_steps,
            calls=candidate.calls,
            tokens=evaluation_cost(it / "screen")[1],
            full_calls=sum(n for n, _ in full),
            full_tokens=sum(t for _, t in full),
        )

    async def _heldout(self) -> None:
        if not self.heldout:
            return
        incumbent, _ = self._incumbent(self.config.iterations + 1)
        root = self.run_dir / "heldout"
        marker = root / "incumbent.txt"
        if marker.exists() and marker.read_text().strip() != str(incumbent):
            # More iterations were added after a finished run: the final scaffold changed.
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{incumbent}\n")
        self._check_budget()
        scaffold = iteration_dir(self.run_dir, incumbent) / "scaffold"
        evaluation = await self._evaluate(scaffold, self.heldout, root, "evaluate")
        self._phase(f"held-out: mean progression {evaluation.mean:.3f}", advance=True)
        if incumbent != 0 and self.pools.accept:
            # The start scaffold plays the report pool too, so the held-out gain is measured.
            start = iteration_dir(self.run_dir, 0) / "scaffold"
            await self._evaluate(start, self.heldout, self.run_dir / "report_start", "evaluate")


async def evolve(config: EvolveConfig, **kwargs: Any) -> RunSummary:
    """Runs (or resumes) Loop 1 as configured and returns the run's summary."""
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(run_dir / "evolve.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        if config.unsafe_no_sandbox:
            log.warning(warn_unsafe())
        elif problem := sandbox_problem():
            raise EvolveError(problem)
        return await Evolver(config, **kwargs).run()
    finally:
        log.removeHandler(handler)
        with contextlib.suppress(Exception):
            handler.close()
