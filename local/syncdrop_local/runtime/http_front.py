"""API Gateway (HTTP API) locally: requests on 127.0.0.1 become payload-v2 events for a function."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from syncdrop.crash_points import SimulatedCrash
from syncdrop_local.runtime.function_kind import Invocable
from syncdrop_local.runtime.template import ACCOUNT

MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


def http_api_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The event API Gateway HTTP APIs send (payload format 2.0)."""
    parts = urlsplit(raw_path)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    lowered = {k.lower(): v for k, v in headers.items()}
    # API Gateway sets these on every request, whatever the caller sent; the front serves
    # plain HTTP on loopback where API Gateway serves HTTPS.
    port = lowered.get("host", "").rpartition(":")[2] or "80"
    lowered.update(
        {"x-forwarded-for": source_ip, "x-forwarded-proto": "http", "x-forwarded-port": port}
    )
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"{method} {parts.path}",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": lowered,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {parts.path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class HttpFront:
    """Routes "METHOD /path" to functions, as the template's HttpApi events declare."""

    def __init__(self, routes: dict[tuple[str, str], Invocable]) -> None:
        self.routes = routes
        self.answers: list[tuple[str, int]] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                front._serve(self, "POST")

            def do_GET(self) -> None:
                front._serve(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpFront:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        path = urlsplit(request.path).path
        function = self.routes.get((method, path))
        length = int(request.headers.get("content-length") or 0)
        if function is None or length > MAX_BODY:
            status = 404 if function is None else 413
            self._reply(
                request, status, {"content-type": "application/json"}, b'{"message":"Not Found"}'
            )
            return
        body = request.rfile.read(length)
        event = http_api_event(
            method, request.path, dict(request.headers), body, request.client_address[0]
        )
        try:
            result = function.invoke(event)
        except (Exception, SimulatedCrash):  # API Gateway's answer when the function fails
            self._reply(
                request,
                500,
                {"content-type": "application/json"},
                b'{"message":"Internal Server Error"}',
            )
            return
        status = int(result.get("statusCode", 200))
        headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        self._reply(request, status, headers, payload)

    def _reply(
        self, request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        self.answers.append((request.path, status))
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("content-length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
