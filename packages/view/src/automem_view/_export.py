"""A static, self-contained copy of the viewer for one run: open `index.html` from disk or put
the folder on any web host. Data goes into `data/*.js` files (loaded with script tags, which
browsers allow from `file://`), and the run's plots and records into `files/`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import msgspec

from automem_view._api import FIND_KINDS, RunViewer
from automem_view._server import ASSETS, asset

CHUNK = 100  # steps per exported data file; the page rebuilds memory inside one chunk
_encoder = msgspec.json.Encoder()


def _write_data(out: Path, key: str, payload: Any) -> None:
    body = payload if isinstance(payload, bytes) else _encoder.encode(payload)
    (out / "data" / f"{key}.js").write_bytes(
        b"AUTOMEM_DATA(" + json.dumps(key).encode() + b"," + body + b");\n"
    )


def export_static(run_dir: str | Path, out_dir: str | Path) -> Path:
    """Writes the whole viewer for `run_dir` into `out_dir` and returns its `index.html`."""
    viewer = RunViewer(run_dir)
    out = Path(out_dir)
    (out / "data").mkdir(parents=True, exist_ok=True)
    run = viewer.run_page()
    ids = {e["id"]: n for n, e in enumerate(run["episodes"])}
    _write_data(out, "run", run)
    for ep, n in ids.items():
        page = viewer.episode(ep)
        _ref, index = viewer._ref(ep)
        page["rows"] = msgspec.to_builtins(index.rows)
        page["has_diffs"] = index.has_diffs
        if not index.has_diffs:
            page["final_memory"] = viewer._final_memory(_ref, [])
        _write_data(out, f"ep-{n}", page)
        for c in range(0, len(index.rows), CHUNK):
            with index.lock:
                base = index.memory_after(c - 1) if c and index.has_diffs else {}
            records = [msgspec.Raw(index.read_line(r.line)) for r in index.rows[c : c + CHUNK]]
            _write_data(out, f"chunk-{n}-{c // CHUNK}", {"base": base, "records": records})
    for kind in FIND_KINDS:
        if kind != "text":
            _write_data(out, f"find-{kind}", viewer.find(kind, limit=5000))
    linked = list(run["plots"]) + list(run["files"])
    linked += [link for row in run["iterations"] for link in row.get("links", [])]
    for rel in linked:
        target = out / "files" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(viewer.run / rel, target)
    config = json.dumps({"ids": ids, "chunk": CHUNK})
    html = asset("index.html").replace(
        b"<!--STATIC-->", f"<script>window.AUTOMEM_STATIC = {config};</script>".encode()
    )
    (out / "index.html").write_bytes(html)
    for name in ASSETS:
        if name != "index.html":
            (out / name).write_bytes(asset(name))
    return out / "index.html"
