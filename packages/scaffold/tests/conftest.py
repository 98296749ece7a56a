"""This directory on `sys.path`, once, for the scripted parts next to the tests: a test imports
them by name (`from test_evolve_policies import agent_policy`) and a run resolves them as
`scripted:test_evolve_policies:agent_policy`. A test that starts `apps/evolve` or
`apps/attribute` in a subprocess passes this directory to it in PYTHONPATH."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
