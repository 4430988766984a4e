"""A local, read-only web page over the cost ledger (``costrouter dashboard``).

:class:`DashboardServer` serves one page (``static/index.html`` with Chart.js, vendored, see
NOTICE) and the figures it draws as JSON at ``/api/report``. The figures come from a callable
the caller supplies; ``costrouter dashboard`` passes the very function behind
``costrouter report --json``, so the page and the report can never disagree. The server binds
127.0.0.1 only, answers GET and HEAD only (anything else: 405), serves a fixed list of files,
and refuses requests whose ``Host`` is not the loopback address it listens on (a page elsewhere
cannot read the ledger through DNS rebinding).

Usage::

    server = DashboardServer(lambda: {"totals": ...}, port=0).start()
    print(server.url)
    ...
    server.stop()
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

__all__ = ["HOST", "DashboardServer"]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"

# Files the page needs, by URL path: (package file, content type).
_FILES: dict[str, tuple[str, str]] = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/static/dashboard.js": ("dashboard.js", "text/javascript; charset=utf-8"),
    "/static/dashboard.css": ("dashboard.css", "text/css; charset=utf-8"),
    "/static/chart.umd.min.js": ("chart.umd.min.js", "text/javascript; charset=utf-8"),
}
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _static(name: str) -> bytes:
    return resources.files("langchain_costrouter.dashboard").joinpath("static", name).read_bytes()


class DashboardServer:
    """The dashboard's HTTP server, on 127.0.0.1 in a background thread.

    Args:
        figures: Returns the report as a JSON-ready dict (called on every ``/api/report``).
        port: TCP port (0: a free one).
        title: Shown in the page's header (e.g. the ledger path).
    """

    def __init__(self, figures: Callable[[], dict[str, Any]], *, port: int = 0, title: str = "") -> None:
        self.figures = figures
        self.title = title
        self._httpd = ThreadingHTTPServer((HOST, port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{HOST}:{self.port}/"

    def start(self) -> DashboardServer:
        """Serves in a daemon thread; returns ``self``."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="costrouter-dashboard", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(server: DashboardServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "costrouter-dashboard"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            logger.debug("%s %s", self.address_string(), format % args)

        def _send(self, status: int, body: bytes, content_type: str, *, head: bool = False) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for k, v in _SECURITY_HEADERS.items():
                self.send_header(k, v)
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def _error(self, status: HTTPStatus, message: str, *, head: bool = False) -> None:
            body = json.dumps({"error": message}).encode()
            self._send(status, body, "application/json", head=head)

        def _get(self, head: bool) -> None:
            allowed = {f"{HOST}:{server.port}", f"localhost:{server.port}"}
            if self.headers.get("Host", "") not in allowed:
                self._error(HTTPStatus.FORBIDDEN, "unexpected Host header", head=head)
                return
            path = urlsplit(self.path).path
            if path == "/api/report":
                try:
                    data = {"title": server.title, **server.figures()}
                    body = json.dumps(data, allow_nan=False, default=str).encode()
                except Exception as exc:  # the page shows the one-line reason; the server keeps running
                    logger.warning("dashboard: the report failed: %s", exc)
                    self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(exc).__name__}: {exc}", head=head)
                    return
                self._send(HTTPStatus.OK, body, "application/json", head=head)
                return
            entry = _FILES.get(path)
            if entry is None:
                self._error(HTTPStatus.NOT_FOUND, "not found", head=head)
                return
            self._send(HTTPStatus.OK, _static(entry[0]), entry[1], head=head)

        def do_GET(self) -> None:
            self._get(head=False)

        def do_HEAD(self) -> None:
            self._get(head=True)

        def _read_only(self) -> None:
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "the dashboard is read-only")

        def do_POST(self) -> None:
            self._read_only()

        def do_PUT(self) -> None:
            self._read_only()

        def do_DELETE(self) -> None:
            self._read_only()

        def do_PATCH(self) -> None:
            self._read_only()

    return Handler
