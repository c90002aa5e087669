"""Faults injected into the local stack; every scenario ends with all six invariants checked."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
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
    "FAN_OUT_LEASE_SECONDS": "2",
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


# --- liveness: every way a job can stall still ends in its one email ------------------------------
def pass_the_deadline(system: LocalSystem, keys: set[str] | None = None) -> None:
    """Move every unreported job's deadline (of the uploads ``keys`` only, if given) into the
    past, as if JobDeadlineHours had gone by (the job item's ``deadline`` and its place in the
    OpenChunks index)."""
    db, table = system.runtime.stack.client("dynamodb"), system.runtime.stack.ref("JobTable")
    past = {"S": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="milliseconds")}
    for job in system.jobs():
        if keys is not None and job["key"] not in keys:
            continue
        db.update_item(
            TableName=table,
            Key={"pk": {"S": f"JOB#{job['job_id']}"}, "sk": {"S": "JOB"}},
            UpdateExpression="SET deadline = :past, open_since = :past",
            ConditionExpression="open_status = :deadline",
            ExpressionAttributeValues={":past": past, ":deadline": {"S": "DEADLINE"}},
        )


def move_to_dead_letters(system: LocalSystem, queue: str, dead_letters: str) -> int:
    """What SQS does after maxReceiveCount failures: the messages leave for the DLQ."""
    sqs = system.runtime.stack.client("sqs")
    source, target = system.runtime.stack.ref(queue), system.runtime.stack.ref(dead_letters)
    moved = 0
    while messages := sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=2
    ).get("Messages"):
        for message in messages:
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def without_function(system: LocalSystem, logical_id: str) -> None:
    """Nothing consumes that function's queue (its messages wait, as in a DLQ)."""
    sources = system.runtime.sqs_sources
    sources[:] = [s for s in sources if s.function.spec.logical_id != logical_id]


def csv_rows(system: LocalSystem, key: str) -> list[dict[str, str]]:
    header, *body = system.results_csv(key)
    return [dict(zip(header, row, strict=False)) for row in body]


def test_a_crash_after_the_job_is_recorded_before_the_file_is_read(local_system):
    system = start(local_system)
    crash_points.arm(crash_points.INTAKE_AFTER_JOB_RECORDED)
    uploads = drop_files(system, 1, 60)
    report = finish(system, uploads)
    assert crash_points.fired == [crash_points.INTAKE_AFTER_JOB_RECORDED]
    assert report.emails == 1


def test_a_crash_after_a_copy_is_recorded_before_its_chunk_is_marked(local_system):
    system = local_system(
        batch_concurrency=CONCURRENCY,
        parameters={**PARAMETERS, "CopyOutputs": "true"},
        environment=FAST_BACKSTOP,
    )
    crash_points.arm(crash_points.COPY_AFTER_RECORDED)  # its one slice: the chunk's last copies
    uploads = drop_files(system, 1, 40)
    finish(system, uploads)
    assert crash_points.fired == [crash_points.COPY_AFTER_RECORDED]
    rows = csv_rows(system, "results/file-0.results.csv")
    done = [r for r in rows if r["status"] == "COMPLETED"]
    assert len(done) == 39
    assert all(r["output_url"].startswith("s3://") for r in done)


def test_a_fan_out_with_a_permanent_error_ends_its_chunks_and_frees_their_slots(local_system):
    system = start(local_system)
    port = httpx.URL(system.emulator.url).port
    # Result links now lead to a host syncdrop does not fetch from: no retry can help.
    system.emulator.settings.signed_base = f"http://localhost:{port}"
    uploads = drop_files(system, 2, 100)  # 8 chunks through 2 slots
    report = finish(system, uploads)
    assert report.rows_by_status == {"FAILED": 198, "REJECTED": 2}
    rows = csv_rows(system, "results/file-1.results.csv")
    assert all("localhost" in r["error_message"] for r in rows if r["status"] == "FAILED")


def test_a_result_file_that_keeps_failing_spends_the_chunks_budget(local_system):
    system = local_system(
        batch_concurrency=CONCURRENCY,
        parameters=PARAMETERS,
        environment={**FAST_BACKSTOP, "FAN_OUT_ATTEMPTS": "3"},
    )
    system.emulator.faults.result_error_rate = 1.0
    uploads = drop_files(system, 1, 60)
    report = finish(system, uploads, timeout=120)
    assert report.rows_by_status == {"FAILED": 59, "REJECTED": 1}
    rows = csv_rows(system, "results/file-0.results.csv")
    assert all("after 3 attempts" in r["error_message"] for r in rows if r["status"] == "FAILED")


def test_results_messages_lost_to_the_dlq_are_recovered_by_the_reconciler(local_system):
    system = start(local_system)
    uploads = drop_files(system, 1, 60)
    system.settle()
    system.finish_batches()  # the webhooks put one results message per batch on the queue
    deadline = time.monotonic() + 30
    moved = 0
    while moved < 2 and time.monotonic() < deadline:
        moved += move_to_dead_letters(system, "ResultsQueue", "ResultsDeadLetterQueue")
    assert moved == 2
    report = finish(system, uploads)
    assert report.emails == 1
    assert report.rows_by_status["COMPLETED"] == 59


def test_a_copy_task_lost_to_the_dlq_is_finished_at_the_deadline(local_system):
    system = local_system(
        batch_concurrency=CONCURRENCY,
        parameters={**PARAMETERS, "CopyOutputs": "true"},
        environment=FAST_BACKSTOP,
    )
    without_function(system, "CopyOutputsFunction")
    uploads = drop_files(system, 1, 40)
    system.settle()
    system.finish_batches()
    system.settle()
    # The one chunk's one slice of copies (40 rows, 39 videos), never run.
    assert move_to_dead_letters(system, "OutputsQueue", "OutputsDeadLetterQueue") == 1
    pass_the_deadline(system)
    report = finish(system, uploads, timeout=60)
    assert report.emails == 1
    rows = csv_rows(system, "results/file-0.results.csv")
    done = [r for r in rows if r["status"] == "COMPLETED"]
    assert len(done) == 39
    assert all(r["error_code"] == "NOT_COPIED" for r in done)
    assert all(r["output_url"].startswith(system.emulator.url) for r in done)


def test_an_intake_message_in_the_dlq_is_finished_at_the_deadline(local_system):
    system = start(local_system)
    crash_points.arm(crash_points.INTAKE_AFTER_JOB_RECORDED)
    system.drop("incoming/never-read.csv", to_csv(campaign_rows(40)))
    system.runtime.run_until(lambda: bool(crash_points.fired))  # intake records the job, dies
    assert crash_points.fired == [crash_points.INTAKE_AFTER_JOB_RECORDED]
    assert move_to_dead_letters(system, "IntakeQueue", "IntakeDeadLetterQueue") == 1
    pass_the_deadline(system)
    run_to_the_end(system, files=1, timeout=60)
    (email,) = system.runtime.collect_emails()
    assert "could not be processed" in email.subject
    assert "could not finish reading this file before its deadline" in email.body
    (job,) = system.jobs()
    assert job["status"] == "FAILED"
    assert system.emulator.batches == []


def test_a_batch_sync_never_finishes_is_timed_out_then_its_late_outcome_rewrites_the_csv(
    local_system,
):
    # Sync takes ~116 days a row: nothing finishes before the deadline.
    system = start(local_system, processing_seconds_per_line=10_000_000)
    uploads = drop_files(system, 1, 60)
    system.settle()
    assert len(system.emulator.batches) == 2  # both chunks are at Sync
    pass_the_deadline(system)
    run_to_the_end(system, files=1, timeout=60)
    (email,) = system.runtime.collect_emails()
    assert "59 timed out" in email.subject
    rows = csv_rows(system, "results/file-0.results.csv")
    assert {r["status"] for r in rows} == {"TIMED_OUT", "REJECTED"}
    assert "deadline passed" in rows[0]["error_message"]
    # Sync finishes after all: the outcomes land and the CSV is rewritten, with no new email.
    system.emulator.advance(10**10)

    def rewritten() -> bool:
        statuses = {r["status"] for r in csv_rows(system, "results/file-0.results.csv")}
        return "TIMED_OUT" not in statuses

    system.runtime.run_until(rewritten, timeout=60, on_round=system.runtime.run_schedules)
    system.settle()
    report = check_invariants(system, uploads, batch_concurrency=CONCURRENCY)
    report.assert_holds()
    assert report.emails == 1
    assert report.rows_by_status == {"COMPLETED": 59, "REJECTED": 1}
