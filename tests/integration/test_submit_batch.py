"""submit_batch's handler against moto (mock_aws) and the Sync emulator over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.runtime.local_runtime import REPO_ROOT, LocalRuntime
from syncdrop_local.state_view import job_snapshot, table_items
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.events import intake_event, load_event

API_KEY = "sk-integration"


@dataclass
class Harness:
    runtime: LocalRuntime
    emulator: SyncEmulator

    @property
    def bucket(self) -> str:
        return self.runtime.stack.ref("UploadsBucket")

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        """Upload; the test delivers the event itself (the intake queue is never pumped here)."""
        s3 = self.runtime.stack.client("s3")
        answer = s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return intake_event(self.bucket, key, answer.get("VersionId"), len(body))

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.runtime.functions["SubmitBatchFunction"].invoke(event)
        return result

    def snapshot(self) -> dict[str, Any]:
        snap = job_snapshot(self.runtime.stack)
        assert snap is not None, "no job was recorded"
        return snap

    def results(self) -> list[dict[str, Any]]:
        return sorted(table_items(self.runtime.stack, "ResultsTable"), key=lambda i: i["row_key"])


@pytest.fixture
def harness_factory() -> Iterator[Any]:
    started: list[SyncEmulator] = []

    def make(**emulator_options: Any) -> Harness:
        emulator = SyncEmulator(api_key=API_KEY, webhook_secret="whsec_i", **emulator_options)
        emulator.start()
        started.append(emulator)
        runtime = LocalRuntime.start(
            None,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": API_KEY,
                "SyncApiBaseUrl": emulator.url,
                "BatchConcurrency": "2",
            },
            root=REPO_ROOT,
        )
        return Harness(runtime=runtime, emulator=emulator)

    with mock_aws():
        yield make
    for emulator in started:
        emulator.stop()


def test_a_csv_becomes_one_batch_with_rejections_recorded(harness_factory):
    h = harness_factory()
    rows = campaign_rows(30)
    rows[4][1] = "http://insecure.example.com/v.mp4"
    rows[9][2] = ""
    event = h.put("incoming/spring campaign.csv", to_csv(rows))
    assert h.invoke(event) == {"batchItemFailures": []}
    snap = h.snapshot()
    assert (snap["status"], snap["rows"], snap["valid"], snap["rejected"]) == ("RUNNING", 30, 28, 2)
    assert [(c["rows"], c["status"]) for c in snap["chunks"]] == [(28, "SUBMITTED")]
    (batch,) = h.emulator.batches
    assert len(batch.lines) == 28
    # Sync echoes this URL back: job and chunk let the reconciler find an unconfirmed batch.
    assert batch.webhook_url == f"{h.runtime.webhook_url}?job={snap['job_id']}&chunk=1"
    rejected = h.results()
    assert [(r["row_number"], r["status"]) for r in rejected] == [(6, "REJECTED"), (11, "REJECTED")]
    assert "https" in rejected[0]["error_message"]
    assert json.loads(rejected[0]["columns"])["first_name"] == "Name 5"


def test_the_same_event_twice_makes_one_job_and_one_post(harness_factory):
    h = harness_factory()
    event = h.put("incoming/twice.csv", to_csv(campaign_rows(45)))
    h.invoke(event)
    h.invoke(event)
    assert h.emulator.create_counts.total == 1
    jobs = [i for i in table_items(h.runtime.stack, "JobTable") if i.get("type") == "job"]
    assert len(jobs) == 1


def test_two_versions_of_one_key_are_two_jobs(harness_factory):
    h = harness_factory()
    h.invoke(h.put("incoming/same.csv", to_csv(campaign_rows(20))))
    h.invoke(h.put("incoming/same.csv", to_csv(campaign_rows(20, start=100))))
    jobs = [i for i in table_items(h.runtime.stack, "JobTable") if i.get("type") == "job"]
    assert len(jobs) == 2
    assert h.emulator.create_counts.accepted == 2


def test_chunks_beyond_batch_concurrency_stay_queued(harness_factory):
    h = harness_factory()
    h.invoke(h.put("incoming/big.csv", to_csv(campaign_rows(1200))))
    snap = h.snapshot()
    assert [c["rows"] for c in snap["chunks"]] == [400, 400, 400]
    assert [c["status"] for c in snap["chunks"]] == ["SUBMITTED", "SUBMITTED", "QUEUED"]
    assert h.emulator.max_concurrent_open <= 2


def test_a_429_from_sync_leaves_chunks_queued_not_failed(harness_factory):
    h = harness_factory(batch_concurrency=1)
    h.invoke(h.put("incoming/first.csv", to_csv(campaign_rows(20))))
    h.invoke(h.put("incoming/second.csv", to_csv(campaign_rows(20, start=50))))
    statuses = sorted(
        i["status"] for i in table_items(h.runtime.stack, "JobTable") if i.get("type") == "chunk"
    )
    assert statuses == ["QUEUED", "SUBMITTED"]
    assert h.emulator.create_counts.rejected.get(429) == 1


def test_a_5xx_on_create_leaves_the_chunk_submitting_and_a_redelivery_does_not_repost(
    harness_factory,
):
    h = harness_factory()
    h.emulator.faults.fail_next_creates(1, status=502, after_create=True)
    event = h.put("incoming/flaky.csv", to_csv(campaign_rows(20)))
    assert h.invoke(event) == {"batchItemFailures": []}
    h.invoke(event)
    assert [c["status"] for c in h.snapshot()["chunks"]] == ["SUBMITTING"]
    assert h.emulator.create_counts.total == 1


def test_excel_semicolon_bom_crlf_is_read(harness_factory):
    h = harness_factory()
    rows = campaign_rows(20)
    rows[0][3] = 'Müller; "the boss"\nsecond line'
    body = to_csv(rows, delimiter=";", newline="\r\n", bom=True)
    h.invoke(h.put("incoming/excel.csv", body))
    snap = h.snapshot()
    assert (snap["valid"], snap["rejected"]) == (20, 0)
    (batch,) = h.emulator.batches
    assert batch.lines[0]["request_id"] == "r1"
    assert batch.lines[0]["payload"]["input"][0]["url"] == "https://media.example.com/v1.mp4"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"request_id,audio_url\nr1,https://a.example/a.wav\n", "video_url"),
        (
            to_csv(
                [[f"r{n}", "http://v.example/v.mp4", "https://a.example/a.wav", ""] for n in (1, 2)]
            ),
            "None of the file's 2 rows is valid",
        ),
        (b"\x00\x01\x02binary\xff\xfe", "text"),
        (b"", "empty"),
    ],
)
def test_unusable_files_fail_the_job_with_a_message_for_a_person(harness_factory, body, expected):
    h = harness_factory()
    assert h.invoke(h.put("incoming/bad.csv", body)) == {"batchItemFailures": []}
    snap = h.snapshot()
    assert snap["status"] == "FAILED"
    assert expected in snap["message"]
    assert h.emulator.create_counts.total == 0


def test_dry_run_validates_with_sync_and_creates_nothing(harness_factory):
    h = harness_factory()
    h.invoke(h.put("incoming/dry-run/check.csv", to_csv(campaign_rows(25))))
    snap = h.snapshot()
    assert snap["status"] == "VALIDATED"
    assert "VALIDATED" in snap["message"]
    assert h.emulator.create_counts.dry_run == 1
    assert h.emulator.batches == []


def test_s3_test_event_does_nothing(harness_factory):
    h = harness_factory()
    event = load_event("intake_s3_test_event.json")
    assert h.invoke(event) == {"batchItemFailures": []}
    assert table_items(h.runtime.stack, "JobTable") == []


def test_an_event_for_another_bucket_is_ignored(harness_factory):
    h = harness_factory()
    event = h.put("incoming/x.csv", to_csv(campaign_rows(20)))
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["bucket"]["name"] = "someone-elses-bucket"
    event["Records"][0]["body"] = json.dumps(body)
    assert h.invoke(event) == {"batchItemFailures": []}
    assert table_items(h.runtime.stack, "JobTable") == []


def test_a_garbage_message_is_reported_as_a_failure_for_the_dlq(harness_factory):
    h = harness_factory()
    event = load_event("intake_s3_test_event.json")
    event["Records"][0]["body"] = "this is not an S3 event"
    # Every record failed, so the invocation fails and SQS redelivers until the DLQ takes it.
    with pytest.raises(BatchProcessingError):
        h.invoke(event)


def test_s3_media_reaches_sync_as_an_asset_uploaded_once(harness_factory):
    h = harness_factory()
    h.put("media/clip one.mp4", b"\0\0\0\x18ftypmp42 clip")
    rows = campaign_rows(22)
    rows[0][1] = rows[3][1] = f"s3://{h.bucket}/media/clip one.mp4"
    rows[1][1] = "s3://another-bucket/media/clip.mp4"
    h.invoke(h.put("incoming/s3.csv", to_csv(rows)))
    (batch,) = h.emulator.batches
    (asset,) = h.emulator.assets()
    assert asset.name == "clip one.mp4"
    assert batch.lines[0]["payload"]["input"][0] == {"type": "video", "assetId": asset.id}
    assert batch.lines[2]["payload"]["input"][0] == {"type": "video", "assetId": asset.id}
    assert h.emulator.asset_counts().puts == 1
    (rejected,) = h.results()
    assert rejected["row_number"] == 3
    assert "media/" in rejected["error_message"]


def test_a_file_that_cannot_be_read_on_its_last_receive_ends_failed_not_in_the_dlq(
    harness_factory, monkeypatch
):
    from syncdrop.adapters.s3_objects import S3ObjectStore
    from syncdrop.errors import StorageError

    def throttled(self: Any, upload: Any) -> Any:
        raise StorageError("S3 GetObject failed: SlowDown")

    h = harness_factory()
    event = h.put("incoming/busy.csv", to_csv(campaign_rows(30)))
    monkeypatch.setattr(S3ObjectStore, "open_upload_with_metadata", throttled)
    # Before the last receive the failure goes back to SQS, which redelivers.
    with pytest.raises(BatchProcessingError):
        h.invoke(event)
    assert h.snapshot()["status"] == "RECEIVED"
    # The intake queue's DLQ takes a message after 5 receives: the 5th ends the job instead.
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "5"
    assert h.invoke(event) == {"batchItemFailures": []}
    snap = h.snapshot()
    assert snap["status"] == "FAILED"
    assert (
        "could not read the file after 5 attempts (S3 GetObject failed: SlowDown)"
        in snap["message"]
    )
    assert h.emulator.create_counts.total == 0
