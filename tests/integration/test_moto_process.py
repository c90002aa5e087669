"""moto's server in a process of its own: AWS's API, and the runtime's controls beside it."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from syncdrop_local.runtime.moto_process import CONTROL_PREFIX, MotoProcess

REGION = "us-east-1"
SOON = 10.0  # how long a signalled wait may take to return, on a busy machine
SHORT = 0.5  # a wait meant to time out


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoProcess]:
    process = MotoProcess()
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as executor:
        yield executor


def client(url: str, service: str, **config: Any) -> Any:
    # Any keys: moto decides nothing by them until IAM is enabled.
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # moto accepts any
        config=Config(**config) if config else None,
    )


def new_queue(sqs: Any) -> tuple[str, str, str]:
    """A queue of the test's own: its name, URL and ARN."""
    name = f"process-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return name, url, attributes["Attributes"]["QueueArn"]


def post(url: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=SOON)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read())
    finally:
        connection.close()


def waiting(
    pool: ThreadPoolExecutor, moto: MotoProcess, queue: str, timeout: float
) -> tuple[Future[bool], int]:
    """A poller's wait for ``queue``'s next message, on a thread of its own (the remote wait
    goes by what that thread's ``seen`` read); and the count it waits past."""
    arrivals = moto.controls.arrivals
    read: Future[int] = Future()

    def poller() -> bool:
        since = arrivals.seen(queue)
        read.set_result(since)
        return arrivals.wait(queue, since, timeout, threading.Event())

    wait = pool.submit(poller)
    return wait, read.result(timeout=SOON)


def test_aws_calls_work_and_each_message_is_counted(moto):
    sqs = client(moto.url, "sqs")
    name, url, _ = new_queue(sqs)
    arrivals = moto.controls.arrivals
    assert arrivals.seen(name) == 0
    sqs.send_message(QueueUrl=url, MessageBody="one")
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": f"m{n}", "MessageBody": f"batch-{n}"} for n in range(3)]
    )
    assert arrivals.seen(name) == 4
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == ["batch-0", "batch-1", "batch-2", "one"]
    assert arrivals.seen(name) == 4  # a receive is no arrival


def test_a_wait_ends_when_another_thread_sends(moto, pool):
    sqs = client(moto.url, "sqs")
    name, url, _ = new_queue(sqs)
    wait, since = waiting(pool, moto, name, timeout=SOON)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    # The child caps a remote wait at SOON: a missed message would answer False.
    assert wait.result(timeout=3 * SOON) is True
    assert moto.controls.arrivals.seen(name) == since + 1


def test_a_wait_with_no_message_times_out(moto):
    sqs = client(moto.url, "sqs")
    name, _url, _ = new_queue(sqs)
    _other, other_url, _ = new_queue(sqs)
    arrivals = moto.controls.arrivals
    since = arrivals.seen(name)
    sqs.send_message(QueueUrl=other_url, MessageBody="for another queue")
    started = time.monotonic()
    assert arrivals.wait(name, since, SHORT, threading.Event()) is False
    assert time.monotonic() - started >= SHORT


def test_an_interrupt_ends_a_pending_wait(moto, pool):
    name, _url, _ = new_queue(client(moto.url, "sqs"))
    arrivals = moto.controls.arrivals
    wait, _since = waiting(pool, moto, name, timeout=SOON)
    # The poller's stopping event is the parent's: in the child the interrupt alone ends it,
    # whether it comes before the wait reaches the child or while it waits there.
    arrivals.interrupt()
    assert wait.result(timeout=3 * SOON) is True
    # Not for later waits: only one since its poller's ``seen``.
    later, _ = waiting(pool, moto, name, timeout=SHORT)
    assert later.result(timeout=3 * SOON) is False
    # A poller that is already stopping does not wait at all.
    stopping = threading.Event()
    stopping.set()
    assert arrivals.wait(name, arrivals.seen(name), SOON, stopping) is True


def test_email_subscriptions_deliver_into_the_inbox_queue(moto):
    sqs, sns = client(moto.url, "sqs"), client(moto.url, "sns")
    name, url, arn = new_queue(sqs)
    topic = sns.create_topic(Name=f"emails-{uuid.uuid4().hex[:8]}")["TopicArn"]
    moto.controls.deliver_email_to(topic, arn)
    subscribed = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="person@example.com")
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscribed["SubscriptionArn"])
    assert attributes["Attributes"]["PendingConfirmation"] == "false"  # moto confirms at once
    sns.publish(
        TopicArn=topic,
        Subject="Your files are ready",
        Message="3 files synced",
        MessageAttributes={"notify": {"DataType": "String", "StringValue": "person@example.com"}},
    )
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [
        {
            "recipient": "person@example.com",
            "subject": "Your files are ready",
            "message": "3 files synced",
            "attributes": {"notify": "person@example.com"},
        }
    ]
    assert moto.controls.arrivals.seen(name) == 1


def test_iam_is_enforced_between_enable_and_disable(moto):
    sqs = client(moto.url, "sqs")
    new_queue(sqs)
    moto.controls.enable_iam(moto.url)
    try:
        with pytest.raises(ClientError) as refused:
            sqs.list_queues()  # keys no IAM user of moto's has
    finally:
        moto.controls.disable_iam(moto.url)
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert sqs.list_queues()["QueueUrls"]


def test_faults_reach_the_childs_world():
    throttled = MotoProcess({"throttle_rate": 1.0})
    try:
        url = throttled.start()
        dynamodb = client(url, "dynamodb", retries={"mode": "standard", "max_attempts": 1})
        with pytest.raises(ClientError) as raised:
            dynamodb.list_tables()
        new_queue(client(url, "sqs"))  # DynamoDB's knob: other services answer
    finally:
        throttled.stop()
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"


def test_without_faults_dynamodb_answers(moto):
    dynamodb = client(moto.url, "dynamodb", retries={"mode": "standard", "max_attempts": 1})
    assert "TableNames" in dynamodb.list_tables()


def test_stop_ends_the_child_and_may_be_repeated():
    process = MotoProcess()
    with pytest.raises(RuntimeError, match="not started"):
        _ = process.controls
    url = process.start()
    assert client(url, "sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    process.stop()
    assert process._process.poll() is not None
    with pytest.raises(ConnectionRefusedError):
        post(url, CONTROL_PREFIX + "arrivals/seen", b'{"queue": "q"}')
    process.stop()  # harmless
    assert process._process.poll() is not None


def test_an_unknown_control_is_refused(moto):
    status, answer = post(moto.url, CONTROL_PREFIX + "no-such-control", b"{}")
    assert status == 400
    assert "no-such-control" in answer["error"]
    status, answer = post(moto.url, CONTROL_PREFIX + "arrivals/seen", b"{}")
    assert (status, answer) == (400, {"error": "KeyError: 'queue'"})
    with pytest.raises(RuntimeError, match="no-such-control: HTTP 400"):
        moto.controls._call("no-such-control", {})
