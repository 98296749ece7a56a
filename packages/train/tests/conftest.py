"""This directory on `sys.path`, once, for the helper next to the tests: `_train_traces`
(hand-built traces written with the real trace writer), imported by name."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
