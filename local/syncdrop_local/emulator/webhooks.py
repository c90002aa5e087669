"""Signed batch webhook delivery: one POST of the compact BatchResponse JSON, no retries.

Body: the ``BatchResponse`` (sync-api.md §2.5, §5.2) serialised like ``JSON.stringify`` —
``separators=(",", ":")``, non-ASCII left as UTF-8. Header ``Sync-Signature`` (name configurable,
e.g. ``X-Signature-Primary``): ``t=<real unix seconds>,v1=<hex HMAC-SHA256>`` keyed with the
webhook secret verbatim over ``f"{t}." + body`` (§5.4). No secret means no signature header.
The answer's status is recorded; nothing is retried, as Sync documents no retries (§5.1).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from .faults import FaultPlan
from .records import WebhookDelivery
from .settings import EmulatorSettings
from .signing import signature_header_value

USER_AGENT = "syncdrop-sync-emulator/1.0"


def webhook_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookSender:
    """Posts batch notifications and reports every attempt to ``record``."""

    def __init__(
        self,
        *,
        settings: EmulatorSettings,
        faults: FaultPlan,
        record: Callable[[WebhookDelivery], None],
        on_drop: Callable[[str], None],
    ) -> None:
        self._settings = settings
        self._faults = faults
        self._record = record
        self._on_drop = on_drop

    def headers_for(self, body: bytes, timestamp: int) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        secret = self._settings.webhook_secret
        if secret is not None:
            if self._faults.corrupt_webhook_signatures:
                secret += "-wrong"
            header_name = self._settings.signature_header
            headers[header_name] = signature_header_value(secret, timestamp, body)
        return headers

    def deliver(self, batch_id: str, url: str, payload: dict[str, Any]) -> None:
        """Send the notification (twice with ``duplicate_webhooks``) unless a fault drops it."""
        if self._faults.should_drop_webhook():
            self._on_drop(batch_id)
            return
        body = webhook_body(payload)
        headers = self.headers_for(body, int(time.time()))
        copies = 2 if self._faults.duplicate_webhooks else 1
        with httpx.Client(timeout=self._settings.webhook_timeout, follow_redirects=False) as client:
            for copy in range(copies):
                status: int | None = None
                error: str | None = None
                try:
                    status = client.post(url, content=body, headers=headers).status_code
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"
                self._record(
                    WebhookDelivery(
                        batch_id=batch_id,
                        url=url,
                        body=body,
                        headers=dict(headers),
                        status_code=status,
                        error=error,
                        sent_at=time.time(),
                        duplicate=copy > 0,
                    )
                )
