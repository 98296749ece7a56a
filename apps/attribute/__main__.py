"""Write attribution: `uv run apps/attribute RUN_DIR --episode crafter__42 --steps 2,5-8`."""

import sys

from automem_scaffold import attribute_main

if __name__ == "__main__":
    sys.exit(attribute_main())
