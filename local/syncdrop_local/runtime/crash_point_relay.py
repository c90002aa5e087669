"""Crash points armed in the test process, answered for functions running in processes of
their own (``SYNCDROP_CRASH_POINTS_URL``): ``POST /<point>`` answers ``die`` or ``pass``."""

from __future__ import annotations

import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from syncdrop import crash_points


class _CrashPointHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a fired point is recorded in ``crash_points.fired``."""

    def do_POST(self) -> None:
        point = urllib.parse.unquote(self.path.lstrip("/"))
        verdict = b"die" if crash_points.should_die(point) else b"pass"
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Length", str(len(verdict)))
        self.end_headers()
        self.wfile.write(verdict)


class CrashPointRelay:
    def __init__(self) -> None:
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _CrashPointHandler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="crash-points", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> CrashPointRelay:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
