"""The file `syncdrop retry` writes: its name, its header, its rows; and the tag intake reads."""

from __future__ import annotations

import csv
import io
import json

import pytest

from syncdrop.domain.intake import accept_upload
from syncdrop.jobs import JobStatus
from syncdrop.retry_tag import retry_of_from
from syncdrop_local.stack_cli.retry_file import (
    csv_bytes,
    failed_row,
    fixed_row,
    next_retry_key,
    retry_base,
    retry_header,
)
from tests.fakes.stores import FakeObjectStore
from tests.support.csv_files import campaign_rows, to_csv
from tests.unit.test_accept_upload import LIMITS, services_with

JOB = "job-0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("key", "taken", "expected"),
    [
        ("incoming/campaign.csv", [], "incoming/campaign.retry-1.csv"),
        (
            "incoming/june/campaign.csv",
            ["incoming/june/campaign.retry-1.csv", "incoming/june/campaign.retry-3.csv"],
            "incoming/june/campaign.retry-4.csv",
        ),
        # A retry of a retry is the next number beside the original, not retry-1.retry-1.
        (
            "incoming/campaign.retry-2.csv",
            ["incoming/campaign.retry-2.csv"],
            "incoming/campaign.retry-3.csv",
        ),
        # Other files under the prefix do not count.
        (
            "incoming/a.csv",
            ["incoming/a.retry-x.csv", "incoming/a.retry-2.csv.bak"],
            "incoming/a.retry-1.csv",
        ),
    ],
)
def test_the_retry_file_takes_the_next_free_number(key, taken, expected):
    assert next_retry_key(key, taken) == expected


def test_the_base_of_a_name_without_extension_is_the_name():
    assert retry_base("incoming/notes") == "incoming/notes"


def test_every_retried_row_carries_its_request_id_even_when_the_header_had_none():
    header = retry_header(["video_url", "audio_url", "Name"])
    assert header == ["video_url", "audio_url", "Name", "request_id"]
    item = {
        "request_id": "row-7",
        "columns": json.dumps(
            {"video_url": "https://v/7.mp4", "audio_url": "https://a/7.wav", "Name": "Zoë"}
        ),
    }
    assert failed_row(header, item) == ["https://v/7.mp4", "https://a/7.wav", "Zoë", "row-7"]


def test_a_header_with_its_own_request_id_column_keeps_its_place():
    header = retry_header(["Request_ID", "video_url"])
    assert header == ["Request_ID", "video_url"]
    item = {
        "request_id": "r1",
        "columns": json.dumps({"Request_ID": "r1", "video_url": "https://v"}),
    }
    assert failed_row(header, item) == ["r1", "https://v"]
    assert fixed_row(header, {"request_id": "r9", "VIDEO_URL": "https://w"}) == ["r9", "https://w"]


def test_the_file_is_a_csv_that_reads_back_the_same():
    rows = [["r1", 'a "quoted", cell'], ["r2", "line\nbreak"]]
    body = csv_bytes(["request_id", "note"], rows)
    assert list(csv.reader(io.StringIO(body.decode()))) == [["request_id", "note"], *rows]


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"retry-of": JOB}, JOB),
        ({"retry-of": f" {JOB} "}, JOB),
        ({}, ""),
        ({"retry-of": "job-nothex"}, ""),
        ({"retry-of": JOB + "0"}, ""),
        ({"notify": "a@example.com"}, ""),
    ],
)
def test_intake_reads_the_retried_job_from_the_upload_metadata(metadata, expected):
    assert retry_of_from(metadata) == expected


def test_intake_records_the_retried_job_from_the_files_metadata():
    services, upload = services_with(to_csv(campaign_rows(3)), key="incoming/a.retry-1.csv")
    assert isinstance(services.objects, FakeObjectStore)
    services.objects.metadata[(upload.bucket, upload.key)] = {"retry-of": JOB}

    outcome = accept_upload(services, upload, LIMITS)

    assert outcome.job.status is JobStatus.RUNNING
    stored = services.jobs.get_job(upload.job_id)
    assert stored is not None
    assert stored.retry_of == JOB


def test_a_file_without_the_tag_retries_nothing():
    services, upload = services_with(to_csv(campaign_rows(3)))

    accept_upload(services, upload, LIMITS)

    stored = services.jobs.get_job(upload.job_id)
    assert stored is not None
    assert stored.retry_of == ""
