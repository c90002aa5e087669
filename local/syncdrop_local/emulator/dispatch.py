"""Each tick, turns batch state into webhook deliveries: premature, dropped, held back, shuffled.

On every tick, in this order:

1. with ``premature_webhook_rate > 0``, each ``PROCESSING`` batch with a webhook URL is rolled
   once (keyed by its ordinal); a hit queues a ``COMPLETED`` notification carrying the batch's
   current, non-terminal metrics and ``outputUrl: ""``;
2. each batch and each generation that became terminal gets its notification decided (drop,
   duplicate, corrupt signature, delay in **real** seconds) and queued, due now or after the
   delay (a generation's decisions are keyed ``generation:<ordinal>``);
3. everything due is sent, oldest due first, or in a seeded shuffled order with
   ``reorder_webhooks``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from .batches import Batch, BatchStore
from .faults import FaultPlan
from .generations import Generation, GenerationStore
from .webhooks import OutgoingWebhook, WebhookSender


class WebhookDispatcher:
    """Holds queued notifications between ticks and sends the due ones."""

    def __init__(
        self,
        *,
        store: BatchStore,
        faults: FaultPlan,
        sender: WebhookSender,
        batch_json: Callable[[Batch, float], dict[str, Any]],
        on_drop: Callable[[str], None],
        generations: GenerationStore | None = None,
        generation_json: Callable[[Generation, float], dict[str, Any]] | None = None,
    ) -> None:
        self._store = store
        self._generations = generations
        self._generation_json = generation_json
        self._faults = faults
        self._sender = sender
        self._batch_json = batch_json
        self._on_drop = on_drop
        self._lock = threading.Lock()
        self._held: list[OutgoingWebhook] = []

    @property
    def held(self) -> int:
        """Notifications queued and not yet sent."""
        with self._lock:
            return len(self._held)

    def _queue(self, item: OutgoingWebhook) -> None:
        with self._lock:
            self._held.append(item)

    def _take_due(self, now: float) -> list[OutgoingWebhook]:
        with self._lock:
            due = [item for item in self._held if item.due <= now]
            self._held = [item for item in self._held if item.due > now]
        return sorted(due, key=lambda item: item.due)

    def tick(self) -> None:
        now = time.monotonic()
        faults = self._faults
        if faults.premature_webhook_rate > 0:
            at, processing = self._store.claim_processing()
            for batch in processing:
                if batch.webhook_url and faults.premature_webhook(batch.ordinal):
                    payload = self._batch_json(batch, at)
                    payload.update(status="COMPLETED", outputUrl="")
                    self._queue(
                        OutgoingWebhook(
                            batch.id,
                            batch.webhook_url,
                            payload,
                            due=now,
                            corrupt=faults.corrupt_webhook_signatures,
                            premature=True,
                        )
                    )
        at, terminal = self._store.claim_due_webhooks_at()
        for batch in terminal:
            if not batch.webhook_url:
                continue
            decision = faults.webhook_faults(batch.ordinal)
            if decision.drop:
                self._on_drop(batch.id)
                continue
            self._queue(
                OutgoingWebhook(
                    batch.id,
                    batch.webhook_url,
                    self._batch_json(batch, at),
                    due=now + decision.delay_seconds,
                    duplicate=decision.duplicate,
                    corrupt=decision.corrupt,
                    held_seconds=decision.delay_seconds,
                )
            )
        self._queue_generations(now)
        for item in faults.reorder(self._take_due(now)):
            self._sender.send(item)

    def _queue_generations(self, now: float) -> None:
        if self._generations is None or self._generation_json is None:
            return
        at, terminal = self._generations.claim_due_webhooks_at()
        for generation in terminal:
            url = generation.webhook_url
            if not url:
                continue
            decision = self._faults.webhook_faults(f"generation:{generation.ordinal}")
            if decision.drop:
                self._on_drop(generation.id)
                continue
            self._queue(
                OutgoingWebhook(
                    generation.id,
                    url,
                    self._generation_json(generation, at),
                    due=now + decision.delay_seconds,
                    duplicate=decision.duplicate,
                    corrupt=decision.corrupt,
                    held_seconds=decision.delay_seconds,
                    kind="generation",
                )
            )
