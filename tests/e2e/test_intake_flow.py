"""A dropped file travels S3 → notification → SQS → submit_batch → Sync, on the local stack."""

from __future__ import annotations

from syncdrop_local.sample import campaign_csv
from tests.support.csv_files import campaign_rows, to_csv


def test_a_dropped_csv_becomes_batches_within_the_concurrency(local_system):
    system = local_system(batch_concurrency=2)
    system.drop("incoming/campaign.csv", campaign_csv(1200))
    system.runtime.drain()
    snap = system.snapshot()
    assert snap["status"] == "RUNNING"
    assert snap["rows"] == 1200
    assert snap["valid"] + snap["rejected"] == 1200
    assert snap["rejected"] > 0
    assert [c["status"] for c in snap["chunks"]] == ["SUBMITTED", "SUBMITTED", "QUEUED"]
    assert sum(c["rows"] for c in snap["chunks"]) == snap["valid"]
    assert max(c["rows"] for c in snap["chunks"]) - min(c["rows"] for c in snap["chunks"]) <= 1
    assert system.emulator.create_counts.accepted == 2
    assert system.emulator.max_concurrent_open <= 2


def test_files_outside_incoming_or_of_other_types_are_not_picked_up(local_system):
    system = local_system()
    body = to_csv(campaign_rows(20))
    system.drop("elsewhere/campaign.csv", body)
    system.drop("incoming/notes.txt", body)
    system.runtime.drain()
    assert system.jobs() == []


def test_an_s3_event_delivered_twice_makes_one_job_and_one_batch(local_system):
    system = local_system()
    system.drop("incoming/once.csv", to_csv(campaign_rows(40)))
    sqs = system.runtime.stack.client("sqs")
    queue = system.runtime.stack.ref("IntakeQueue")
    messages = []
    while answer := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        messages.extend(answer)
        for m in answer:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    uploads = [m for m in messages if "ObjectCreated" in m["Body"]]
    assert len(uploads) == 1
    for _ in range(2):  # S3 and SQS both deliver at least once: simulate the duplicate
        sqs.send_message(QueueUrl=queue, MessageBody=uploads[0]["Body"])
    system.runtime.drain()
    assert len(system.jobs()) == 1
    assert system.emulator.create_counts.total == 1


def test_the_original_upload_is_never_modified(local_system):
    system = local_system()
    body = to_csv(campaign_rows(25))
    system.drop("incoming/keep.csv", body)
    system.runtime.drain()
    s3 = system.runtime.stack.client("s3")
    versions = s3.list_object_versions(Bucket=system.bucket, Prefix="incoming/")["Versions"]
    assert len(versions) == 1
    assert s3.get_object(Bucket=system.bucket, Key="incoming/keep.csv")["Body"].read() == body
