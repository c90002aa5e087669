"""Reading an upload into a job: chunks, manifests, rejections, unusable files."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

from syncdrop.domain.intake import IntakeLimits, accept_upload, compact_columns
from syncdrop.domain.services import Services
from syncdrop.intake import IntakeRules
from syncdrop.jobs import ChunkStatus, JobStatus, SubmitMode, UploadRef
from tests.fakes.stores import FakeJobStore, FakeObjectStore, FakeResultStore, FakeSync
from tests.support.csv_files import campaign_rows, to_csv

LIMITS = IntakeLimits(
    rules=IntakeRules(), max_upload_bytes=1_000_000, min_lines=20, max_lines=500, max_bytes=5 << 20
)


def services_with(body: bytes, key: str = "incoming/a.csv") -> tuple[Services, UploadRef]:
    objects = FakeObjectStore(uploads={("bkt", key): body})
    services = Services(
        jobs=FakeJobStore(),
        results=FakeResultStore(),
        objects=objects,
        sync=FakeSync(),
        clock=lambda: datetime(2026, 11, 29, tzinfo=UTC),
    )
    return services, UploadRef("bkt", key, "v1", size=len(body))


def test_valid_rows_become_balanced_chunks_with_manifests_in_input_order():
    services, upload = services_with(to_csv(campaign_rows(510)))
    outcome = accept_upload(services, upload, LIMITS)
    assert outcome.job.status is JobStatus.RUNNING
    assert [c.rows for c in outcome.chunks] == [255, 255]
    assert all(c.status is ChunkStatus.QUEUED for c in outcome.chunks)
    objects = services.objects
    assert isinstance(objects, FakeObjectStore)
    second = objects.objects[outcome.chunks[1].input_key].decode().splitlines()
    assert json.loads(second[0])["request_id"] == "r256"
    manifest = [
        json.loads(line) for line in objects.objects[outcome.chunks[1].manifest_key].splitlines()
    ]
    assert manifest[0] == {
        "row": 257,  # header is row 1
        "request_id": "r256",
        "columns": {
            "request_id": "r256",
            "video_url": "https://media.example.com/v256.mp4",
            "audio_url": "https://media.example.com/a256.wav",
            "first_name": "Name 256",
        },
    }
    assert len(manifest) == 255


def test_rejections_are_stored_with_reasons_and_the_job_counts_add_up():
    rows = campaign_rows(25)
    rows[2][1] = "ftp://example.com/v.mp4"
    services, upload = services_with(to_csv(rows))
    outcome = accept_upload(services, upload, LIMITS)
    assert (outcome.job.rows, outcome.job.valid, outcome.job.rejected) == (25, 24, 1)
    results = services.results
    assert isinstance(results, FakeResultStore)
    (item,) = results.items.values()
    assert item["status"] == "REJECTED"
    assert item["row_number"] == 4
    assert "video_url" in str(item["error_message"])


def test_a_second_delivery_reuses_the_job_without_reading_again():
    services, upload = services_with(to_csv(campaign_rows(30)))
    first = accept_upload(services, upload, LIMITS)
    objects = services.objects
    assert isinstance(objects, FakeObjectStore)
    objects.uploads.clear()  # reading again would now fail
    again = accept_upload(services, upload, LIMITS)
    assert again.fresh is False
    assert again.job.job_id == first.job.job_id
    assert [c.number for c in again.chunks] == [1]


def test_an_upload_bigger_than_the_limit_is_refused_before_reading():
    services, upload = services_with(b"x" * 10)
    big = UploadRef(upload.bucket, upload.key, upload.version_id, size=2_000_000)
    outcome = accept_upload(services, big, LIMITS)
    assert outcome.job.status is JobStatus.FAILED
    assert "2.0 MB" in outcome.job.message


def test_a_deleted_upload_fails_the_job_instead_of_retrying_forever():
    services, upload = services_with(b"")
    gone = UploadRef(upload.bucket, "incoming/gone.csv", "v9", size=None)
    outcome = accept_upload(services, gone, LIMITS)
    assert outcome.job.status is JobStatus.FAILED
    assert "Upload it again" in outcome.job.message


def test_too_few_valid_rows_for_batches_only_names_the_minimum_and_the_way_out():
    rows = campaign_rows(22)
    for row in rows[:5]:
        row[1] = "not a url"
    services, upload = services_with(to_csv(rows))
    outcome = accept_upload(services, upload, replace(LIMITS, mode=SubmitMode.BATCH))
    assert outcome.job.status is JobStatus.FAILED
    assert "Only 17 rows of 22 are valid" in outcome.job.message
    assert "at least 20" in outcome.job.message
    assert "SubmitMode auto" in outcome.job.message


def test_dry_run_asks_sync_and_records_the_verdict_without_chunks():
    services, upload = services_with(to_csv(campaign_rows(30)), key="incoming/dry-run/a.csv")
    outcome = accept_upload(services, upload, LIMITS)
    assert outcome.job.status is JobStatus.VALIDATED
    assert "VALIDATED" in outcome.job.message
    sync = services.sync
    assert isinstance(sync, FakeSync)
    assert (sync.dry_runs, sync.created) == (1, [])
    jobs = services.jobs
    assert isinstance(jobs, FakeJobStore)
    assert jobs.chunks == {}


def test_compact_columns_keeps_items_under_the_budget():
    huge = {"notes": "x" * 100_000, "name": "Ada"}
    text = compact_columns(huge)
    assert len(text) <= 32_000
    assert json.loads(text)["name"] == "Ada"
