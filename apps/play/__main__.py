"""Play or evaluate episodes: `uv run apps/play --env crafter --seeds 42-44 --agent-llm smollm2`."""

import sys

from automem_agent import play_main

if __name__ == "__main__":
    sys.exit(play_main())
