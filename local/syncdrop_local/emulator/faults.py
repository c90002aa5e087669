"""Injectable, seeded faults for the Sync emulator: failed or hung creates, 429s, webhook trouble.

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

Switches and seeded rates (``random.Random(seed)``, reproducible for a given request sequence):
``drop_webhooks``, ``duplicate_webhooks`` (same body and signature sent twice),
``corrupt_webhook_signatures`` (signature made with the wrong key), ``create_error_rate``
(random 500 before creating), ``get_error_rate`` (random 500 on gets) and ``webhook_drop_rate``.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class CreateFault:
    """A queued fault for one create POST."""

    kind: Literal["fail", "hang"]
    status: int
    seconds: float
    after_create: bool


class FaultPlan:
    """Thread-safe fault queues and switches, consulted by the HTTP layer and webhook sender."""

    def __init__(self, *, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._rng = random.Random(seed)
        self._creates: deque[CreateFault] = deque()
        self._gets: deque[int] = deque()
        self._downloads: deque[int] = deque()
        self._rate_limited = 0
        self.drop_webhooks = False
        self.duplicate_webhooks = False
        self.corrupt_webhook_signatures = False
        self.create_error_rate = 0.0
        self.get_error_rate = 0.0
        self.webhook_drop_rate = 0.0

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
        """Disarm every queued fault and switch (the random generator is re-seeded)."""
        with self._lock:
            self._creates.clear()
            self._gets.clear()
            self._downloads.clear()
            self._rate_limited = 0
            self._rng = random.Random(self._seed)
        self.drop_webhooks = False
        self.duplicate_webhooks = False
        self.corrupt_webhook_signatures = False
        self.create_error_rate = 0.0
        self.get_error_rate = 0.0
        self.webhook_drop_rate = 0.0

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

    # -- consuming (HTTP layer) -------------------------------------------------------------

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def take_rate_limit(self) -> bool:
        with self._lock:
            if self._rate_limited > 0:
                self._rate_limited -= 1
                return True
            return False

    def take_create_fault(self, *, created: bool) -> CreateFault | None:
        """The fault for this create, if any: before creating (``created=False``) only faults
        without ``after_create`` apply; once a batch exists only ``after_create`` faults do."""
        with self._lock:
            if self._creates and self._creates[0].after_create == created:
                return self._creates.popleft()
            if not created and self._roll(self.create_error_rate):
                return CreateFault("fail", 500, 0.0, after_create=False)
            return None

    def take_get_fault(self) -> int | None:
        with self._lock:
            if self._gets:
                return self._gets.popleft()
            return 500 if self._roll(self.get_error_rate) else None

    def take_download_fault(self) -> int | None:
        with self._lock:
            return self._downloads.popleft() if self._downloads else None

    def should_drop_webhook(self) -> bool:
        with self._lock:
            return self.drop_webhooks or self._roll(self.webhook_drop_rate)
