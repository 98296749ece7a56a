"""A browser viewer for AutoMem run directories: the iterations table, lineage and Loop 2
trials of a run, each episode's timeline, every step's turns, ops, action and memory.

serve("runs/x", port=8765)            # http://127.0.0.1:8765/, reads the run in place
export_static("runs/x", "out/")       # a self-contained copy: open out/index.html
viewer = RunViewer("runs/x"); viewer.episode("iterations/001/eval/crafter/42.jsonl")
"""

from automem_view._api import FIND_KINDS, RunViewer, ViewError
from automem_view._cli import main
from automem_view._export import export_static
from automem_view._server import make_server, serve, serve_in_thread

__all__ = [
    "FIND_KINDS",
    "RunViewer",
    "ViewError",
    "export_static",
    "main",
    "make_server",
    "serve",
    "serve_in_thread",
]
