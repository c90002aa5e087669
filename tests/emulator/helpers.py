"""Builders for batch lines, a recording webhook receiver and throwaway emulators for tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from syncdrop_local.emulator import SyncEmulator

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


def create_batch(client: httpx.Client, count: int = 20, **kwargs: Any) -> str:
    """Create a batch of ``count`` valid lines and return its id."""
    response = post_file(client, jsonl(lines(count)), **kwargs)
    assert response.status_code == 201, response.text
    batch_id: str = response.json()["id"]
    return batch_id


@contextmanager
def running(seed: int = 0, **kwargs: Any) -> Iterator[tuple[SyncEmulator, httpx.Client]]:
    """A frozen-clock emulator without a concurrency cap to speak of, and a keyed client."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "webhook_secret": SECRET,
        "time_scale": 0.0,
        "pending_seconds": 10.0,
        "processing_seconds_per_line": 1.0,
        "batch_concurrency": 1000,
        "seed": seed,
        **kwargs,
    }
    with (
        SyncEmulator(**options) as emu,
        httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}, timeout=10.0) as http,
    ):
        yield emu, http


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
