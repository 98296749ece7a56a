"""Loop 1: meta-LLM scaffold evolution, gated on mean progression over fixed seeds.

config = EvolveConfig(run_dir="runs/x", meta_llm="anthropic:claude-opus-4-5", iterations=5)
summary = asyncio.run(evolve(config))   # resumable: run it again on the same run_dir
print(format_end(summary))
"""

from automem_scaffold._archive import (
    Decision,
    LineageEntry,
    copy_scaffold,
    lineage,
    read_decisions,
    scaffold_diff,
)
from automem_scaffold._attempts import archive_attempt, read_attempts
from automem_scaffold._attribute import (
    AttributionBudget,
    AttributionError,
    AttributionTable,
    WriteEffect,
    attribute_writes,
    attribution_tool,
    estimate_replay_calls,
    format_attribution,
)
from automem_scaffold._attribute_cli import attribute_main
from automem_scaffold._bundle import build_bundle, bundle_library, episode_key, render_summary
from automem_scaffold._claude_code import ClaudeCodeReviewer
from automem_scaffold._cli import build_parser, config_from_args, main
from automem_scaffold._config import EvolveConfig, EvolveError, check_resume, load_config
from automem_scaffold._evaluate import Evaluation, evaluate, load_evaluation
from automem_scaffold._evolve import Evolver, Timings, evolve
from automem_scaffold._gate import GATE_RULES, GateResult, bootstrap_ci, decide
from automem_scaffold._ledger import Ledger, LedgerEntry, build_ledger
from automem_scaffold._lineage import AttemptPlan, AttemptRecord, plan_next
from automem_scaffold._plan import RunPlan, format_plan, plan_run
from automem_scaffold._pools import SeedPools, check_disjoint, search_accept_gap, seed_pools
from automem_scaffold._prices import PRICES_PER_MTOK, cost_of, price_for
from automem_scaffold._prompt import SYSTEM as REVIEW_SYSTEM
from automem_scaffold._report import IterationRow, RunSummary, format_end, format_table
from automem_scaffold._review import CandidateOutcome, ReviewSettings, revise
from automem_scaffold._review_tools import ReviewWorkspace
from automem_scaffold._screen import (
    ScreenResult,
    ScreenSavings,
    judge_screen,
    screen_episodes,
    screen_savings,
)
from automem_scaffold._validate import ValidationReport, validate_candidate

__all__ = [
    "GATE_RULES",
    "PRICES_PER_MTOK",
    "REVIEW_SYSTEM",
    "AttemptPlan",
    "AttemptRecord",
    "AttributionBudget",
    "AttributionError",
    "AttributionTable",
    "CandidateOutcome",
    "ClaudeCodeReviewer",
    "Decision",
    "Evaluation",
    "EvolveConfig",
    "EvolveError",
    "Evolver",
    "GateResult",
    "IterationRow",
    "Ledger",
    "LedgerEntry",
    "LineageEntry",
    "ReviewSettings",
    "ReviewWorkspace",
    "RunPlan",
    "RunSummary",
    "ScreenResult",
    "ScreenSavings",
    "SeedPools",
    "Timings",
    "ValidationReport",
    "WriteEffect",
    "archive_attempt",
    "attribute_main",
    "attribute_writes",
    "attribution_tool",
    "bootstrap_ci",
    "build_bundle",
    "build_ledger",
    "build_parser",
    "bundle_library",
    "check_disjoint",
    "check_resume",
    "config_from_args",
    "copy_scaffold",
    "cost_of",
    "decide",
    "episode_key",
    "estimate_replay_calls",
    "evaluate",
    "evolve",
    "format_attribution",
    "format_end",
    "format_plan",
    "format_table",
    "judge_screen",
    "lineage",
    "load_config",
    "load_evaluation",
    "main",
    "plan_next",
    "plan_run",
    "price_for",
    "read_attempts",
    "read_decisions",
    "render_summary",
    "revise",
    "scaffold_diff",
    "screen_episodes",
    "screen_savings",
    "search_accept_gap",
    "seed_pools",
    "validate_candidate",
]
