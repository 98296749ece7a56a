"""Tokenised training sets with hygiene checks that fail loudly, and the dataset report.

Hygiene rules (each a `HygieneError` with a specific message):
- no example comes from an evaluation episode (env_id, seed), unless `allow_eval_seeds=True`;
- every example has a non-empty loss mask that includes the end-of-turn token;
- examples longer than `max_length` are dropped (or, with `overlong="truncate"`, cut from the
  left of the prompt) and counted in the report; an error only if nothing is left.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from automem_envs import Suite

from automem_train._examples import MemoryExample
from automem_train._tokenize import Encoded, HygieneError, encode_example, end_of_turn


class DatasetReport(msgspec.Struct, frozen=True, kw_only=True):
    """What went into a training set and what was removed on the way, and why."""

    examples: int
    per_env: dict[str, int]
    per_phase: dict[str, int]  # "log" / "plan": the memory roles a specialist plays
    removed: dict[str, int] = {}  # reason -> count, selection and hygiene together
    tokens: int = 0
    loss_tokens: int = 0
    truncated: int = 0

    @property
    def loss_share(self) -> float:
        return self.loss_tokens / self.tokens if self.tokens else 0.0

    def table(self) -> str:
        """A plain-text table for logs and the console."""
        rows = [
            f"dataset: {self.examples} examples, {self.tokens} tokens, "
            f"{self.loss_tokens} carry loss ({self.loss_share:.1%})"
        ]
        rows.append("  env                              examples")
        rows += [f"  {env:<32} {n:>8}" for env, n in sorted(self.per_env.items())]
        rows.append("  phase                            examples")
        rows += [f"  {phase:<32} {n:>8}" for phase, n in sorted(self.per_phase.items())]
        if self.removed:
            rows.append("  removed                          count")
            rows += [f"  {why:<32} {n:>8}" for why, n in sorted(self.removed.items())]
        return "\n".join(rows)


@dataclass(frozen=True)
class TrainingSet:
    """Encoded examples ready for the trainer, with their report."""

    examples: list[MemoryExample]
    encoded: list[Encoded]
    report: DatasetReport


EvalKeys = set[tuple[str, int]]


def eval_keys(suites: Suite | Iterable[Suite]) -> EvalKeys:
    """The (env_id, seed) pairs a suite evaluates on: training must never see them."""
    suites = [suites] if isinstance(suites, Suite) else list(suites)
    return {(e.env_id, e.seed) for s in suites for e in s.episodes}


def check_eval_leak(
    examples: Sequence[MemoryExample], eval_episodes: EvalKeys, *, allow_eval_seeds: bool = False
) -> None:
    """Raises `HygieneError` naming the leaked episodes if any example comes from one."""
    if allow_eval_seeds:
        return
    leaked = Counter((e.env_id, e.seed) for e in examples if (e.env_id, e.seed) in eval_episodes)
    if leaked:
        names = ", ".join(
            f"{env} seed {seed} ({n} turns)" for (env, seed), n in sorted(leaked.items())
        )
        raise HygieneError(
            f"{sum(leaked.values())} examples come from evaluation episodes: {names}. "
            "Train on traces from other seeds (e.g. `uv run apps/play --seeds 100-119 ...`, or "
            "let apps/train collect a pool), or pass allow_eval_seeds=True to do this on purpose."
        )


def check_mask(encoded: Encoded, eot_id: int, *, where: str = "") -> None:
    """Raises `HygieneError` if the loss mask is empty or misses the end-of-turn token."""
    if len(encoded.mask) != len(encoded.input_ids):
        raise HygieneError(f"{where}: mask and input ids differ in length")
    if not any(encoded.mask):
        raise HygieneError(f"{where}: empty assistant mask (no token carries loss)")
    if not any(m and t == eot_id for t, m in zip(encoded.input_ids, encoded.mask, strict=True)):
        raise HygieneError(
            f"{where}: the assistant mask does not include the end-of-turn token (id {eot_id}); "
            "the specialist would never learn to stop"
        )


def build_training_set(
    examples: Sequence[MemoryExample],
    tokenizer: Any,
    *,
    max_length: int = 2048,
    eval_episodes: EvalKeys = frozenset(),  # type: ignore[assignment]
    allow_eval_seeds: bool = False,
    overlong: Literal["drop", "truncate"] = "drop",
    removed: Mapping[str, int] | None = None,
) -> TrainingSet:
    """Checks hygiene, tokenises with the chat template and reports.

    `removed` carries earlier removals (selection) so the report tells the whole story.
    """
    check_eval_leak(examples, eval_episodes, allow_eval_seeds=allow_eval_seeds)
    _, eot_id = end_of_turn(tokenizer)
    why: Counter[str] = Counter(dict(removed or {}))
    kept: list[MemoryExample] = []
    encoded: list[Encoded] = []
    for example in examples:
        full = encode_example(tokenizer, example, max_length=None)
        item = full
        if len(full.input_ids) > max_length:
            if overlong == "drop":
                why[f"longer than max_length {max_length}"] += 1
                continue
            item = encode_example(tokenizer, example, max_length=max_length)
            if all(item.mask):  # not even the response fits: cutting it would lose its end
                why[f"response alone longer than max_length {max_length}"] += 1
                continue
        check_mask(
            item, eot_id, where=f"example {example.id} ({example.env_id} step {example.step})"
        )
        kept.append(example)
        encoded.append(item)
    if examples and not kept:
        raise HygieneError(
            f"all {len(examples)} examples are longer than max_length={max_length}; "
            "raise max_length or use overlong='truncate'"
        )
    report = DatasetReport(
        examples=len(kept),
        per_env=dict(Counter(e.env_id for e in kept)),
        per_phase=dict(Counter(e.phase for e in kept)),
        removed={k: v for k, v in why.items() if v},
        tokens=sum(len(e.input_ids) for e in encoded),
        loss_tokens=sum(e.n_loss_tokens for e in encoded),
        truncated=sum(e.truncated for e in encoded),
    )
    return TrainingSet(examples=kept, encoded=encoded, report=report)
