"""Uploads that vanish, come back under the same name, or carry hidden characters in their key."""

from __future__ import annotations

import csv
import io
import unicodedata

import httpx
import pytest

from syncdrop_local.runtime import moto_fidelity
from tests.support.csv_files import campaign_rows, to_csv


def assert_one_safe_line(text: str) -> None:
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in text), text


def delete_version(system, key: str, version: str) -> None:
    system.runtime.stack.client("s3").delete_object(
        Bucket=system.bucket, Key=key, VersionId=version
    )


@pytest.mark.parametrize("replaced", [False, True], ids=["deleted", "replaced"])
def test_an_upload_gone_before_intake_reads_it_gets_one_failed_email(local_system, replaced):
    """AWS answers a role without s3:ListBucket 403, not 404, for the missing version; the
    job still ends FAILED with one email instead of a retry loop into the DLQ."""
    system = local_system()
    s3 = system.runtime.stack.client("s3")
    key = "incoming/gone.csv"
    first = s3.put_object(Bucket=system.bucket, Key=key, Body=to_csv(campaign_rows(25)))
    if replaced:  # a newer upload, and the version the event names is deleted
        s3.put_object(Bucket=system.bucket, Key=key, Body=to_csv(campaign_rows(30)))
    delete_version(system, key, first["VersionId"])
    with moto_fidelity.missing_objects_denied():
        system.settle()
    jobs = {job["job_id"]: job for job in system.jobs()}
    gone = [job for job in jobs.values() if job["version_id"] == first["VersionId"]]
    assert [job["status"] for job in gone] == ["FAILED"]
    emails = [
        e for e in system.runtime.collect_emails() if e.attributes["job_id"] == gone[0]["job_id"]
    ]
    assert len(emails) == 1
    assert emails[0].attributes["status"] == "FAILED"
    assert "AccessDenied" in emails[0].body
    assert "Upload it again" in emails[0].body
    assert system.emulator.create_counts.total == (1 if replaced else 0)


def download_link(body: str) -> str:
    lines = body.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Download it here"))
    return lines[start + 1].strip()


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def run_one_file(system, key: str, rows: int) -> None:
    system.drop(key, to_csv(campaign_rows(rows)))
    system.settle()
    system.finish_batches()
    system.settle()


def test_each_email_link_keeps_serving_its_own_results_after_a_re_upload(local_system):
    system = local_system()
    run_one_file(system, "incoming/b.csv", 25)
    (first,) = system.runtime.collect_emails()
    run_one_file(system, "incoming/b.csv", 30)
    emails = system.runtime.collect_emails()
    assert len(emails) == 2
    second = emails[1]
    assert first.attributes["job_id"] != second.attributes["job_id"]
    # The key now holds the second job's results; each link serves its own job's.
    latest = system.results_csv("results/b.results.csv")
    assert len(latest) == 31
    served = [httpx.get(download_link(e.body), timeout=10) for e in (first, second)]
    assert [r.status_code for r in served] == [200, 200]
    assert [len(csv_rows(r.text)) for r in served] == [26, 31]
    assert "versionId=" in download_link(first.body)


def test_a_key_with_a_newline_and_a_bidi_override_is_refused_in_one_safe_email(local_system):
    system = local_system()
    key = "incoming/pay\nBcc: x@evil.example/inv\u202eoice.csv"
    system.drop(key, to_csv(campaign_rows(25)))
    system.settle()
    (job,) = system.jobs()
    assert job["status"] == "FAILED"
    (email,) = system.runtime.collect_emails()
    assert email.attributes["status"] == "FAILED"
    assert_one_safe_line(email.subject)
    for line in email.body.splitlines():
        assert_one_safe_line(line)
    assert "s3://" + system.bucket + "/incoming/pay\\nBcc: x@evil.example/inv\\u202eoice.csv" in (
        email.body
    )
    assert "\\n, \\u202e" in email.body  # the reason names the characters, escaped
    assert system.emulator.create_counts.total == 0
