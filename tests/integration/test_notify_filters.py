"""The email's recipients as SNS message attributes, and which subscription filters take it.

The same filter policies `syncdrop subscribe` and template.yaml write, checked on moto for the
three matchings syncdrop relies on: an address in a String.Array, ``exists: false``, and a
``prefix`` of the upload key. SQS subscriptions (moto's own delivery) and email subscriptions
(the local stack's inbox, moto_email_inbox) must agree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from syncdrop.adapters.s3_objects import S3ObjectStore
from syncdrop.adapters.sns_notifier import SnsNotifier
from syncdrop.jobs import Job, JobStatus, UploadRef
from syncdrop.report.email import Email
from syncdrop.report.email_recipients import addressed
from syncdrop_local.runtime import moto_email_inbox
from syncdrop_local.stack_cli.subscribe_cmd import filter_policy

REGION = "us-east-1"
NOBODY = {"notify": [{"exists": False}]}  # template.yaml, NotificationEmailGetsAll false
POLICIES: dict[str, dict[str, Any] | None] = {
    "alice": filter_policy("alice@a.example", None),
    "team-b": filter_policy("", "team-b/"),
    "nobody": NOBODY,
    "everyone": None,
}


class Sns:
    def __init__(self) -> None:
        self.sns = boto3.client("sns", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.topic = self.sns.create_topic(Name="emails")["TopicArn"]
        self.queues: dict[str, str] = {}

    def queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def subscribe(self, protocol: str, endpoint: str, policy: dict[str, Any] | None) -> None:
        attributes = {"FilterPolicy": json.dumps(policy)} if policy else {}
        self.sns.subscribe(
            TopicArn=self.topic, Protocol=protocol, Endpoint=endpoint, Attributes=attributes
        )

    def drain(self, url: str) -> list[dict[str, Any]]:
        got = []
        while messages := self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
            "Messages"
        ):
            for message in messages:
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return got


@pytest.fixture
def sns() -> Iterator[Sns]:
    with mock_aws():
        yield Sns()


def email_for(key: str, notify: list[str], note: str = "") -> Email:
    job = Job(
        job_id=f"job-{key}",
        upload=UploadRef("bkt", key, "v1"),
        status=JobStatus.COMPLETED,
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
        notify=notify,
        notify_note=note,
    )
    plain = Email(f"syncdrop: {key}", "body\n", {"job_id": job.job_id, "status": "COMPLETED"})
    return addressed(plain, job)


FILES = {
    "incoming/alice.csv": ["alice@a.example", "carol@c.example"],  # by metadata
    "incoming/team-b/x.csv": ["b@b.example"],  # by prefix rule
    "incoming/plain.csv": [],  # nobody named
}
EXPECTED = {
    "alice": ["incoming/alice.csv"],
    "team-b": ["incoming/team-b/x.csv"],
    "nobody": ["incoming/plain.csv"],
    "everyone": sorted(FILES),
}


def test_the_notifier_publishes_recipients_as_a_string_array_and_the_key(sns: Sns) -> None:
    url, arn = sns.queue("raw")
    sns.sns.subscribe(
        TopicArn=sns.topic,
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    SnsNotifier(sns.sns, sns.topic).publish(
        email_for("incoming/alice.csv", FILES["incoming/alice.csv"])
    )
    (message,) = sns.sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10
    )["Messages"]
    attributes = message["MessageAttributes"]
    assert attributes["notify"]["DataType"] == "String.Array"
    assert json.loads(attributes["notify"]["StringValue"]) == FILES["incoming/alice.csv"]
    assert attributes["upload_key"] == {
        "DataType": "String",
        "StringValue": "incoming/alice.csv",
    }
    assert attributes["job_id"]["DataType"] == "String"


def test_sqs_subscriptions_get_what_their_filter_policies_match(sns: Sns) -> None:
    urls = {}
    for name, policy in POLICIES.items():
        urls[name], arn = sns.queue(name)
        sns.subscribe("sqs", arn, policy)
    notifier = SnsNotifier(sns.sns, sns.topic)
    for key, notify in FILES.items():
        notifier.publish(email_for(key, notify))
    got = {
        name: sorted(m["MessageAttributes"]["upload_key"]["Value"] for m in sns.drain(url))
        for name, url in urls.items()
    }
    assert got == EXPECTED


def test_email_subscriptions_deliver_to_the_local_inbox_by_the_same_filters(sns: Sns) -> None:
    inbox_url, inbox_arn = sns.queue("inbox")
    moto_email_inbox.deliver_to(sns.topic, inbox_arn)
    addresses = {name: f"{name}@inbox.example" for name in POLICIES}
    for name, policy in POLICIES.items():
        sns.subscribe("email", addresses[name], policy)
    notifier = SnsNotifier(sns.sns, sns.topic)
    for key, notify in FILES.items():
        notifier.publish(email_for(key, notify, note="a note"))
    delivered = sns.drain(inbox_url)
    got: dict[str, list[str]] = {name: [] for name in POLICIES}
    by_address = {address: name for name, address in addresses.items()}
    for envelope in delivered:
        got[by_address[envelope["recipient"]]].append(envelope["attributes"]["upload_key"])
        assert envelope["subject"].startswith("syncdrop: ")
        assert "Who was told:\n  a note" in envelope["message"]
    assert {name: sorted(keys) for name, keys in got.items()} == EXPECTED


def test_an_unconfirmed_email_subscription_is_sent_nothing(sns: Sns) -> None:
    from moto.sns.models import sns_backends

    inbox_url, inbox_arn = sns.queue("inbox")
    moto_email_inbox.deliver_to(sns.topic, inbox_arn)
    sns.subscribe("email", "late@inbox.example", None)
    (sub,) = sns_backends["123456789012"][REGION].subscriptions.values()
    sub.attributes["PendingConfirmation"] = "true"
    SnsNotifier(sns.sns, sns.topic).publish(email_for("incoming/plain.csv", []))
    assert sns.drain(inbox_url) == []


def test_the_upload_and_its_metadata_come_from_one_get_object() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="bkt")
        s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
        first = s3.put_object(
            Bucket="bkt", Key="incoming/a.csv", Body=b"a\n", Metadata={"notify": "x@y.example"}
        )["VersionId"]
        s3.put_object(
            Bucket="bkt", Key="incoming/a.csv", Body=b"b\n", Metadata={"notify": "z@y.example"}
        )
        store = S3ObjectStore(s3, "bkt")
        upload = UploadRef("bkt", "incoming/a.csv", first)  # the version the event named
        stream, metadata = store.open_upload_with_metadata(upload)
        assert (stream.read(), dict(metadata)) == (b"a\n", {"notify": "x@y.example"})
        assert dict(store.upload_metadata(upload)) == {"notify": "x@y.example"}
