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
    kind: str = "batch"  # or "generation"; ``batch_id`` then holds the generation id

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


@dataclass(frozen=True)
class GenerateCounts:
    """Counts of ``POST /v2/generate`` requests.

    ``received`` every POST whatever its answer; ``created`` generations actually created
    (including those whose answer a fault lost); ``replays`` answers that returned an earlier
    generation of the same idempotency key; ``limited`` 429 answers by ``errorCode``;
    ``distinct_idempotency_keys`` valid keys seen.
    """

    received: int = 0
    created: int = 0
    replays: int = 0
    limited: dict[str, int] = field(default_factory=dict)
    distinct_idempotency_keys: int = 0


class GenerateTally:
    """Thread-safe running counts behind :class:`GenerateCounts`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received = self._created = self._replays = 0
        self._limited: dict[str, int] = {}
        self._keys: set[str] = set()

    def received(self) -> None:
        with self._lock:
            self._received += 1

    def saw_key(self, idempotency_key: str) -> None:
        with self._lock:
            self._keys.add(idempotency_key)

    def created(self) -> None:
        with self._lock:
            self._created += 1

    def replayed(self) -> None:
        with self._lock:
            self._replays += 1

    def limited(self, error_code: str) -> None:
        with self._lock:
            self._limited[error_code] = self._limited.get(error_code, 0) + 1

    def snapshot(self) -> GenerateCounts:
        with self._lock:
            return GenerateCounts(
                self._received, self._created, self._replays, dict(self._limited), len(self._keys)
            )

    def reset(self) -> None:
        with self._lock:
            self._received = self._created = self._replays = 0
            self._limited = {}
            self._keys = set()


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
    "asset_upload_error",
    "asset_put_error",
    "asset_put_cut",
    "asset_register_error",
    "asset_register_lost_answer",
    "asset_lookup_error",
    "generate_error",
    "slow_generate",
    "generate_answer_lost",
    "idempotency_unknown",
    "generation_concurrency_limited",
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
