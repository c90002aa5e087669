"""Builders for batch input lines and a recording webhook receiver used by the emulator tests."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

API_KEY = "test-api-key"
SECRET = "whsec_test_secret"
VIDEO = "https://cdn.example.com/video.mp4"
AUDIO = "https://cdn.example.com/audio.wav"


def line(
    index: int,
    *,
    video: str = VIDEO,
    audio: str | None = AUDIO,
    model: str = "lipsync-2",
    request_id: str | None = None,
    endpoint: str = "/v2/generate",
) -> dict[str, Any]:
    inputs: list[dict[str, Any]] = [{"type": "video", "url": video}]
    if audio is not None:
        inputs.append({"type": "audio", "url": audio})
    return {
        "request_id": request_id if request_id is not None else f"request-{index}",
        "endpoint": endpoint,
        "payload": {"model": model, "input": inputs},
    }


def lines(count: int = 20) -> list[dict[str, Any]]:
    """``count`` valid lines with request ids ``request-1`` .. ``request-<count>``."""
    return [line(i) for i in range(1, count + 1)]


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(record) + "\n" for record in records).encode()


def post_file(
    client: httpx.Client,
    data: bytes,
    *,
    field_name: str = "input",
    webhook_url: str | None = None,
    dry_run: bool | None = None,
) -> httpx.Response:
    form: dict[str, str] = {}
    if webhook_url is not None:
        form["webhook_url"] = webhook_url
    if dry_run is not None:
        form["dry_run"] = "true" if dry_run else "false"
    files = {field_name: ("input.jsonl", data, "application/jsonl")}
    return client.post("/v2/batch", data=form, files=files)


def post_rows(client: httpx.Client, rows: list[Any], **extra: Any) -> httpx.Response:
    return client.post("/v2/batch", json={"rows": rows, **extra})


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A tiny HTTP server on 127.0.0.1 that records every POST and answers ``status``."""

    status: int = 200
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _event: threading.Event = field(default_factory=threading.Event)

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                receiver._event.set()
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/sync"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
