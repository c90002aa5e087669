"""Emulated wall clock for the Sync emulator: real time multiplied by a scale, plus manual jumps."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


class Clock:
    """Unix-seconds clock whose speed and position tests control.

    ``now()`` starts at the real wall-clock time, then runs ``time_scale`` times faster than real
    time (``0`` freezes it) and jumps forward whenever ``advance()`` is called.
    """

    def __init__(self, *, time_scale: float = 1.0, start: float | None = None) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._lock = threading.Lock()
        self._anchor = time.time() if start is None else start
        self._anchor_monotonic = time.monotonic()
        self._time_scale = time_scale

    def _now_locked(self) -> float:
        elapsed = time.monotonic() - self._anchor_monotonic
        return self._anchor + elapsed * self._time_scale

    def now(self) -> float:
        """Current emulated time in unix seconds."""
        with self._lock:
            return self._now_locked()

    def now_datetime(self) -> datetime:
        """Current emulated time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        """Jump the clock forward by ``seconds`` emulated seconds."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._anchor += seconds

    @property
    def time_scale(self) -> float:
        """Emulated seconds that pass per real second."""
        with self._lock:
            return self._time_scale

    @time_scale.setter
    def time_scale(self, value: float) -> None:
        if value < 0:
            raise ValueError("time_scale must be >= 0")
        with self._lock:
            self._anchor = self._now_locked()
            self._anchor_monotonic = time.monotonic()
            self._time_scale = value


def isoformat(timestamp: float) -> str:
    """Render unix seconds the way Sync does: ISO-8601 UTC with milliseconds and a ``Z``."""
    millis = to_millis(timestamp)
    moment = datetime.fromtimestamp(millis // 1000, UTC) + timedelta(milliseconds=millis % 1000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_millis(timestamp: float) -> int:
    """Unix seconds rounded to whole milliseconds, the precision Sync's timestamps carry."""
    return round(timestamp * 1000)


def parse_iso8601(value: str) -> float:
    """Parse an ISO-8601 date-time (``Z`` or offset; naive means UTC) into unix seconds.

    Raises ``ValueError`` for anything that is not a date-time.
    """
    text = value.strip()
    if not text:
        raise ValueError("empty date-time")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()
