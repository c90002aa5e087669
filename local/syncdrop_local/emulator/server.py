"""HTTP layer of the Sync emulator: a threaded stdlib server handing parsed requests to an app."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from .records import RequestRecord

MAX_BODY_BYTES = 64 * 1024 * 1024
# A reset waits this long after the partial body, so the client reads what was sent first.
RESET_PAUSE_SECONDS = 0.05


@dataclass(frozen=True)
class Request:
    """A request as the app sees it; header names are lower-case."""

    method: str
    path: str
    query_string: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(self.query_string, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";", 1)[0].strip().lower()


@dataclass
class Response:
    """What the app answers; ``body`` is sent as is with ``Content-Length``.

    With ``cut_after``, only that many body bytes go out (``Content-Length`` still announces
    them all) and the connection ends: closed normally, or with a TCP reset when ``reset``.
    """

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    cut_after: int | None = None
    reset: bool = False

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, data, "application/json; charset=utf-8", dict(headers or {}))


class App(Protocol):
    def handle(self, request: Request) -> Response: ...


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threaded server that knows its app, records requests and can cut open connections."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        app: App,
        on_request: Callable[[RequestRecord], None],
        *,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.on_request = on_request
        self.log = log
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut down kept-alive client connections so no handler thread serves after stop."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: EmulatorHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "sync-emulator/1.0"
    sys_version = ""
    timeout = 60
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(format % args)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def _read_body(self) -> bytes | None:
        length_header = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        if not length_header:
            return b""
        try:
            length = int(length_header)
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY_BYTES:
                return None
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _dispatch(self, *, head: bool = False) -> None:
        split = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            # A repeated header is joined as HTTP allows, so a route can see it was repeated.
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        body = self._read_body()
        if body is None:
            response = Response.json(413, {"statusCode": 413, "message": "Payload Too Large"})
            self.close_connection = True
        else:
            request = Request(
                method="GET" if head else self.command,
                path=split.path,
                query_string=split.query,
                headers=headers,
                body=body,
            )
            try:
                response = self.server.app.handle(request)
            except Exception as exc:  # the emulator must answer even when it has a bug
                response = Response.json(
                    500, {"statusCode": 500, "message": f"emulator error: {exc!r}"}
                )
        # Record first, so a client that has its answer always finds the request logged.
        self.server.on_request(
            RequestRecord(
                method=self.command,
                path=split.path,
                query=split.query,
                status=response.status,
                api_key_present=bool(headers.get("x-api-key")),
                at=time.time(),
            )
        )
        self._send(response, head=head)

    def _send(self, response: Response, *, head: bool) -> None:
        try:
            self.send_response(response.status)
            if response.content_type is not None:
                self.send_header("Content-Type", response.content_type)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if not head:
                self.wfile.write(response.body[: response.cut_after])
            self.wfile.flush()
            if response.cut_after is not None:
                self._cut(reset=response.reset)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _cut(self, *, reset: bool) -> None:
        """End the connection before the whole body went out (a FIN, or a reset)."""
        self.close_connection = True
        if not reset:
            return  # the server's normal close after this request sends the FIN
        time.sleep(RESET_PAUSE_SECONDS)
        # SO_LINGER on with a zero timeout: close() drops the connection with an RST.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.rfile.close()  # the socket's fd closes only when its last file object does
        self.connection.close()
