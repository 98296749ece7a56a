"""Selection policies and data composition: which memory turns become training data.

A policy scores each example (`select(example) -> bool | float`; False or a score <= 0 drops
it). A composition then shapes what survives: near-duplicate removal, a per-env cap, the LOG/PLAN
balance and a maximum count, always keeping the best-scored examples. Built-in policies run in
process; policies written by the meta-LLM run in the sandbox (`automem_agent.meta`).
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import msgspec

from automem_train._examples import MemoryExample

Selector = Callable[[MemoryExample], "bool | float"]


class Composition(msgspec.Struct, frozen=True, kw_only=True):
    """How the selected examples are combined into one dataset."""

    # Target share of LOG examples among the `max_examples` kept (None: best scores regardless).
    # A soft target: a phase that runs short is topped up from the other, so no data is lost to it.
    log_share: float | None = 0.6
    per_env_cap: int | None = None  # at most this many examples per env_id
    dedup: bool = True  # drop near-identical turns (same context tail and response, digits aside)
    max_examples: int | None = 2000
    seed: int = 0  # ties and the balance draw are broken reproducibly


class SelectionReport(msgspec.Struct, frozen=True, kw_only=True):
    """How many candidates each stage removed, by reason."""

    candidates: int
    selected: int
    removed: dict[str, int] = {}


def default_select(example: MemoryExample) -> float:
    """The shipped policy: keep turns that did real memory work in episodes that went well.

    Consult-before-write turns score highest, writes that were later read score more, redundant
    writes, parse errors and failed ops are dropped, and the episode's progression (plus the
    gain over the following steps) weights everything.
    """
    f = example.features
    if f.duplicate_writes or f.parse_errors or f.failed_ops:
        return 0.0
    if f.episode_status == "errored":
        return 0.0
    if not f.op_kinds and not f.ended_with_done:
        return 0.0  # nothing to learn: no op and not even a clean DONE
    score = 0.2
    if f.wrote:
        score += 1.0 if f.consulted_before_write else 0.3
        score += 0.5 if f.written_later_read else 0.0
        score += 0.3 if f.written_later_used else 0.0
    elif f.n_read_ops:
        score += 0.6  # pure consultation
    score *= 0.5 + f.episode_progression + 2.0 * max(f.progression_gain_after, 0.0)
    return score


def keep_all(example: MemoryExample) -> float:
    """Every example, unscored: the baseline policy that selects nothing out."""
    return 1.0


BUILTIN_SELECTORS: dict[str, Selector] = {"default": default_select, "all": keep_all}


_DIGITS = re.compile(r"\d+")


def near_duplicate_key(example: MemoryExample) -> str:
    """Examples with equal keys are near-identical: same env, phase, last user message and
    response once whitespace, case and numbers are ignored."""
    last_user = next(
        (m["content"] for m in reversed(example.messages) if m.get("role") == "user"), ""
    )

    def norm(text: str) -> str:
        return _DIGITS.sub("#", " ".join(text.split()).lower())

    raw = "\x1f".join([example.env_id, example.phase, norm(last_user), norm(example.response)])
    return hashlib.sha1(raw.encode()).hexdigest()


def score_examples(examples: Sequence[MemoryExample], selector: Selector) -> list[float]:
    """Each example's score as a float (True -> 1.0, False/None -> 0.0)."""
    out: list[float] = []
    for example in examples:
        value = selector(example)
        out.append(float(value) if value is not None else 0.0)
    return out


def compose(
    examples: Sequence[MemoryExample], scores: Sequence[float], composition: Composition
) -> tuple[list[MemoryExample], SelectionReport]:
    """Applies a composition to scored examples; returns the kept ones and what was removed."""
    if len(examples) != len(scores):
        raise ValueError("one score per example")
    removed: Counter[str] = Counter()
    rng = random.Random(composition.seed)
    pool: list[tuple[float, float, MemoryExample]] = []
    for example, score in zip(examples, scores, strict=True):
        if score > 0:
            pool.append((score, rng.random(), example))
        else:
            removed["rejected by policy"] += 1
    pool.sort(key=lambda item: (-item[0], item[1]))
    if composition.dedup:
        seen: set[str] = set()
        unique = []
        for item in pool:
            key = near_duplicate_key(item[2])
            if key in seen:
                removed["near-duplicate"] += 1
                continue
            seen.add(key)
            unique.append(item)
        pool = unique
    if composition.per_env_cap is not None:
        per_env: Counter[str] = Counter()
        capped = []
        for item in pool:
            env = item[2].env_id
            if per_env[env] >= composition.per_env_cap:
                removed["per-env cap"] += 1
                continue
            per_env[env] += 1
            capped.append(item)
        pool = capped
    limit = composition.max_examples if composition.max_examples is not None else len(pool)
    if composition.log_share is not None and pool:
        by_phase: dict[str, list[Any]] = defaultdict(list)
        for item in pool:
            by_phase["log" if item[2].phase == "log" else "plan"].append(item)
        total = min(limit, len(pool))
        want_log = round(total * composition.log_share)
        want_plan = total - want_log
        # Fill the other phase's shortfall so the count is not lost to the balance.
        log_n = min(len(by_phase["log"]), want_log + max(0, want_plan - len(by_phase["plan"])))
        plan_n = min(len(by_phase["plan"]), total - log_n)
        kept = by_phase["log"][:log_n] + by_phase["plan"][:plan_n]
        if len(pool) > len(kept):
            removed["max count (LOG/PLAN balance kept)"] += len(pool) - len(kept)
        pool = sorted(kept, key=lambda item: (-item[0], item[1]))
    elif len(pool) > limit:
        removed["max count"] += len(pool) - limit
        pool = pool[:limit]
    chosen = [item[2] for item in pool]
    report = SelectionReport(
        candidates=len(examples),
        selected=len(chosen),
        removed={k: v for k, v in removed.items() if v},
    )
    return chosen, report


def select_examples(
    examples: Sequence[MemoryExample],
    selector: Selector | str = "default",
    composition: Composition = Composition(),
) -> tuple[list[MemoryExample], SelectionReport]:
    """Scores with a built-in or given selector, then composes."""
    if isinstance(selector, str):
        try:
            selector = BUILTIN_SELECTORS[selector]
        except KeyError:
            raise ValueError(
                f"unknown selector {selector!r}; built-ins: {sorted(BUILTIN_SELECTORS)}"
            ) from None
    return compose(examples, score_examples(examples, selector), composition)
