"""Browse a run in the browser: `uv run apps/view runs/x` (then open the printed URL), or
`uv run apps/view runs/x --export out/` for a static copy."""

import sys

from automem_view import main

if __name__ == "__main__":
    sys.exit(main())
