"""`uv run apps/view RUN_DIR [--port N] [--export OUT]`."""

from __future__ import annotations

import argparse
import sys

from automem_agent import package_version

from automem_view._api import ViewError
from automem_view._export import export_static
from automem_view._server import serve


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="apps/view",
        description="Browse a run directory (Loop 1, Loop 2 or apps/play output) in the browser.",
    )
    p.add_argument("run_dir", help="the run directory; read in place, never copied")
    p.add_argument(
        "--version", action="version", version=f"%(prog)s {package_version('automem-view')}"
    )
    p.add_argument("--port", type=int, default=8765, help="port on --host (0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    p.add_argument("--export", metavar="OUT", help="write a static copy into OUT and exit")
    a = p.parse_args(argv)
    try:
        if a.export:
            index = export_static(a.run_dir, a.export)
            print(f"wrote {index} (open it in a browser)")
            return 0
        serve(a.run_dir, host=a.host, port=a.port)
    except ViewError as exc:
        print(f"apps/view: {exc}", file=sys.stderr)
        return 2
    return 0
