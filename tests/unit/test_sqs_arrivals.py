"""Messages arriving on moto's queues: the signal an idle queue poller waits on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from moto import mock_aws

from syncdrop_local.runtime.sqs_arrivals import ARRIVALS, Arrivals, watch_moto_queues

REGION = "us-east-1"
LONG = 30.0  # a wait that only a signal may end within the test
SOON = 10.0  # how long a signalled wait may take to return, on a busy machine
SHORT = 0.2  # a wait meant to time out


class LookedAt(threading.Event):
    """A ``stopping`` event that tells when a waiter has looked at it. ``Arrivals.wait`` asks
    only once it found no arrival, under the lock it keeps until it sleeps: anything signalled
    after ``looked`` is set reaches a sleeping waiter, not one about to look."""

    def __init__(self) -> None:
        super().__init__()
        self.looked = threading.Event()

    def is_set(self) -> bool:
        self.looked.set()
        return super().is_set()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def asleep(
    pool: ThreadPoolExecutor,
    arrivals: Arrivals,
    queue: str,
    *,
    stopping: LookedAt | None = None,
    timeout: float = LONG,
    interrupts: int | None = None,
) -> Future[bool]:
    """A wait for ``queue``'s next message, begun on another thread and found empty."""
    stopping = stopping or LookedAt()
    since = arrivals.seen(queue)
    waiting = pool.submit(arrivals.wait, queue, since, timeout, stopping, interrupts)
    assert stopping.looked.wait(SOON), "the waiter never looked"
    return waiting


def test_a_wait_ends_when_a_message_arrives(pool):
    arrivals = Arrivals()
    waiting = asleep(pool, arrivals, "jobs")
    arrivals.arrived("jobs")
    assert waiting.result(timeout=SOON) is True
    assert arrivals.seen("jobs") == 1


def test_a_message_for_another_queue_ends_no_wait(pool):
    arrivals = Arrivals()
    waiting = asleep(pool, arrivals, "jobs", timeout=SHORT)
    arrivals.arrived("emails")
    assert waiting.result(timeout=SOON) is False
    assert (arrivals.seen("jobs"), arrivals.seen("emails")) == (0, 1)


def test_a_message_between_seen_and_wait_is_not_missed():
    arrivals = Arrivals()
    since = arrivals.seen("jobs")
    arrivals.arrived("jobs")  # while the poller's receive found nothing
    started = time.monotonic()
    assert arrivals.wait("jobs", since, LONG, threading.Event()) is True
    assert time.monotonic() - started < SOON


def test_a_wait_without_a_message_times_out():
    arrivals = Arrivals()
    arrivals.arrived("jobs")
    started = time.monotonic()
    assert arrivals.wait("jobs", arrivals.seen("jobs"), SHORT, threading.Event()) is False
    assert time.monotonic() - started >= SHORT


def test_interrupt_ends_only_the_waits_that_are_stopping(pool):
    arrivals = Arrivals()
    stopping = LookedAt()
    ending = asleep(pool, arrivals, "jobs", stopping=stopping)
    # Short, so that it ends on its own: the interrupt must not end it (stopping is not set).
    going_on = asleep(pool, arrivals, "jobs", timeout=1.0)
    stopping.set()
    arrivals.interrupt()
    assert ending.result(timeout=SOON) is True
    assert going_on.result(timeout=SOON) is False
    assert arrivals.interrupts() == 1
    assert arrivals.seen("jobs") == 0


def test_a_wait_given_interrupts_ends_on_an_interrupt_since(pool):
    arrivals = Arrivals()
    read = arrivals.interrupts()
    arrivals.interrupt()  # between the poller's read and its wait: not missed
    started = time.monotonic()
    assert arrivals.wait("jobs", 0, LONG, threading.Event(), interrupts=read) is True
    assert time.monotonic() - started < SOON

    current = arrivals.interrupts()
    assert arrivals.wait("jobs", 0, SHORT, threading.Event(), interrupts=current) is False
    waiting = asleep(pool, arrivals, "jobs", interrupts=current)
    arrivals.interrupt()  # its stopping is not set: the count alone ends it
    assert waiting.result(timeout=SOON) is True


# --- moto's queues ----------------------------------------------------------------------------


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        yield {name: boto3.client(name, region_name=REGION) for name in ("sqs", "sns")}


def new_queue(sqs: Any) -> tuple[str, str, str]:
    """A queue of the test's own: its name, URL and ARN."""
    name = f"arrivals-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return name, url, attributes["Attributes"]["QueueArn"]


def test_every_message_moto_adds_to_a_queue_is_counted(aws):
    assert watch_moto_queues() is ARRIVALS
    sqs = aws["sqs"]
    name, url, arn = new_queue(sqs)
    other, _, _ = new_queue(sqs)
    assert ARRIVALS.seen(name) == 0
    sqs.send_message(QueueUrl=url, MessageBody="one")
    assert ARRIVALS.seen(name) == 1
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": f"m{n}", "MessageBody": f"batch-{n}"} for n in range(3)]
    )
    assert ARRIVALS.seen(name) == 4
    # SNS's delivery to a subscribed queue is an arrival too.
    topic = aws["sns"].create_topic(Name=f"topic-{uuid.uuid4().hex[:8]}")["TopicArn"]
    aws["sns"].subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    aws["sns"].publish(TopicArn=topic, Message="published")
    assert ARRIVALS.seen(name) == 5
    assert ARRIVALS.seen(other) == 0
    # Receiving and deleting add nothing.
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    for message in received:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert ARRIVALS.seen(name) == 5


def test_a_message_sent_to_moto_wakes_a_waiting_poller(aws, pool):
    arrivals = watch_moto_queues()
    name, url, _ = new_queue(aws["sqs"])
    waiting = asleep(pool, arrivals, name)
    aws["sqs"].send_message(QueueUrl=url, MessageBody="wake up")
    assert waiting.result(timeout=SOON) is True


def test_watching_twice_wraps_moto_once(aws):
    from moto.sqs.models import Queue

    watch_moto_queues()
    wrapped = Queue.add_message
    assert watch_moto_queues() is ARRIVALS
    assert Queue.add_message is wrapped
    name, url, _ = new_queue(aws["sqs"])
    aws["sqs"].send_message(QueueUrl=url, MessageBody="once")
    assert ARRIVALS.seen(name) == 1
