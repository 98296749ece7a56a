"""The package suites' helper folders on `sys.path`, once, for the cross-package tests here that
reuse them: `probe_policy` (automem-agent's scripted player), `attribution_policies`
(automem-scaffold's one-key-write agent) and `_train_traces` (automem-train's hand-built
traces)."""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGES = Path(__file__).resolve().parents[1] / "packages"
for package in ("agent", "scaffold", "train"):
    sys.path.insert(0, str(PACKAGES / package / "tests"))
