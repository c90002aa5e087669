"""Lambda's SQS event source, locally: receive, invoke with real-shaped records, delete or retry.

Like Lambda's, it runs several batches at once (up to the mapping's maximum concurrency), and
SQS's at-least-once delivery can be made to show: a message received twice, side by side, or
again while its first invocation still runs (``DeliveryFaults``).
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from syncdrop.crash_points import SimulatedCrash
from syncdrop_local.runtime.function_kind import Invocable
from syncdrop_local.runtime.invocation_errors import (
    ExitError,
    InvocationFailed,
    OutOfMemory,
    TaskTimedOut,
)
from syncdrop_local.runtime.moto_controls import QueueArrivals
from syncdrop_local.runtime.sqs_arrivals import Arrivals
from syncdrop_local.runtime.template import REGION

log = logging.getLogger("syncdrop.local")

# Lambda would wait out the queue's visibility timeout (minutes) before a retry; locally a
# failed message comes back after this many seconds so retries and the DLQ show up quickly.
LOCAL_RETRY_DELAY = 1
# Batches at once when the mapping names no ScalingConfig.MaximumConcurrency (Lambda would
# scale further; a few are enough to meet concurrent handlers on two cores).
LOCAL_CONCURRENCY = 5
# The longest an idle poller waits before it receives again: a mapping's first poller (how
# late a message on an idle queue may be noticed), and the others (woken when there is work).
FIRST_IDLE_WAIT = 0.25
OTHER_IDLE_WAIT = 1.0
# The same where moto's queues wake their pollers (sqs_arrivals.py): only a message that turns
# visible again on its own, a retry, waits for them.
WATCHED_FIRST_IDLE_WAIT = 1.0
WATCHED_OTHER_IDLE_WAIT = 10.0


def mapping_concurrency(properties: dict[str, Any], reserved: int | None = None) -> int:
    """How many batches of an event source mapping run at once: its MaximumConcurrency, within
    the function's reserved concurrency."""
    scaling = properties.get("ScalingConfig") or {}
    wanted = int(scaling.get("MaximumConcurrency", LOCAL_CONCURRENCY))
    return max(1, min(wanted, reserved)) if reserved is not None else wanted


def _md5(body: str) -> str:
    """SQS's own checksum of the body (an integrity check, not security)."""
    return hashlib.md5(body.encode(), usedforsecurity=False).hexdigest()


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", "0"),
            "SenderId": attributes.get("SenderId", "AIDAIENQZJOLO23YVJ4VO"),
            "ApproximateFirstReceiveTimestamp": attributes.get(
                "ApproximateFirstReceiveTimestamp", "0"
            ),
        },
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or _md5(message["Body"]),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


@dataclass
class DeliveryFaults:
    """SQS's at-least-once delivery, on demand; each a probability per message received for
    the first time (so injected receives alone never push a message to its dead-letter queue).

    Change them at any time; a seed makes a run repeatable.
    """

    # Received again at once by another invocation: both run side by side.
    duplicate_rate: float = 0.0
    # The handler outlived the visibility timeout: received again while it still runs; its
    # receipt handle is then stale, and AWS ignores a DeleteMessage made with it.
    redeliver_in_flight_rate: float = 0.0
    seed: int | None = None


@dataclass
class Delivery:
    """One invocation's messages, and the receive that must happen while it runs."""

    messages: list[dict[str, Any]]
    redeliver: list[str] = field(default_factory=list)  # message ids
    started: threading.Event = field(default_factory=threading.Event)
    redelivered: threading.Event = field(default_factory=threading.Event)


@dataclass
class SqsEventSource:
    """Lambda's event source mapping for one queue: up to ``concurrency`` batches at once."""

    function: Invocable
    sqs: Any
    queue_url: str
    queue_arn: str
    batch_size: int = 10
    report_failures: bool = True
    concurrency: int = 1
    faults: DeliveryFaults = field(default_factory=DeliveryFaults)
    # Lambda's poller never changes a message's visibility: a failed message waits out its
    # timeout. Locally the harness shortens that wait (and plays redeliveries) with a client of
    # its own, so the role is not charged for a call Lambda does not make. None: ``sqs``.
    visibility_sqs: Any = None
    # Signalled when moto adds a message to the queue (sqs_arrivals.py), as a long poll
    # returns; None: idle pollers only ask again after a while.
    arrivals: QueueArrivals | None = None
    handled: int = field(default=0)
    failed: int = field(default=0)
    crashes: int = field(default=0)
    # Messages received again while an earlier receive of them was unsettled (injected or not).
    duplicates: int = field(default=0)
    redelivered: int = field(default=0)  # of which while its first invocation ran
    stale_receipts: int = field(default=0)  # deletes and retries skipped: not the latest handle

    def __post_init__(self) -> None:
        self._lock = threading.Lock()  # guards the counters, the handles and the dice
        self._latest: dict[str, str] = {}  # message id -> the receipt handle received last
        self._dice: random.Random | None = None
        self._seeded_by: DeliveryFaults | None = None
        self._wake: QueueArrivals | None = None  # what run's idle workers wait on

    def _visibility(self) -> Any:
        return self.visibility_sqs or self.sqs

    def poll_once(self) -> int:
        """Deliver one round: up to ``concurrency`` batches, invoked side by side (and any
        receive the faults add); return when every invocation is over, with how many messages
        were delivered."""
        return self._poll(max(1, self.concurrency))

    def run(self, stopping: threading.Event, *, pause: float = 0.05) -> list[threading.Thread]:
        """Poll as Lambda's pollers do, until ``stopping`` is set: ``concurrency`` workers, each
        invoking one batch after another, so a slow batch holds no other (``poll_once`` waits
        for its whole round). An idle worker asks less and less often (every request to moto
        waits for its one lock), up to a longest wait for the first worker and a longer one
        for the rest; a message arriving on the queue, or a worker that receives some (there
        may be more), wakes them at once. ``stop`` wakes them to stop."""
        watched = self.arrivals is not None
        wake = self._wake = self.arrivals or Arrivals()
        name = self.queue_arn.rsplit(":", 1)[-1]
        label = self.function.spec.logical_id
        caps = (
            (WATCHED_FIRST_IDLE_WAIT, WATCHED_OTHER_IDLE_WAIT)
            if watched
            else (FIRST_IDLE_WAIT, OTHER_IDLE_WAIT)
        )

        def worker(number: int) -> None:
            idle = pause
            cap = caps[0] if number == 0 else caps[1]
            while not stopping.is_set():
                since: int | None = None
                try:
                    since = wake.seen(name)
                    if self._poll(1):
                        idle = pause
                        wake.arrived(name)  # there may be more: the idle workers ask now
                        continue
                except Exception:
                    log.exception("%s: a receive failed", label)
                idle = min(idle * 2, max(pause, cap))
                try:
                    if since is not None:
                        wake.wait(name, since, idle, stopping)
                        continue
                except Exception:  # moto's process is gone: the next receive says so
                    log.exception("%s: waiting for messages failed", label)
                stopping.wait(idle)

        threads = [
            threading.Thread(target=worker, args=(n,), name=f"poller-{label}-{n}", daemon=True)
            for n in range(max(1, self.concurrency))
        ]
        for thread in threads:
            thread.start()
        return threads

    def stop(self) -> None:
        """Wake the idle workers of ``run`` so they see their ``stopping`` set."""
        if self._wake is None:
            return
        try:
            self._wake.interrupt()
        except Exception:  # moto's process is gone: its waits ended with it
            log.warning("%s: could not wake its pollers", self.function.spec.logical_id)

    def _poll(self, batches: int) -> int:
        deliveries: list[Delivery] = []
        for _ in range(batches):
            delivery = self._receive()
            if delivery is None:
                break
            deliveries.append(delivery)
            again = self._chosen(delivery.messages, self.faults.duplicate_rate)
            if again and (copy := self._receive_again(delivery.messages, again)) is not None:
                deliveries.append(copy)
        if not deliveries:
            return 0
        if len(deliveries) == 1 and not deliveries[0].redeliver:
            self._deliver(deliveries[0])
            return len(deliveries[0].messages)
        extra: list[Delivery] = []
        with ThreadPoolExecutor(max_workers=2 * len(deliveries)) as pool:
            running = [pool.submit(self._deliver, d) for d in deliveries]
            for delivery in deliveries:
                if delivery.redeliver:
                    running.append(pool.submit(self._redeliver, delivery, pool, extra))
            for future in running:
                future.result()
        return sum(len(d.messages) for d in deliveries + extra)

    def _receive(self) -> Delivery | None:
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(self.batch_size, 10),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        messages = answer.get("Messages", [])
        if not messages:
            return None
        with self._lock:
            for message in messages:
                if message["MessageId"] in self._latest:
                    self.duplicates += 1
                self._latest[message["MessageId"]] = message["ReceiptHandle"]
        return Delivery(messages, self._chosen(messages, self.faults.redeliver_in_flight_rate))

    def _chosen(self, messages: list[dict[str, Any]], rate: float) -> list[str]:
        """Ids of first-time messages picked at ``rate``."""
        if not rate:
            return []
        with self._lock:
            dice = self._dice
            if dice is None or self._seeded_by is not self.faults:
                self._seeded_by = self.faults
                dice = self._dice = random.Random(self.faults.seed)  # nosec B311 # not secrets
            return [
                m["MessageId"]
                for m in messages
                if m.get("Attributes", {}).get("ApproximateReceiveCount", "1") == "1"
                and dice.random() < rate
            ]

    def _receive_again(self, messages: list[dict[str, Any]], ids: list[str]) -> Delivery | None:
        """Make ``ids`` visible again and receive: another invocation gets them (and perhaps
        other messages), while the first still holds them."""
        for message in messages:
            if message["MessageId"] in ids:
                self._visibility().change_message_visibility(
                    QueueUrl=self.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
        return self._receive()

    def _redeliver(
        self, delivery: Delivery, pool: ThreadPoolExecutor, extra: list[Delivery]
    ) -> None:
        """Once ``delivery``'s invocation runs, its chosen messages time out and are received
        again; that second delivery runs beside it."""
        try:
            delivery.started.wait()
            again = self._receive_again(delivery.messages, delivery.redeliver)
        finally:
            delivery.redelivered.set()  # its first invocation may now settle its messages
        if again is None:
            return
        again.redeliver = []  # nothing waits for a receive during this one
        with self._lock:
            self.redelivered += sum(m["MessageId"] in delivery.redeliver for m in again.messages)
            extra.append(again)
        self._deliver(again)

    def _deliver(self, delivery: Delivery) -> None:
        """Invoke with one batch; delete what succeeded, send the rest back for a retry."""
        messages = delivery.messages
        event = {"Records": [sqs_record(m, self.queue_arn) for m in messages]}
        failed_ids: set[str]
        delivery.started.set()
        try:
            response = self.function.invoke(event)
            failed_ids = (
                {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
                if self.report_failures
                else set()
            )
        except (TaskTimedOut, OutOfMemory, ExitError) as died:
            # The execution environment died (its timeout, its memory, a crash point): no
            # answer; every message comes back later.
            log.warning("%s died: %s", self.function.spec.logical_id, died)
            with self._lock:
                self.crashes += 1
            failed_ids = {m["MessageId"] for m in messages}
        except InvocationFailed as failed:
            # The handler raised: its own log has the traceback, as CloudWatch would.
            log.warning(
                "%s failed (%s); its messages go back to the queue",
                self.function.spec.logical_id,
                failed.kind,
            )
            failed_ids = {m["MessageId"] for m in messages}
        except Exception:
            log.exception(
                "%s failed; its messages go back to the queue", self.function.spec.logical_id
            )
            failed_ids = {m["MessageId"] for m in messages}
        except SimulatedCrash as crash:
            # The execution environment died: no answer; every message comes back later.
            log.warning("%s crashed at %s", self.function.spec.logical_id, crash)
            with self._lock:
                self.crashes += 1
            failed_ids = {m["MessageId"] for m in messages}
        if delivery.redeliver:
            delivery.redelivered.wait()
        for message in messages:
            self._settle(message, failed=message["MessageId"] in failed_ids)

    def _settle(self, message: dict[str, Any], *, failed: bool) -> None:
        handle = message["ReceiptHandle"]
        with self._lock:
            if failed:
                self.failed += 1
            else:
                self.handled += 1
            if self._latest.get(message["MessageId"]) != handle:
                # Received again since: AWS answers a DeleteMessage with this handle with
                # success and keeps the message (moto would delete it); the later receiver
                # settles it.
                self.stale_receipts += 1
                return
            del self._latest[message["MessageId"]]  # its next receive is a retry
        if failed:
            self._visibility().change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=handle, VisibilityTimeout=LOCAL_RETRY_DELAY
            )
        else:
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=handle)
