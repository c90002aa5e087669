"""S3 events through SQS: decoded keys, test events skipped, identity per object version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncdrop.s3_events import NotAnUploadEvent, uploads_in

EVENTS = Path(__file__).resolve().parents[2] / "events"


def body_of(name: str) -> str:
    return json.loads((EVENTS / name).read_text())["Records"][0]["body"]


def test_object_created_key_is_url_decoded():
    (upload,) = list(uploads_in(body_of("intake_s3_object_created.json")))
    assert upload.key == "incoming/Winter campaign é.csv"
    assert upload.bucket == "syncdrop-uploads-example"
    assert upload.version_id == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    assert upload.size == 2048
    assert upload.file_name == "Winter campaign é.csv"
    assert upload.kind == "csv"


def test_s3_test_event_yields_nothing():
    assert list(uploads_in(body_of("intake_s3_test_event.json"))) == []


@pytest.mark.parametrize("body", ["not json", "[1, 2]", '{"hello": "world"}'])
def test_garbage_is_refused_as_not_an_upload(body):
    with pytest.raises(NotAnUploadEvent):
        list(uploads_in(body))


def test_same_version_same_job_other_version_other_job():
    body = body_of("intake_s3_object_created.json")
    (first,) = uploads_in(body)
    (again,) = uploads_in(body)
    assert first.job_id == again.job_id
    other = json.loads(body)
    other["Records"][0]["s3"]["object"]["versionId"] = "another-version"
    (second,) = uploads_in(json.dumps(other))
    assert second.job_id != first.job_id


def test_without_versioning_the_event_time_tells_uploads_apart():
    payload = json.loads(body_of("intake_s3_object_created.json"))
    del payload["Records"][0]["s3"]["object"]["versionId"]
    (first,) = uploads_in(json.dumps(payload))
    payload["Records"][0]["eventTime"] = "2026-11-29T11:00:00.000Z"
    (later,) = uploads_in(json.dumps(payload))
    assert first.job_id != later.job_id


def test_dry_run_prefix_and_jsonl_kind():
    payload = json.loads(body_of("intake_s3_object_created.json"))
    payload["Records"][0]["s3"]["object"]["key"] = "incoming/dry-run/batch.JSONL"
    (upload,) = uploads_in(json.dumps(payload))
    assert upload.is_dry_run
    assert upload.kind == "jsonl"
