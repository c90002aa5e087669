"""Faults injected into the local stack; every scenario ends with all six invariants checked."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from syncdrop import crash_points
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.invariants import check_invariants
from tests.support.local_system import LocalSystem, run_to_the_end

CONCURRENCY = 2
# Small batches so a few hundred rows make several chunks; a fast reconciler and report lease.
PARAMETERS = {"BatchMaxLines": "50"}
FAST_BACKSTOP = {
    "POLL_AFTER_MINUTES": "0.02",
    "SUBMITTING_GRACE_MINUTES": "0.02",
    "REPORT_LEASE_SECONDS": "2",
}


@pytest.fixture(autouse=True)
def _disarm() -> Any:
    crash_points.disarm_all()
    yield
    crash_points.disarm_all()


def start(local_system: Any, **emulator_options: Any) -> LocalSystem:
    system: LocalSystem = local_system(
        batch_concurrency=CONCURRENCY,
        parameters=PARAMETERS,
        environment=FAST_BACKSTOP,
        **emulator_options,
    )
    return system


def drop_files(
    system: LocalSystem, count: int, rows: int, *, fail_every: int = 0
) -> dict[str, bytes]:
    uploads = {}
    for n in range(count):
        first = n * 1000 + 1
        fail = set(range(first, first + rows, fail_every)) if fail_every else None
        data = campaign_rows(rows, start=first, fail=fail)
        data[2][1] = "ftp://not-https.example/v.mp4"  # one rejected row per file
        key = f"incoming/file-{n}.csv"
        uploads[key] = to_csv(data)
        system.drop(key, uploads[key])
    return uploads


def finish(system: LocalSystem, uploads: dict[str, bytes], *, timeout: float = 90.0) -> Any:
    run_to_the_end(system, files=len(uploads), timeout=timeout)
    report = check_invariants(system, uploads, batch_concurrency=CONCURRENCY)
    report.assert_holds()
    return report


def test_baseline_without_faults(local_system):
    system = start(local_system)
    uploads = drop_files(system, 2, 120, fail_every=40)
    report = finish(system, uploads)
    assert report.rows == 240
    assert report.rows_by_status == {"COMPLETED": 232, "FAILED": 6, "REJECTED": 2}


def test_crash_after_post_before_the_write_that_records_it(local_system):
    system = start(local_system)
    crash_points.arm(crash_points.AFTER_CREATE_BEFORE_RECORD)
    uploads = drop_files(system, 1, 120)
    report = finish(system, uploads)
    assert crash_points.fired == [crash_points.AFTER_CREATE_BEFORE_RECORD]
    assert report.duplicate_submissions == 0
    assert len(system.emulator.batches) == 3


def test_crash_in_the_middle_of_a_fan_out(local_system):
    system = start(local_system)
    crash_points.arm(crash_points.FAN_OUT_AFTER_ROWS_WRITTEN, after=1)
    uploads = drop_files(system, 1, 150)
    finish(system, uploads)
    assert crash_points.fired == [crash_points.FAN_OUT_AFTER_ROWS_WRITTEN]


def test_crash_after_the_results_csv_before_the_email(local_system):
    system = start(local_system)
    crash_points.arm(crash_points.AFTER_RESULTS_CSV_BEFORE_EMAIL)
    uploads = drop_files(system, 1, 60)
    report = finish(system, uploads)
    assert crash_points.fired == [crash_points.AFTER_RESULTS_CSV_BEFORE_EMAIL]
    assert report.emails == 1


def test_create_answers_lost_after_the_batch_exists(local_system):
    system = start(local_system)
    system.emulator.faults.fail_next_creates(2, status=502, after_create=True)
    uploads = drop_files(system, 1, 150)
    report = finish(system, uploads)
    assert report.duplicate_submissions == 0
    assert system.emulator.create_counts.accepted == 3


def test_webhooks_lost_and_duplicated(local_system):
    system = start(local_system)
    system.emulator.faults.drop_webhooks = True
    system.emulator.faults.duplicate_webhooks = True
    uploads = drop_files(system, 2, 60)
    finish(system, uploads)


def test_sync_429s_and_5xx_on_reads(local_system):
    # Sync's own cap is lower than ours: other batches of the account hold the rest.
    system = start(local_system, sync_concurrency=1)
    system.emulator.faults.fail_next_gets(3, status=503)
    system.emulator.faults.rate_limit_next(2)
    uploads = drop_files(system, 2, 100)
    report = finish(system, uploads)
    assert report.max_open_batches == 1
    assert system.emulator.create_counts.rejected.get(429, 0) >= 1


def test_batches_failed_by_sync_fail_their_rows_with_a_reason(local_system):
    system = start(local_system)
    uploads = {}
    rows = campaign_rows(60)
    rows[0][1] = "https://media.example.com/v1.mp4?sync-batch-fail"
    uploads["incoming/doomed.csv"] = to_csv(rows)
    system.drop("incoming/doomed.csv", uploads["incoming/doomed.csv"])
    report = finish(system, uploads)
    assert report.rows_by_status["FAILED"] >= 20


def test_forged_and_stale_webhooks_change_nothing(local_system):
    system = start(local_system)
    uploads = drop_files(system, 1, 60)
    system.settle()
    before = system.snapshot()
    url = system.runtime.webhook_url
    answers = []
    for chunk in before["chunks"]:
        body = json.dumps({"id": chunk["batch_id"], "status": "COMPLETED"})
        target = f"{url}?job={before['job_id']}&chunk={chunk['number']}"
        stale = f"t={int(time.time()) - 3600},v1=" + "ab" * 32
        for headers in ({}, {"Sync-Signature": stale}, {"X-Signature-Primary": "t=1,v1=00"}):
            answers.append(httpx.post(target, content=body, headers=headers).status_code)
    assert set(answers) == {401}
    assert system.snapshot() == before
    finish(system, uploads)


def test_two_uploads_of_one_key_are_two_jobs_with_two_emails(local_system):
    system = start(local_system)
    first = to_csv(campaign_rows(40))
    second = to_csv(campaign_rows(40, start=500))
    system.drop("incoming/same.csv", first)
    system.drop("incoming/same.csv", second)
    run_to_the_end(system, files=2)
    assert len(system.jobs()) == 2
    assert len(system.runtime.collect_emails()) == 2
