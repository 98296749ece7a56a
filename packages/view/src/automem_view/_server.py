"""A standard-library HTTP server for one run directory, bound to 127.0.0.1 by default.

Routes: `/` and the static assets, `/api/{run,episode,steps,step,find}` (JSON), and
`/file/<path>` for the run's own files (plots, reviews, diffs). A failure inside a request
answers with a JSON error the page shows as a notice; it never takes the server down.
"""

from __future__ import annotations

import mimetypes
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import msgspec

from automem_view._api import RunViewer, ViewError

ASSETS = ("index.html", "app.js", "app.css")
_encoder = msgspec.json.Encoder()


def asset(name: str) -> bytes:
    """One of the page's static files, shipped inside the package."""
    return resources.files("automem_view").joinpath("static", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    viewer: RunViewer
    server_version = "automem-view"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per error only
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            body, kind = self._route(url.path, query)
        except ViewError as exc:
            self._send(HTTPStatus.NOT_FOUND, _encoder.encode({"error": str(exc)}), "json")
        except (ValueError, KeyError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, _encoder.encode({"error": str(exc)}), "json")
        except Exception as exc:  # a bug must show on the page, not kill the thread silently
            traceback.print_exc(file=sys.stderr)
            error = f"viewer error: {type(exc).__name__}: {exc}"
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, _encoder.encode({"error": error}), "json")
        else:
            self._send(HTTPStatus.OK, body, kind)

    def _route(self, path: str, q: dict[str, str]) -> tuple[bytes, str]:
        v = self.viewer
        if path in ("/", "/index.html"):
            return asset("index.html"), "html"
        if path.lstrip("/") in ASSETS:
            return asset(path.lstrip("/")), path.rsplit(".", 1)[-1]
        if path == "/api/run":
            return _encoder.encode(v.run_page()), "json"
        if path == "/api/episode":
            return _encoder.encode(v.episode(q["ep"])), "json"
        if path == "/api/steps":
            page = v.steps(q["ep"], int(q.get("offset", 0)), int(q.get("limit", 100)))
            return _encoder.encode(page), "json"
        if path == "/api/step":
            return v.step(q["ep"], int(q["n"])), "json"
        if path == "/api/find":
            found = v.find(q.get("kind", "text"), q.get("q", ""), q.get("ep") or None)
            return _encoder.encode(found), "json"
        if path.startswith("/file/"):
            file = v.file(unquote(path.removeprefix("/file/")))
            return file.read_bytes(), file.suffix.lstrip(".")
        raise ViewError(f"no page {path}")

    def _send(self, status: HTTPStatus, body: bytes, kind: str) -> None:
        types = {"json": "application/json", "html": "text/html", "js": "text/javascript"}
        ctype = types.get(kind) or mimetypes.guess_type(f"x.{kind}")[0] or "text/plain"
        if ctype.startswith("text/") or kind in ("md", "diff", "log", "toml", "jsonl"):
            ctype = ("text/plain" if ctype == "application/octet-stream" else ctype).split(";")[0]
            ctype += "; charset=utf-8"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")  # a live run changes under the page
        self.end_headers()
        self.wfile.write(body)


def make_server(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 0):
    """A ready server for `run_dir` (port 0 picks a free one); call `serve_forever()`."""
    viewer = RunViewer(run_dir)
    handler = type("Handler", (_Handler,), {"viewer": viewer})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    if isinstance(host, bytes | bytearray):  # typed so for Unix sockets; TCP gives a str
        host = host.decode()
    return f"http://{host}:{port}/"


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serves `run_dir` until interrupted, printing the URL to open."""
    server = make_server(run_dir, host=host, port=port)
    print(f"serving {Path(run_dir).resolve()} at {url_of(server)}  (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_in_thread(run_dir: str | Path, **kwargs: Any) -> tuple[ThreadingHTTPServer, str]:
    """Starts a server on a background thread (tests, benchmarks); `shutdown()` stops it."""
    server = make_server(run_dir, **kwargs)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, url_of(server)
