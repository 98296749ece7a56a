"""Loop 2: `uv run apps/train [--agent-llm SPEC --meta-llm SPEC] [--from-run runs/x] ...`."""

import sys

from automem_train import main

if __name__ == "__main__":
    sys.exit(main())
