"""Signed webhook delivery: one POST of the compact BatchResponse (or Generation) JSON, no retries.

Body: the ``BatchResponse`` (sync-api.md §2.5, §5.2) serialised like ``JSON.stringify`` —
``separators=(",", ":")``, non-ASCII left as UTF-8. Header ``Sync-Signature`` (name configurable,
e.g. ``X-Signature-Primary``): ``t=<real unix seconds>,v1=<hex HMAC-SHA256>`` keyed with the
webhook secret verbatim over ``f"{t}." + body`` (§5.4); ``t`` is the real time of sending, also
for a held-back delivery. No secret means no signature header. The answer's status is recorded;
nothing is retried, as Sync documents no retries (§5.1). :mod:`.dispatch` decides what to send.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .records import WebhookDelivery
from .settings import EmulatorSettings
from .signing import signature_header_value

USER_AGENT = "syncdrop-sync-emulator/1.0"


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class OutgoingWebhook:
    """One notification waiting to be sent at ``due`` (``time.monotonic()`` seconds)."""

    batch_id: str
    url: str
    payload: dict[str, Any]
    due: float
    duplicate: bool = False
    corrupt: bool = False
    premature: bool = False
    held_seconds: float = 0.0
    kind: str = "batch"  # or "generation": the body is then a Generation object


class WebhookSender:
    """Posts batch notifications and reports every attempt to ``record``."""

    def __init__(
        self, *, settings: EmulatorSettings, record: Callable[[WebhookDelivery], None]
    ) -> None:
        self._settings = settings
        self._record = record

    def headers_for(self, body: bytes, timestamp: int, *, corrupt: bool = False) -> dict[str, str]:
        """Headers of one POST; ``corrupt`` signs with the wrong key."""
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        secret = self._settings.webhook_secret
        if secret is not None:
            if corrupt:
                secret += "-wrong"
            header_name = self._settings.signature_header
            headers[header_name] = signature_header_value(secret, timestamp, body)
        return headers

    def send(self, item: OutgoingWebhook) -> None:
        """POST the notification (twice, same body and signature, for a duplicate)."""
        body = webhook_body(item.payload)
        headers = self.headers_for(body, int(time.time()), corrupt=item.corrupt)
        copies = 2 if item.duplicate else 1
        with httpx.Client(timeout=self._settings.webhook_timeout, follow_redirects=False) as client:
            for copy in range(copies):
                status: int | None = None
                error: str | None = None
                try:
                    status = client.post(item.url, content=body, headers=headers).status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                self._record(
                    WebhookDelivery(
                        batch_id=item.batch_id,
                        url=item.url,
                        body=body,
                        headers=dict(headers),
                        status_code=status,
                        error=error,
                        sent_at=time.time(),
                        duplicate=copy > 0,
                        premature=item.premature,
                        held_seconds=item.held_seconds,
                        kind=item.kind,
                    )
                )
