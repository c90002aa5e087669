"""Messages arriving on moto's queues, as a signal an idle poller waits on.

Lambda's pollers long-poll SQS: a message sent to an idle queue is received at once. A long
poll inside moto would hold its one lock (moto_world.py), so the local pollers receive with
``WaitTimeSeconds=0`` and wait here in between: every message moto adds to a queue (sent by a
function, by S3's or SNS's delivery) wakes that queue's pollers. A message that becomes
visible again on its own (a retry after its visibility timeout) wakes nobody: an idle poller
still asks again within its longest wait.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Arrivals:
    """How many messages each queue (by name) has been given; wait for the next one."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._counts: Counter[str] = Counter()
        self._interrupts = 0  # how often ``interrupt`` was called

    def arrived(self, queue_name: str) -> None:
        with self._changed:
            self._counts[queue_name] += 1
            self._changed.notify_all()

    def seen(self, queue_name: str) -> int:
        with self._changed:
            return self._counts[queue_name]

    def interrupts(self) -> int:
        with self._changed:
            return self._interrupts

    def wait(
        self,
        queue_name: str,
        since: int,
        timeout: float,
        stopping: threading.Event,
        interrupts: int | None = None,
    ) -> bool:
        """True as soon as a message arrives after ``since`` (a ``seen`` taken before the
        receive that found nothing: one sent in between is not missed), or ``stopping`` is set
        and ``interrupt`` called, or ``interrupt`` was called since ``interrupts`` was read;
        False after ``timeout`` seconds without any of these."""
        with self._changed:
            return self._changed.wait_for(
                lambda: (
                    self._counts[queue_name] != since
                    or stopping.is_set()
                    or (interrupts is not None and self._interrupts != interrupts)
                ),
                timeout,
            )

    def interrupt(self) -> None:
        """Wake every waiter, to see whether it is stopping."""
        with self._changed:
            self._interrupts += 1
            self._changed.notify_all()


ARRIVALS = Arrivals()
_installed = threading.Lock()


def watch_moto_queues() -> Arrivals:
    """Signal ``ARRIVALS`` whenever moto, in this process, adds a message to a queue (once)."""
    from moto.sqs import models

    with _installed:
        if getattr(models.Queue.add_message, "_syncdrop_arrivals", False):
            return ARRIVALS
        add_message = models.Queue.add_message

        def signalled(queue: Any, message: Any) -> None:
            add_message(queue, message)
            ARRIVALS.arrived(queue.name)

        signalled._syncdrop_arrivals = True  # type: ignore[attr-defined]
        models.Queue.add_message = signalled  # type: ignore[method-assign, assignment]
    return ARRIVALS
