"""Introspection records the emulator keeps for tests: requests, creates, webhooks, faults."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request the emulator answered (``at`` is real unix time)."""

    method: str
    path: str
    query: str
    status: int
    api_key_present: bool
    at: float


@dataclass(frozen=True)
class CreateCounts:
    """Counts of ``POST /v2/batch`` requests.

    ``total`` every ``POST /v2/batch`` whatever its answer (401 and 429 included); ``accepted``
    batches actually created (including those whose answer a fault replaced with an error);
    ``dry_run`` validated dry runs; ``rejected`` answers of 400 and above, by status code.
    """

    total: int = 0
    accepted: int = 0
    dry_run: int = 0
    rejected: dict[int, int] = field(default_factory=dict)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())


@dataclass(frozen=True)
class WebhookDelivery:
    """One webhook POST the emulator attempted (``status_code`` is ``None`` if it got no answer)."""

    batch_id: str
    url: str
    body: bytes
    headers: dict[str, str]
    status_code: int | None
    error: str | None
    sent_at: float
    duplicate: bool = False
    premature: bool = False
    held_seconds: float = 0.0

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class BatchSnapshot:
    """A created batch as seen at ``observed_at`` (emulated time)."""

    id: str
    ordinal: int
    created_at: str
    created_at_ts: float
    status: str
    lines: tuple[dict[str, Any], ...]
    webhook_url: str | None
    metrics: dict[str, int]
    output_url: str
    outcomes: dict[str, str]
    batch_failed: bool
    terminal_at: float
    webhook_sent: bool
    observed_at: float
    injected_failure: bool = False


class CreateTally:
    """Thread-safe running counts behind :class:`CreateCounts`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = 0
        self._accepted = 0
        self._dry_run = 0
        self._rejected: dict[int, int] = {}

    def received(self) -> None:
        with self._lock:
            self._total += 1

    def created(self) -> None:
        with self._lock:
            self._accepted += 1

    def validated(self) -> None:
        with self._lock:
            self._dry_run += 1

    def answered(self, status: int) -> None:
        if status < 400:
            return
        with self._lock:
            self._rejected[status] = self._rejected.get(status, 0) + 1

    def snapshot(self) -> CreateCounts:
        with self._lock:
            return CreateCounts(self._total, self._accepted, self._dry_run, dict(self._rejected))

    def reset(self) -> None:
        with self._lock:
            self._total = self._accepted = self._dry_run = 0
            self._rejected = {}


FAULT_KINDS: tuple[str, ...] = (
    "create_error",
    "create_hang",
    "get_error",
    "list_error",
    "result_error",
    "slow_create",
    "slow_get",
    "slow_list",
    "slow_result",
    "rate_limited",
    "concurrency_limited",
    "batch_failed",
    "expired_link",
    "malformed_result_line",
    "missing_result_line",
    "invalid_result_file",
    "media_refused",
    "media_reset",
    "media_truncated",
    "webhook_dropped",
    "webhook_duplicated",
    "webhook_delayed",
    "webhook_reordered",
    "webhook_signature_corrupted",
    "premature_webhook",
)


class FaultTally:
    """Thread-safe counts of the faults actually injected, by kind (see :data:`FAULT_KINDS`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(FAULT_KINDS, 0)

    def add(self, kind: str, n: int = 1) -> None:
        if kind not in self._counts:
            raise KeyError(kind)
        with self._lock:
            self._counts[kind] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(FAULT_KINDS, 0)
