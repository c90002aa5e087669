"""Injectable, seeded faults for the Sync emulator: queued one-offs plus switches and rates.

Queued knobs are consumed in order by the requests they target:

- ``fail_next_creates(n, status=500, after_create=False)`` — the next ``n`` create POSTs answer
  ``status`` with a Sync-style error body. With ``after_create=True`` the batch *is* created and
  counted, then the answer is the error (the "outcome unknown" case); such a fault waits for the
  next create that actually creates a batch (dry runs and refused creates pass through).
- ``hang_next_creates(n, seconds, after_create=True)`` — delay the answer by ``seconds`` real
  seconds so a client timeout fires. With ``after_create=True`` the batch is created first and the
  late answer is the normal 201; with ``after_create=False`` nothing is created and the late answer
  is a 504.
- ``fail_next_gets(n, status=500)`` — the next ``n`` ``GET /v2/batch`` or ``GET /v2/batch/{id}``.
- ``fail_next_result_downloads(n, status=500)`` — the next ``n`` signed result downloads.
- ``rate_limit_next(n)`` — the next ``n`` authenticated ``/v2`` requests of any kind answer 429
  ``rate_limit_exceeded`` (checked before every other fault).

Switches, rates and delays are the fields of :class:`.fault_knobs.FaultKnobs`. Request-level
rates draw from one seeded stream per kind; batch-level ones (batch failure, result lines,
invalid result files, webhooks) are keyed by batch ordinal, and row-level ones (result lines,
output videos) by batch ordinal and request id, see :mod:`.dice`. :meth:`FaultPlan.counts`
tells how many faults of each kind were actually injected.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from .dice import Dice
from .fault_knobs import ENDPOINT_FAMILIES, MEDIA_FAULTS, FaultKnobs, everything_knobs
from .records import FaultTally

T = TypeVar("T")
MALFORMED = "malformed"
MISSING = "missing"


@dataclass(frozen=True)
class CreateFault:
    """A queued fault for one create POST."""

    kind: Literal["fail", "hang"]
    status: int
    seconds: float
    after_create: bool


@dataclass(frozen=True)
class BatchFaults:
    """Faults fixed for one batch when it is created."""

    fail_batch: bool = False
    result_lines: Mapping[str, str] = field(default_factory=dict)  # request id -> malformed|missing


@dataclass(frozen=True)
class MediaFault:
    """What happens to one fetch of an output video: ``refused`` (an S3-like ``status``),
    ``reset`` (TCP reset after part of the body) or ``truncated`` (the connection ends before
    ``Content-Length`` bytes)."""

    kind: Literal["refused", "reset", "truncated"]
    status: int = 200


@dataclass(frozen=True)
class WebhookFaults:
    """What happens to one batch notification."""

    drop: bool = False
    duplicate: bool = False
    corrupt: bool = False
    delay_seconds: float = 0.0


class FaultPlan(FaultKnobs):
    """Thread-safe fault queues, switches and seeded rates, consulted by routes and webhooks."""

    def __init__(self, *, seed: int = 0) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._dice = Dice(seed)
        self._tally = FaultTally()
        self._creates: deque[CreateFault] = deque()
        self._gets: deque[int] = deque()
        self._downloads: deque[int] = deque()
        self._rate_limited = 0
        self._expired_once: set[str] = set()
        self._served: dict[str, dict[str, str]] = {}
        self._invalid_served: set[str] = set()
        self._media_fetches: dict[tuple[int, str], int] = {}
        self._answered_keys: set[str] = set()

    @classmethod
    def everything(cls, *, seed: int = 0, intensity: float = 1.0) -> FaultPlan:
        """A plan with every random fault on at moderate rates (see :func:`everything_knobs`)."""
        return cls(seed=seed).configure(**everything_knobs(intensity))

    @property
    def seed(self) -> int:
        return self._dice.seed

    # -- arming -----------------------------------------------------------------------------

    def fail_next_creates(
        self, n: int = 1, status: int = 500, *, after_create: bool = False
    ) -> None:
        with self._lock:
            self._creates.extend(CreateFault("fail", status, 0.0, after_create) for _ in range(n))

    def hang_next_creates(
        self, n: int = 1, seconds: float = 5.0, *, after_create: bool = True
    ) -> None:
        with self._lock:
            self._creates.extend(CreateFault("hang", 504, seconds, after_create) for _ in range(n))

    def fail_next_gets(self, n: int = 1, status: int = 500) -> None:
        with self._lock:
            self._gets.extend([status] * n)

    def fail_next_result_downloads(self, n: int = 1, status: int = 500) -> None:
        with self._lock:
            self._downloads.extend([status] * n)

    def rate_limit_next(self, n: int = 1) -> None:
        with self._lock:
            self._rate_limited += n

    def clear(self) -> None:
        """Disarm every queued fault, switch and rate; the random streams restart from the seed.

        The injected-fault counts and served result faults are records and stay.
        """
        with self._lock:
            self._creates.clear()
            self._gets.clear()
            self._downloads.clear()
            self._rate_limited = 0
            self._expired_once.clear()
            self._media_fetches.clear()
            self._answered_keys.clear()
        self._dice.reset()
        self.reset_knobs()

    @property
    def pending(self) -> dict[str, int]:
        """How many queued faults of each kind are still armed."""
        with self._lock:
            return {
                "creates": len(self._creates),
                "gets": len(self._gets),
                "result_downloads": len(self._downloads),
                "rate_limited": self._rate_limited,
            }

    # -- introspection ----------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Faults actually injected so far, by kind (every kind listed, zeros included)."""
        return self._tally.snapshot()

    @property
    def injected(self) -> dict[str, int]:
        """Only the kinds injected at least once."""
        return {kind: n for kind, n in self.counts().items() if n}

    def reset_counts(self) -> None:
        self._tally.reset()

    def served_result_faults(self, batch_id: str) -> dict[str, str]:
        """Request ids whose result line was served ``malformed`` or left out (``missing``)."""
        with self._lock:
            return dict(self._served.get(batch_id, {}))

    # -- consuming: requests ----------------------------------------------------------------

    def _hit(self, kind: str, rate: float, tally: str) -> bool:
        if self._dice.roll(kind, rate):
            self._tally.add(tally)
            return True
        return False

    def take_rate_limit(self) -> bool:
        with self._lock:
            if self._rate_limited > 0:
                self._rate_limited -= 1
                self._tally.add("rate_limited")
                return True
        return self._hit("rate_limit", self.rate_limit_rate, "rate_limited")

    def take_create_fault(self, *, created: bool) -> CreateFault | None:
        """The fault for this create, if any: before creating (``created=False``) only faults
        without ``after_create`` apply; once a batch exists only ``after_create`` faults do."""
        with self._lock:
            if self._creates and self._creates[0].after_create == created:
                fault = self._creates.popleft()
                self._tally.add("create_hang" if fault.kind == "hang" else "create_error")
                return fault
        if not created and self._hit("create_error", self.create_error_rate, "create_error"):
            return CreateFault("fail", 500, 0.0, after_create=False)
        return None

    def _take_read_fault(self, tally: str, rates: Iterable[tuple[str, float]]) -> int | None:
        with self._lock:
            if self._gets:
                self._tally.add(tally)
                return self._gets.popleft()
        for kind, rate in rates:
            if self._hit(kind, rate, tally):
                return 500
        return None

    def take_get_fault(self) -> int | None:
        return self._take_read_fault("get_error", [("get_error", self.get_error_rate)])

    def take_list_fault(self) -> int | None:
        """Queued get faults, then ``list_error_rate``, then ``get_error_rate`` (lists are gets)."""
        rates = [("list_error", self.list_error_rate), ("get_error", self.get_error_rate)]
        return self._take_read_fault("list_error", rates)

    def take_download_fault(self) -> int | None:
        with self._lock:
            if self._downloads:
                self._tally.add("result_error")
                return self._downloads.popleft()
        return 500 if self._hit("result_error", self.result_error_rate, "result_error") else None

    def take_slow(self, family: str) -> float:
        """Real seconds to hold this answer back (0 for most requests)."""
        if family not in ENDPOINT_FAMILIES:
            raise ValueError(f"unknown endpoint family {family!r}")
        rate = float(getattr(self, f"{family}_slow_rate"))
        seconds = float(getattr(self, f"{family}_slow_seconds"))
        if seconds > 0 and self._hit(f"{family}_slow", rate, f"slow_{family}"):
            return seconds
        return 0.0

    def take_concurrency_limit(self) -> bool:
        return self._hit("concurrency_429", self.concurrency_429_rate, "concurrency_limited")

    def take_generate_error(self) -> int | None:
        """500 or 503 for a ``POST /v2/generate`` before it creates anything, or ``None``."""
        if self._hit("generate_5xx", self.generate_5xx_rate, "generate_error"):
            return 503 if self._dice.roll("generate_5xx_status", 0.5) else 500
        return None

    def take_generation_concurrency_limit(self) -> bool:
        return self._hit(
            "generation_concurrency_429",
            self.generation_concurrency_429_rate,
            "generation_concurrency_limited",
        )

    def take_lost_answer(self, idempotency_key: str | None) -> bool:
        """Lose the answer to this create: the first one for each idempotency key (keyed
        creates only: without a key a client could never see an answer)."""
        if not self.generate_lose_first_answer or idempotency_key is None:
            return False
        with self._lock:
            first = idempotency_key not in self._answered_keys
            self._answered_keys.add(idempotency_key)
        if first:
            self._tally.add("generate_answer_lost")
        return first

    def take_unknown_outcome(self) -> tuple[bool, bool]:
        """(answer 503 IDEMPOTENCY_OUTCOME_UNKNOWN?, name the generation in it?)."""
        rate = self.idempotency_unknown_rate
        if not self._hit("idempotency_unknown", rate, "idempotency_unknown"):
            return False, False
        return True, self._dice.roll("idempotency_unknown_id", 0.5)

    def take_expired_link(self, batch_id: str) -> bool:
        """Hand out an already expired signed link for this redirect?"""
        if self.expire_result_links:
            with self._lock:
                first = batch_id not in self._expired_once
                self._expired_once.add(batch_id)
            if first:
                self._tally.add("expired_link")
                return True
        return self._hit("expired_link", self.expired_link_rate, "expired_link")

    # -- consuming: batches and result files ------------------------------------------------

    def plan_batch(
        self, ordinal: int, request_ids: Sequence[str], *, already_failing: bool = False
    ) -> BatchFaults:
        """Fix a new batch's random whole-batch failure and result-line faults."""
        fail = not already_failing and self._dice.roll_for(
            "batch_failure", self.batch_failure_rate, ordinal
        )
        if fail:
            self._tally.add("batch_failed")
        lines: dict[str, str] = {}
        for request_id in request_ids:
            if self._dice.roll_for(
                "missing_result_line", self.missing_result_line_rate, ordinal, request_id
            ):
                lines[request_id] = MISSING
            elif self._dice.roll_for(
                "malformed_result_line", self.malformed_result_line_rate, ordinal, request_id
            ):
                lines[request_id] = MALFORMED
        return BatchFaults(fail_batch=fail, result_lines=lines)

    def record_served(
        self, batch_id: str, applied: Mapping[str, str], *, whole_file: bool = False
    ) -> None:
        """Note result-line faults actually served; each line counts once per batch.

        ``whole_file``: every line was served malformed because the file is never valid; that
        counts once per batch as ``invalid_result_file``, not per line.
        """
        with self._lock:
            served = self._served.setdefault(batch_id, {})
            for request_id, kind in applied.items():
                if request_id not in served:
                    served[request_id] = kind
                    if not whole_file:
                        self._tally.add(f"{kind}_result_line")
            if whole_file and batch_id not in self._invalid_served:
                self._invalid_served.add(batch_id)
                self._tally.add("invalid_result_file")

    def invalid_result_file(self, ordinal: int) -> bool:
        """Is this batch's result file malformed on every fetch (no line valid JSON)?"""
        return self.invalid_result_files or self._dice.roll_for(
            "invalid_result_file", self.invalid_result_file_rate, ordinal
        )

    # -- consuming: output videos -----------------------------------------------------------

    def media_fault_kind(self, ordinal: int, request_id: str) -> str | None:
        """Which output-video fault, if any, picks this row of batch ``ordinal`` (no fetch is
        counted; tests use it to know which rows to expect)."""
        for kind in MEDIA_FAULTS:
            rows: frozenset[str] = getattr(self, f"media_{kind}_rows")
            rate: float = getattr(self, f"media_{kind}_rate")
            if request_id in rows or self._dice.roll_for(
                f"media_{kind}", rate, ordinal, request_id
            ):
                return kind
        return None

    def take_media_fault(self, ordinal: int, request_id: str) -> MediaFault | None:
        """The fault for this fetch of a row's output video, if the row is picked (by request id
        or by its keyed roll); with ``media_fault_fetches`` > 0 only its first that many."""
        kind = self.media_fault_kind(ordinal, request_id)
        if kind is None:
            return None
        with self._lock:
            fetches = self._media_fetches.get((ordinal, request_id), 0) + 1
            self._media_fetches[(ordinal, request_id)] = fetches
        if self.media_fault_fetches and fetches > self.media_fault_fetches:
            return None
        self._tally.add(f"media_{kind}")
        if kind == "refused":
            return MediaFault("refused", self.media_refused_status)
        return MediaFault("reset" if kind == "reset" else "truncated")

    # -- consuming: assets ------------------------------------------------------------------

    def take_asset_fault(self, kind: str, rate: float) -> bool:
        """One draw of the Assets API fault ``kind`` (counted as ``kind``) at ``rate``."""
        return self._hit(kind, rate, kind)

    def asset_draw(self, kind: str, share: float) -> bool:
        """Which way an injected asset fault goes (a seeded draw, never counted)."""
        return self._dice.roll(kind, share)

    # -- consuming: webhooks ----------------------------------------------------------------

    def webhook_faults(self, ordinal: int | str) -> WebhookFaults:
        """Drop, duplicate, corrupt and delay decisions for one notification (keyed by a
        batch ordinal, or ``generation:<ordinal>``)."""
        dice = self._dice
        if self.drop_webhooks or dice.roll_for("webhook_drop", self.webhook_drop_rate, ordinal):
            self._tally.add("webhook_dropped")
            return WebhookFaults(drop=True)
        duplicate = self.duplicate_webhooks or dice.roll_for(
            "webhook_duplicate", self.duplicate_webhook_rate, ordinal
        )
        corrupt = self.corrupt_webhook_signatures or dice.roll_for(
            "corrupt_signature", self.corrupt_signature_rate, ordinal
        )
        delay = self.webhook_delay_seconds
        delayed = delay > 0 and dice.roll_for("webhook_delay", self.webhook_delay_rate, ordinal)
        for hit, kind in (
            (duplicate, "webhook_duplicated"),
            (corrupt, "webhook_signature_corrupted"),
            (delayed, "webhook_delayed"),
        ):
            if hit:
                self._tally.add(kind)
        return WebhookFaults(
            duplicate=duplicate, corrupt=corrupt, delay_seconds=delay if delayed else 0.0
        )

    def premature_webhook(self, ordinal: int) -> bool:
        """Send this PROCESSING batch a premature ``COMPLETED`` notification?"""
        if self._dice.roll_for("premature_webhook", self.premature_webhook_rate, ordinal):
            self._tally.add("premature_webhook")
            return True
        return False

    def reorder(self, items: Sequence[T]) -> list[T]:
        """With ``reorder_webhooks``, ``items`` in a seeded shuffled order."""
        if not self.reorder_webhooks or len(items) < 2:
            return list(items)
        shuffled = self._dice.shuffled("reorder", items)
        moved = sum(1 for before, after in zip(items, shuffled, strict=True) if before is not after)
        if moved:
            self._tally.add("webhook_reordered", moved)
        return shuffled
