"""Seeded dice for the fault plan: one random stream per fault kind, and keyed per-item rolls.

Two kinds of roll, both reproducible for a fixed seed:

- **stream** rolls (:meth:`Dice.roll`) draw from ``random.Random(f"{seed}:{kind}")``, one stream
  per kind, in the order requests arrive; turning one knob on never shifts another knob's draws.
- **keyed** rolls (:meth:`Dice.roll_for`) use ``random.Random(f"{seed}:{kind}:{key...}")``, e.g.
  keyed by batch ordinal and request id, so a batch's fate does not depend on request timing.

``random.Random`` seeds string keys with SHA-512, so results do not vary with ``PYTHONHASHSEED``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class Dice:
    """Thread-safe seeded rolls (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._streams: dict[str, random.Random] = {}

    @property
    def seed(self) -> int:
        return self._seed

    def _stream(self, kind: str) -> random.Random:
        stream = self._streams.get(kind)
        if stream is None:
            stream = self._streams[kind] = random.Random(f"{self._seed}:{kind}")  # nosec B311 # seeded test dice
        return stream

    def roll(self, kind: str, rate: float) -> bool:
        """The next draw of ``kind``'s stream is below ``rate`` (no draw when ``rate <= 0``)."""
        if rate <= 0:
            return False
        with self._lock:
            return self._stream(kind).random() < rate

    def roll_for(self, kind: str, rate: float, *key: object) -> bool:
        """A draw fixed by ``(seed, kind, key)`` is below ``rate``."""
        if rate <= 0:
            return False
        label = ":".join([str(self._seed), kind, *(str(part) for part in key)])
        return random.Random(label).random() < rate  # nosec B311 # seeded test dice

    def shuffled(self, kind: str, items: Sequence[T]) -> list[T]:
        """``items`` in an order drawn from ``kind``'s stream."""
        result = list(items)
        with self._lock:
            self._stream(kind).shuffle(result)
        return result

    def reset(self) -> None:
        """Restart every stream from the seed."""
        with self._lock:
            self._streams.clear()
