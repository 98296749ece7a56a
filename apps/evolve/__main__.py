"""Loop 1: `uv run apps/evolve [--meta-llm anthropic:<model>] [--run-dir runs/x] ...`."""

import sys

from automem_scaffold import main

if __name__ == "__main__":
    sys.exit(main())
