"""Lambda's SQS event source, locally: batches side by side, duplicates and redeliveries."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncdrop.crash_points import SimulatedCrash
from syncdrop_local.runtime import sqs_source
from syncdrop_local.runtime.invoke import LocalFunction
from syncdrop_local.runtime.local_runtime import REPO_ROOT, MotoServer
from syncdrop_local.runtime.sqs_arrivals import watch_moto_queues
from syncdrop_local.runtime.sqs_source import (
    LOCAL_CONCURRENCY,
    DeliveryFaults,
    SqsEventSource,
    mapping_concurrency,
)
from syncdrop_local.runtime.stack import FunctionSpec, LocalStack, deploy
from tests.conftest import STACK_PARAMETERS

Handler = Callable[[dict[str, Any], Any], Any]
MEET_TIMEOUT = 20  # seconds: invocations that never meet break the barrier and fail the test


class InlineFunction(LocalFunction):
    """A function of the stack whose handler is the test's own (LocalFunction does the rest:
    an environment per concurrent invocation, spans)."""

    def __init__(self, spec: FunctionSpec, handler: Handler) -> None:
        super().__init__(spec)
        self._handler = handler

    def _load(self) -> Handler:
        return self._handler


class InvocationFailed(Exception):
    """How a function run in a process of its own reports a failed invocation."""


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # One deployment for the module: each test works on a queue of its own.
    moto = MotoServer()
    endpoint = moto.start()
    try:
        yield deploy(REPO_ROOT, endpoint, STACK_PARAMETERS)
    finally:
        moto.stop()


def source_for(
    stack: LocalStack, handler: Handler, *, batch_size: int = 1, **options: Any
) -> SqsEventSource:
    sqs = stack.client("sqs")
    name = f"deliveries-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    spec = next(iter(stack.functions.values()))
    return SqsEventSource(
        function=InlineFunction(spec, handler),
        sqs=sqs,
        queue_url=url,
        queue_arn=arn,
        batch_size=batch_size,
        **options,
    )


def send(source: SqsEventSource, count: int) -> None:
    for n in range(count):
        source.sqs.send_message(QueueUrl=source.queue_url, MessageBody=f"message-{n}")


def left_in_queue(source: SqsEventSource) -> int:
    attributes = source.sqs.get_queue_attributes(
        QueueUrl=source.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(v) for v in attributes.values())


def meeting(parties: int, seen: list[str] | None = None) -> Handler:
    """A handler that returns only once ``parties`` invocations are inside it at once."""
    barrier = threading.Barrier(parties, timeout=MEET_TIMEOUT)

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        if seen is not None:
            seen.extend(r["body"] for r in event["Records"])
        barrier.wait()
        return {"batchItemFailures": []}

    return handler


def overlapping(spans: Any) -> bool:
    return max(start for start, _ in spans) < min(end for _, end in spans)


def test_a_round_runs_up_to_concurrency_batches_side_by_side(stack):
    source = source_for(stack, meeting(3), concurrency=3)
    send(source, 7)
    assert source.poll_once() == 3
    # Over when poll_once returns: three invocations, each inside the handler with the others.
    assert len(source.function.spans) == 3
    assert overlapping(source.function.spans)
    assert source.function.cold_starts == 3  # an environment each, as Lambda gives them
    assert source.poll_once() == 3
    source.function = InlineFunction(source.function.spec, meeting(1))
    assert source.poll_once() == 1
    assert source.poll_once() == 0
    assert source.handled == 7
    assert left_in_queue(source) == 0


def test_running_pollers_keep_going_while_one_batch_is_slow(stack):
    """As Lambda's pollers: one slow invocation holds its own poller only; the other goes on
    through the queue (a round of ``poll_once`` would wait for the slow one)."""
    slow_may_end = threading.Event()
    others: list[str] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        body = event["Records"][0]["body"]
        if body == "message-0":
            assert slow_may_end.wait(MEET_TIMEOUT), "the other poller never got through"
        else:
            others.append(body)
            if len(others) == 4:
                slow_may_end.set()
        return {"batchItemFailures": []}

    source = source_for(stack, handler, concurrency=2)
    send(source, 5)
    stopping = threading.Event()
    threads = source.run(stopping, pause=0.01)
    try:
        assert slow_may_end.wait(MEET_TIMEOUT)
        deadline = time.monotonic() + MEET_TIMEOUT
        while source.handled < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stopping.set()
        for thread in threads:
            thread.join()
    assert sorted(others) == [f"message-{n}" for n in range(1, 5)]
    assert (source.handled, source.failed) == (5, 0)
    assert left_in_queue(source) == 0


def test_concurrency_comes_from_the_mapping():
    assert mapping_concurrency({}) == LOCAL_CONCURRENCY
    assert mapping_concurrency({"ScalingConfig": {"MaximumConcurrency": 2}}) == 2
    assert mapping_concurrency({"ScalingConfig": {"MaximumConcurrency": 8}}, reserved=3) == 3


def test_a_duplicate_runs_beside_its_first_delivery_and_is_deleted_once(stack):
    seen: list[str] = []
    source = source_for(
        stack, meeting(2, seen), concurrency=1, faults=DeliveryFaults(duplicate_rate=1.0)
    )
    send(source, 1)
    assert source.poll_once() == 2
    assert seen == ["message-0", "message-0"]
    assert overlapping(source.function.spans)
    assert source.duplicates == 1
    # The first receive's handle went stale when the copy was received: only the copy's
    # delete counts (AWS would ignore the other; see the next test for moto).
    assert source.stale_receipts == 1
    assert source.handled == 2
    assert left_in_queue(source) == 0
    assert source.poll_once() == 0


def test_moto_deletes_with_a_stale_receipt_handle_where_aws_may_not(stack):
    sqs = stack.client("sqs")
    url = sqs.create_queue(QueueName=f"handles-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first, VisibilityTimeout=0)
    second = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    assert first != second
    # AWS: "if you don't provide the most recently received receipt handle, the request will
    # still succeed, but the message might not be deleted". moto deletes it: the event source
    # therefore never deletes with a handle it knows to be stale.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)


def test_a_message_redelivered_while_its_invocation_runs(stack):
    started = threading.Event()
    second_arrived = threading.Event()
    bodies: list[str] = []

    def slow_handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        bodies.extend(r["body"] for r in event["Records"])
        if not started.is_set():
            started.set()
            # Outlives its visibility timeout: the message is received again meanwhile.
            assert second_arrived.wait(MEET_TIMEOUT)
        else:
            second_arrived.set()
        return {"batchItemFailures": []}

    source = source_for(
        stack, slow_handler, concurrency=1, faults=DeliveryFaults(redeliver_in_flight_rate=1.0)
    )
    send(source, 1)
    assert source.poll_once() == 2
    assert bodies == ["message-0", "message-0"]
    assert source.redelivered == source.duplicates == 1
    assert source.stale_receipts == 1
    assert source.handled == 2
    assert left_in_queue(source) == 0


def test_duplicates_come_at_their_rate_and_not_when_off(stack):
    seen: list[str] = []

    def handler(event: dict[str, Any], _context: Any) -> None:
        seen.extend(r["body"] for r in event["Records"])

    source = source_for(stack, handler, batch_size=1, concurrency=2)
    send(source, 40)
    while source.poll_once():
        pass
    assert sorted(seen) == sorted(f"message-{n}" for n in range(40))
    assert source.duplicates == source.stale_receipts == 0

    seen.clear()
    source.faults = DeliveryFaults(duplicate_rate=0.3, seed=9)
    send(source, 40)
    while source.poll_once():
        pass
    assert set(seen) == {f"message-{n}" for n in range(40)}
    # Seeded dice over first receives only: each message is delivered at most twice.
    assert 4 <= source.duplicates == len(seen) - 40 <= 20
    assert max(seen.count(body) for body in seen) == 2
    assert left_in_queue(source) == 0


@pytest.mark.parametrize(
    "failure", [RuntimeError("handler bug"), InvocationFailed("exit 1"), SimulatedCrash("killed")]
)
def test_a_failed_invocation_sends_its_batch_back(stack, failure):
    calls: list[int] = []

    def handler(event: dict[str, Any], _context: Any) -> None:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise failure

    source = source_for(stack, handler, batch_size=10, concurrency=2)
    send(source, 3)
    assert source.poll_once() == 3
    assert (source.failed, source.handled) == (3, 0)
    assert source.crashes == (1 if isinstance(failure, SimulatedCrash) else 0)
    give_up = time.monotonic() + 10
    while source.handled < 3:  # each back after the local retry delay
        assert time.monotonic() < give_up, "the batch never came back"
        if not source.poll_once():
            time.sleep(0.05)
    assert (source.failed, source.handled) == (3, 3)
    assert left_in_queue(source) == 0


def test_the_pipeline_holds_with_duplicates_and_redeliveries(local_system):
    from tests.reliability.test_scenarios import drop_files, finish, start

    system = start(local_system)
    for n, source in enumerate(system.runtime.sqs_sources):
        # Every upload is delivered twice at once; a third of the other messages too, and a
        # tenth again while their first invocation still runs.
        intake = source.function.spec.logical_id == "SubmitBatchFunction"
        source.faults = DeliveryFaults(
            duplicate_rate=1.0 if intake else 0.3, redeliver_in_flight_rate=0.1, seed=n
        )
    uploads = drop_files(system, 3, 120, fail_every=40)
    report = finish(system, uploads)  # every invariant: one email a file, no batch twice
    assert report.emails == 3
    assert report.duplicate_submissions == report.duplicate_emails == 0
    sources = {s.function.spec.logical_id: s for s in system.runtime.sqs_sources}
    # template.yaml's mappings name no MaximumConcurrency: the local default.
    assert {s.concurrency for s in sources.values()} == {LOCAL_CONCURRENCY}
    assert sources["SubmitBatchFunction"].duplicates >= 1
    assert system.aws is not None
    assert system.aws.stats["eventually_consistent_reads"] == 0
    counts = {name: (s.duplicates, s.redelivered, s.stale_receipts) for name, s in sources.items()}
    print(f"\nduplicates, redelivered, stale receipts by function: {counts}")


# Every wait of an idle poller, from its first: only a signal can end one within a test.
LONG_IDLE_WAIT = 60.0


@pytest.fixture
def long_idle_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "FIRST_IDLE_WAIT",
        "OTHER_IDLE_WAIT",
        "WATCHED_FIRST_IDLE_WAIT",
        "WATCHED_OTHER_IDLE_WAIT",
    ):
        monkeypatch.setattr(sqs_source, name, LONG_IDLE_WAIT)


class CountingReceives:
    """An SQS client that counts the receives that found the queue empty: a poller that made
    one is idle."""

    def __init__(self, sqs: Any) -> None:
        self._sqs = sqs
        self._changed = threading.Condition()
        self.empty = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def receive_message(self, **request: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self._sqs.receive_message(**request)
        if not answer.get("Messages"):
            with self._changed:
                self.empty += 1
                self._changed.notify_all()
        return answer

    def idle(self, receives: int) -> bool:
        """True once ``receives`` receives found nothing."""
        with self._changed:
            return self._changed.wait_for(lambda: self.empty >= receives, MEET_TIMEOUT)


def idle_pollers(source: SqsEventSource, stopping: threading.Event) -> list[threading.Thread]:
    """``source``'s pollers, running, each once found the queue empty and now waits its
    longest."""
    receives = CountingReceives(source.sqs)
    source.sqs = receives
    threads = source.run(stopping, pause=LONG_IDLE_WAIT)
    assert receives.idle(len(threads)), "the pollers never went idle"
    return threads


def stop(
    source: SqsEventSource, stopping: threading.Event, threads: list[threading.Thread]
) -> None:
    """Stop the pollers as the runtime does; give them MEET_TIMEOUT in all (far below an idle
    wait) to end."""
    stopping.set()
    source.stop()
    deadline = time.monotonic() + MEET_TIMEOUT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))


def test_idle_pollers_receive_a_message_as_soon_as_it_arrives(stack, long_idle_waits):
    handled = threading.Event()
    bodies: list[str] = []

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        bodies.extend(r["body"] for r in event["Records"])
        handled.set()
        return {"batchItemFailures": []}

    source = source_for(stack, handler, concurrency=2, arrivals=watch_moto_queues())
    stopping = threading.Event()
    threads = idle_pollers(source, stopping)
    try:
        send(source, 1)
        # Long before any idle wait ends: moto's arrival woke a poller.
        assert handled.wait(MEET_TIMEOUT), "the message waited for a poller's idle wait"
    finally:
        stop(source, stopping, threads)
    assert bodies == ["message-0"]
    assert (source.handled, source.failed) == (1, 0)
    assert left_in_queue(source) == 0


@pytest.mark.parametrize("watched", [True, False], ids=["arrivals", "no-arrivals"])
def test_stop_ends_every_idle_poller_at_once(stack, long_idle_waits, watched):
    def handler(_event: dict[str, Any], _context: Any) -> None:
        raise AssertionError("nothing was sent")

    arrivals = watch_moto_queues() if watched else None
    source = source_for(stack, handler, concurrency=3, arrivals=arrivals)
    stopping = threading.Event()
    threads = idle_pollers(source, stopping)
    stop(source, stopping, threads)
    assert [t.name for t in threads if t.is_alive()] == []
    assert isinstance(source.sqs, CountingReceives)
    assert source.sqs.empty == 3  # woken to stop, none asked the queue again
