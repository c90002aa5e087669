"""The request-rate limit of ``POST /v2/generate``: a sliding 60-second window on the emulated
clock (sync-api.md §6.1), and the busiest window seen, for tests that prove a client keeps
under the limit."""

from __future__ import annotations

import threading
from collections import deque

WINDOW_SECONDS = 60.0


class SlidingWindowLimit:
    """Admits a request when fewer than ``limit`` were admitted in the last 60 s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admitted: deque[float] = deque()
        self._seen: deque[float] = deque()
        self._busiest = 0

    @staticmethod
    def _trim(times: deque[float], now: float) -> None:
        while times and times[0] <= now - WINDOW_SECONDS:
            times.popleft()

    def saw(self, now: float) -> None:
        """Count one request whatever its answer (for :attr:`busiest_minute`)."""
        with self._lock:
            self._seen.append(now)
            self._trim(self._seen, now)
            self._busiest = max(self._busiest, len(self._seen))

    def admit(self, now: float, limit: int) -> bool:
        """Is this request within ``limit`` per minute (0: no limit)? Admitted ones count."""
        with self._lock:
            self._trim(self._admitted, now)
            if limit > 0 and len(self._admitted) >= limit:
                return False
            self._admitted.append(now)
            return True

    @property
    def busiest_minute(self) -> int:
        """The most requests seen in any 60-second window."""
        with self._lock:
            return self._busiest

    def reset_record(self) -> None:
        with self._lock:
            self._seen.clear()
            self._busiest = 0
