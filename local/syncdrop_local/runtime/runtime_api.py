"""Lambda's Runtime API for one execution environment: hands events to awslambdaric's loop in
the environment's process and takes back its answers, on 127.0.0.1."""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"


@dataclass(frozen=True)
class Outcome:
    """How an invocation ended: ``response`` (the handler's JSON bytes) or ``error`` (Lambda's
    errorType/errorMessage/stackTrace document)."""

    response: bytes | None = None
    error: dict[str, Any] | None = None


@dataclass
class Invocation:
    """One event on its way through an environment. The first outcome to arrive wins: the
    runtime's answer, its init error, or the verdict of whoever watches the process."""

    payload: bytes
    function_arn: str
    timeout: float
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str = field(
        default_factory=lambda: f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0"
    )
    delivered_at: float | None = None  # time.monotonic() when the runtime took the event
    ended_at: float | None = None
    outcome: Outcome | None = None
    _done: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def deadline(self) -> float | None:
        """time.monotonic() at which the handler runs out of time (known once delivered)."""
        return None if self.delivered_at is None else self.delivered_at + self.timeout

    def finish(self, outcome: Outcome) -> bool:
        with self._lock:
            if self.outcome is not None:
                return False
            self.outcome = outcome
            self.ended_at = time.monotonic()
        self._done.set()
        return True

    def wait(self, timeout: float) -> Outcome | None:
        self._done.wait(timeout)
        return self.outcome


class RuntimeApiServer:
    """The Runtime API of one environment (ThreadingHTTPServer on 127.0.0.1, port 0).

    ``GET .../invocation/next`` long-polls until ``post`` queues an event; ``POST
    .../invocation/{id}/response`` and ``.../error`` finish it; ``POST .../init/error`` records
    why the runtime could not start and fails the invocation waiting for it.
    """

    def __init__(self) -> None:
        self.init_error: dict[str, Any] | None = None
        self._pending: queue.Queue[Invocation | None] = queue.Queue()
        self._current: Invocation | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._http = _QuietServer(("127.0.0.1", 0), _handler_class(self))
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.05,), name="runtime-api", daemon=True
        )

    @property
    def address(self) -> str:
        """What AWS_LAMBDA_RUNTIME_API holds: host:port."""
        host, port = self._http.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> RuntimeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._pending.put(None)  # wakes a long-polling /next so its thread can end
        self._http.shutdown()
        self._http.server_close()

    def post(self, invocation: Invocation) -> None:
        """Queue an event for the environment's next ``/next``."""
        with self._lock:
            self._current = invocation
            if self.init_error is not None:
                invocation.finish(Outcome(error=self.init_error))
                return
        self._pending.put(invocation)

    # Called from the HTTP handler's threads.

    def _next(self) -> Invocation | None:
        invocation = self._pending.get()
        if invocation is not None:
            invocation.delivered_at = time.monotonic()
        return invocation

    def _finish(self, request_id: str, outcome: Outcome) -> bool:
        with self._lock:
            current = self._current
        if current is None or current.request_id != request_id:
            return False
        return current.finish(outcome)

    def _init_failed(self, error: dict[str, Any]) -> None:
        with self._lock:
            self.init_error = error
            current = self._current
        if current is not None:
            current.finish(Outcome(error=error))


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A killed environment drops its connection mid-request: expected, not news."""


def _error_document(body: bytes, error_type: str | None) -> dict[str, Any]:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        document = {"errorMessage": body.decode("utf-8", "replace")}
    if not isinstance(document, dict):
        document = {"errorMessage": str(document)}
    document.setdefault("errorType", error_type or "Runtime.Unknown")
    document.setdefault("errorMessage", "")
    document.setdefault("stackTrace", [])
    return document


def _handler_class(api: RuntimeApiServer) -> type[BaseHTTPRequestHandler]:
    class RuntimeApiHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # awslambdaric keeps one connection for /next

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold the body back ~40 ms on every call.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the environment's own output is the log worth reading."""

        def _answer(
            self, status: HTTPStatus, body: bytes = b"", headers: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            if self.path != f"{PREFIX}/invocation/next":
                self._answer(HTTPStatus.NOT_FOUND, b'{"errorMessage":"unknown path"}')
                return
            invocation = api._next()
            if invocation is None:  # the environment is going away
                self._answer(HTTPStatus.GONE, b'{"errorMessage":"environment stopped"}')
                self.close_connection = True
                return
            deadline_ms = int((time.time() + invocation.timeout) * 1000)
            self._answer(
                HTTPStatus.OK,
                invocation.payload,
                {
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": invocation.function_arn,
                    "Lambda-Runtime-Trace-Id": invocation.trace_id,
                },
            )

        def do_POST(self) -> None:
            body = self._body()
            parts = self.path.removeprefix(PREFIX).strip("/").split("/")
            error_type = self.headers.get(ERROR_TYPE_HEADER)
            if parts == ["init", "error"]:
                api._init_failed(_error_document(body, error_type))
                self._answer(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                return
            if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                if parts[2] == "response":
                    outcome = Outcome(response=body)
                else:
                    outcome = Outcome(error=_error_document(body, error_type))
                if api._finish(parts[1], outcome):
                    self._answer(HTTPStatus.ACCEPTED, b'{"status":"OK"}')
                else:
                    self._answer(HTTPStatus.BAD_REQUEST, b'{"errorMessage":"unknown request id"}')
                return
            self._answer(HTTPStatus.NOT_FOUND, b'{"errorMessage":"unknown path"}')

    return RuntimeApiHandler
