"""One contract, two implementations: every test runs against tests/fakes and against the
DynamoDB adapters on moto (template.yaml's tables), so the fakes the unit tests trust cannot
drift from what the adapters do."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop.jobs import Chunk, ChunkStatus, Job, JobStatus, UploadRef, chunk_keys
from syncdrop.keys import row_key
from syncdrop.ports import Claim, JobStore, ResultStore
from tests.fakes.stores import FakeJobStore, FakeResultStore

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
LEASE = timedelta(minutes=16)


@dataclass
class Stores:
    jobs: JobStore
    results: ResultStore


@pytest.fixture(params=["fake", "dynamodb"])
def stores(request: pytest.FixtureRequest) -> Stores:
    if request.param == "fake":
        return Stores(FakeJobStore(), FakeResultStore())
    stack = request.getfixturevalue("moto_stack")
    db = stack.client("dynamodb")
    return Stores(
        DynamoJobStore(db, stack.ref("JobTable")),
        DynamoResultStore(db, stack.ref("ResultsTable")),
    )


@pytest.fixture
def jobs(stores: Stores) -> JobStore:
    return stores.jobs


@pytest.fixture
def results(stores: Stores) -> ResultStore:
    return stores.results


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def a_job(job_id: str = "job-1", key: str = "incoming/a.csv") -> Job:
    upload = UploadRef("bucket", key, "v1", size=10)
    return Job(job_id=job_id, upload=upload, status=JobStatus.RECEIVED, created_at=T0)


def a_chunk(job_id: str, n: int, when: datetime = T0, rows: int = 20) -> Chunk:
    input_key, manifest_key = chunk_keys(job_id, n)
    return Chunk(job_id, n, ChunkStatus.QUEUED, rows, input_key, manifest_key, updated_at=when)


def submitted(jobs: JobStore, chunk: Chunk, batch_id: str, when: datetime) -> None:
    jobs.create_job(a_job(chunk.job_id))  # closing a chunk counts it on its job
    jobs.put_chunk(chunk)
    assert jobs.claim_for_submission(chunk, limit=10, now=when) is Claim.CLAIMED
    assert jobs.mark_submitted(chunk, batch_id, now=when) is True


def stored_chunk(jobs: JobStore, chunk: Chunk) -> Chunk:
    found = jobs.get_chunk(chunk.job_id, chunk.number)
    assert found is not None
    return found


# --- jobs ------------------------------------------------------------------------------------
def test_create_job_records_once_and_returns_what_is_stored(jobs):
    first = jobs.create_job(a_job())
    again = jobs.create_job(a_job(key="incoming/other.csv"))  # a redelivered event
    assert again.upload.key == first.upload.key == "incoming/a.csv"
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert (stored.status, stored.created_at, stored.upload) == (
        JobStatus.RECEIVED,
        T0,
        UploadRef("bucket", "incoming/a.csv", "v1", size=10),
    )


def test_what_the_store_returns_is_a_copy(jobs):
    job = jobs.create_job(a_job())
    job.status = JobStatus.RUNNING  # changed by the caller, not written
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert stored.status is JobStatus.RECEIVED
    stored.status = JobStatus.FAILED
    assert jobs.get_job("job-1").status is JobStatus.RECEIVED


def test_get_job_of_an_unknown_job_is_none(jobs):
    assert jobs.get_job("nope") is None


def test_finish_intake_moves_a_received_job_once(jobs):
    job = jobs.create_job(a_job())
    job.status, job.rows, job.valid, job.rejected = JobStatus.RUNNING, 30, 28, 2
    job.chunk_count, job.columns, job.message, job.plan = 2, ["a", "b"], "ok", [20, 8]
    assert jobs.finish_intake(job) is True
    job.status, job.rows = JobStatus.FAILED, 99
    assert jobs.finish_intake(job) is False  # a retried intake
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert (stored.status, stored.rows, stored.valid, stored.rejected) == (
        JobStatus.RUNNING,
        30,
        28,
        2,
    )
    assert (stored.chunk_count, stored.columns, stored.message, stored.plan) == (
        2,
        ["a", "b"],
        "ok",
        [20, 8],
    )


def test_who_is_told_is_kept_with_the_job(jobs):
    job = jobs.create_job(a_job())
    assert (job.notify, job.notify_note) == ([], "")
    job.status, job.notify, job.notify_note = JobStatus.FAILED, ["a@x.example", "b@x.example"], "n"
    assert jobs.finish_intake(job) is True
    job.notify.append("c@x.example")  # the caller's copy, not the store's
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert (stored.notify, stored.notify_note) == (["a@x.example", "b@x.example"], "n")


def test_finish_intake_of_an_unknown_job_is_false(jobs):
    job = a_job("never-created")
    job.status = JobStatus.RUNNING
    assert jobs.finish_intake(job) is False
    assert jobs.get_job("never-created") is None


# --- chunks ----------------------------------------------------------------------------------
def test_put_chunk_records_a_queued_chunk_once(jobs):
    c = a_chunk("job-1", 1)
    jobs.put_chunk(c)
    assert jobs.claim_for_submission(c, limit=3, now=T0) is Claim.CLAIMED
    jobs.put_chunk(a_chunk("job-1", 1, rows=99))  # a retried intake writes it again
    stored = stored_chunk(jobs, c)
    assert (stored.status, stored.rows, stored.attempts) == (ChunkStatus.SUBMITTING, 20, 1)
    assert (stored.input_key, stored.manifest_key) == chunk_keys("job-1", 1)


def test_job_chunks_are_that_jobs_in_number_order(jobs):
    for n in (3, 1, 2):
        jobs.put_chunk(a_chunk("job-1", n))
    jobs.put_chunk(a_chunk("job-2", 1))
    assert [c.number for c in jobs.job_chunks("job-1")] == [1, 2, 3]
    assert {c.job_id for c in jobs.job_chunks("job-1")} == {"job-1"}
    assert jobs.job_chunks("job-3") == []
    assert jobs.get_chunk("job-1", 9) is None


def test_claims_hold_the_limit_and_a_release_frees_a_slot(jobs):
    chunks = [a_chunk("job-1", n) for n in range(1, 5)]
    for c in chunks:
        jobs.put_chunk(c)
    answers = [jobs.claim_for_submission(c, limit=2, now=at(1)) for c in chunks]
    assert answers == [Claim.CLAIMED, Claim.CLAIMED, Claim.NO_CAPACITY, Claim.NO_CAPACITY]
    assert jobs.open_batch_holders() == {"job-1#1", "job-1#2"}
    first = stored_chunk(jobs, chunks[0])
    assert (first.status, first.attempts, first.updated_at) == (ChunkStatus.SUBMITTING, 1, at(1))
    assert stored_chunk(jobs, chunks[2]).status is ChunkStatus.QUEUED  # untouched
    assert jobs.release_to_queue(chunks[0], "429", now=at(2)) is True
    assert jobs.open_batch_holders() == {"job-1#2"}
    assert stored_chunk(jobs, chunks[0]).status is ChunkStatus.QUEUED
    assert jobs.claim_for_submission(chunks[2], limit=2, now=at(3)) is Claim.CLAIMED
    assert jobs.claim_for_submission(chunks[0], limit=3, now=at(3)) is Claim.CLAIMED
    assert stored_chunk(jobs, chunks[0]).attempts == 2


def test_a_chunk_that_is_not_queued_is_not_claimed(jobs):
    c = a_chunk("job-1", 1)
    jobs.put_chunk(c)
    assert jobs.claim_for_submission(c, limit=1, now=T0) is Claim.CLAIMED
    assert jobs.claim_for_submission(c, limit=5, now=T0) is Claim.NOT_QUEUED
    # Not queued beats no capacity: someone else moved it on, so nothing to wait for.
    assert jobs.claim_for_submission(c, limit=1, now=T0) is Claim.NOT_QUEUED
    assert jobs.claim_for_submission(a_chunk("job-1", 9), limit=5, now=T0) is Claim.NOT_QUEUED
    assert jobs.open_batch_holders() == {"job-1#1"}


def test_transitions_are_conditional(jobs):
    c = a_chunk("job-1", 1)
    jobs.put_chunk(c)
    assert jobs.mark_submitted(c, "batch_1", now=at(1)) is False  # not SUBMITTING yet
    assert jobs.release_to_queue(c, "429", now=at(1)) is False
    jobs.claim_for_submission(c, limit=3, now=at(1))
    assert jobs.mark_submitted(c, "batch_1", now=at(2)) is True
    assert jobs.mark_submitted(c, "batch_2", now=at(3)) is False
    assert jobs.release_to_queue(c, "late 429", now=at(3)) is False  # SUBMITTED stays
    stored = stored_chunk(jobs, c)
    assert (stored.status, stored.batch_id) == (ChunkStatus.SUBMITTED, "batch_1")
    assert (stored.submitted_at, stored.updated_at) == (at(2), at(2))
    assert jobs.open_batch_holders() == {"job-1#1"}  # a submitted batch holds its slot
    assert jobs.fail_chunk(c, "Sync failed the batch", now=at(4)) is True
    assert jobs.fail_chunk(c, "again", now=at(5)) is False
    stored = stored_chunk(jobs, c)
    assert (stored.status, stored.error) == (ChunkStatus.FAILED, "Sync failed the batch")
    assert jobs.open_batch_holders() == set()


def test_transitions_of_an_unknown_chunk_are_false(jobs):
    ghost = a_chunk("job-1", 7)
    assert jobs.mark_submitted(ghost, "batch_1", now=T0) is False
    assert jobs.release_to_queue(ghost, "429", now=T0) is False
    assert jobs.fail_chunk(ghost, "why", now=T0) is False
    assert jobs.touch_submitted(ghost, now=T0) is False
    assert jobs.close_chunk(ghost, ChunkStatus.COMPLETED, completed=1, failed=0, now=T0) is False
    assert jobs.job_chunks("job-1") == []


def test_a_queued_chunk_fails_without_a_slot_and_keeps_a_long_reason_whole_enough(jobs):
    c = a_chunk("job-1", 1)
    jobs.put_chunk(c)
    reason = "Sync refused the batch: " + "x" * 3000
    assert jobs.fail_chunk(c, reason, now=T0) is True
    stored = stored_chunk(jobs, c)
    assert stored.error == reason[:2000]  # the stored reason is capped
    assert jobs.open_batch_holders() == set()


def test_open_chunks_oldest_first_before_a_time_and_only_open_ones(jobs):
    for n, minutes in [(1, 5), (2, 1), (3, 3), (4, 2)]:
        jobs.put_chunk(a_chunk("job-1", n, at(minutes)))
    assert [c.number for c in jobs.open_chunks(ChunkStatus.QUEUED)] == [2, 4, 3, 1]
    assert [c.number for c in jobs.open_chunks(ChunkStatus.QUEUED, limit=2)] == [2, 4]
    before = jobs.open_chunks(ChunkStatus.QUEUED, before=at(3))
    assert [c.number for c in before] == [2, 4]  # strictly before
    c1 = a_chunk("job-1", 1)
    assert jobs.claim_for_submission(c1, limit=3, now=at(6)) is Claim.CLAIMED
    assert [c.number for c in jobs.open_chunks(ChunkStatus.SUBMITTING)] == [1]
    assert jobs.fail_chunk(c1, "x", now=at(7)) is True
    assert [c.number for c in jobs.open_chunks(ChunkStatus.QUEUED)] == [2, 4, 3]
    assert jobs.open_chunks(ChunkStatus.SUBMITTING) == []
    assert jobs.open_chunks(ChunkStatus.FAILED) == []  # terminal chunks are not open


def test_record_sync_status_says_what_sync_said_and_changes_nothing_else(jobs):
    c = a_chunk("job-1", 1)
    jobs.put_chunk(c)
    assert jobs.record_sync_status(c, "PROCESSING", now=at(1)) is True
    stored = stored_chunk(jobs, c)
    assert (stored.last_sync_status, stored.status, stored.updated_at) == (
        "PROCESSING",
        ChunkStatus.QUEUED,
        T0,
    )
    assert jobs.record_sync_status(a_chunk("job-1", 9), "COMPLETED", now=at(1)) is False


def test_record_batch_status_only_for_the_chunks_own_batch(jobs):
    c = a_chunk("job-1", 1)
    jobs.put_chunk(c)
    assert jobs.record_batch_status("job-1", 1, "batch_1", "COMPLETED", now=T0) is False
    jobs.claim_for_submission(c, limit=1, now=T0)
    assert jobs.record_batch_status("job-1", 1, "batch_1", "COMPLETED", now=T0) is False
    jobs.mark_submitted(c, "batch_1", now=T0)
    assert jobs.record_batch_status("job-1", 1, "batch_2", "COMPLETED", now=T0) is False
    assert jobs.record_batch_status("job-1", 2, "batch_1", "COMPLETED", now=T0) is False
    assert stored_chunk(jobs, c).last_sync_status == ""
    assert jobs.record_batch_status("job-1", 1, "batch_1", "COMPLETED", now=T0) is True
    stored = stored_chunk(jobs, c)
    assert (stored.last_sync_status, stored.status) == ("COMPLETED", ChunkStatus.SUBMITTED)


def test_touch_submitted_moves_the_chunk_to_the_back_of_the_poll_order(jobs):
    a, b = a_chunk("job-1", 1), a_chunk("job-1", 2)
    submitted(jobs, a, "batch_a", at(1))
    submitted(jobs, b, "batch_b", at(2))
    assert [c.number for c in jobs.open_chunks(ChunkStatus.SUBMITTED)] == [1, 2]
    assert jobs.touch_submitted(a, now=at(30)) is True
    assert [c.number for c in jobs.open_chunks(ChunkStatus.SUBMITTED)] == [2, 1]
    assert [c.number for c in jobs.open_chunks(ChunkStatus.SUBMITTED, before=at(10))] == [2]
    # Checking on a batch is not a transition: the chunk's own times stay as they were.
    stored = stored_chunk(jobs, a)
    assert (stored.status, stored.updated_at, stored.submitted_at) == (
        ChunkStatus.SUBMITTED,
        at(1),
        at(1),
    )


def test_touch_submitted_only_touches_submitted_chunks(jobs):
    c = a_chunk("job-1", 1)
    jobs.put_chunk(c)
    assert jobs.touch_submitted(c, now=at(30)) is False  # only SUBMITTED chunks are polled
    assert [x.number for x in jobs.open_chunks(ChunkStatus.QUEUED, before=at(1))] == [1]
    jobs.claim_for_submission(c, limit=1, now=at(1))
    assert jobs.touch_submitted(c, now=at(30)) is False
    jobs.mark_submitted(c, "batch_1", now=at(2))
    jobs.fail_chunk(c, "gone", now=at(3))
    assert jobs.touch_submitted(c, now=at(30)) is False
    assert jobs.open_chunks(ChunkStatus.SUBMITTED) == []


def test_close_chunk_ends_it_once_and_frees_its_slot(jobs):
    c = a_chunk("job-1", 1)
    submitted(jobs, c, "batch_1", at(1))
    assert jobs.close_chunk(c, ChunkStatus.COMPLETED, completed=19, failed=1, now=at(2)) is True
    assert jobs.close_chunk(c, ChunkStatus.COMPLETED, completed=19, failed=1, now=at(3)) is False
    stored = stored_chunk(jobs, c)
    assert (stored.status, stored.results_written, stored.updated_at) == (
        ChunkStatus.COMPLETED,
        True,
        at(2),
    )
    assert (stored.copies_enqueued, stored.copies_done) == (True, True)  # nothing to copy
    assert jobs.open_batch_holders() == set()
    assert jobs.open_chunks(ChunkStatus.SUBMITTED) == []


def test_close_chunk_only_from_submitted_or_failed(jobs):
    c = a_chunk("job-1", 1)
    jobs.create_job(a_job())
    jobs.put_chunk(c)
    assert jobs.close_chunk(c, ChunkStatus.COMPLETED, completed=20, failed=0, now=T0) is False
    jobs.claim_for_submission(c, limit=1, now=T0)
    assert jobs.close_chunk(c, ChunkStatus.COMPLETED, completed=20, failed=0, now=T0) is False
    assert stored_chunk(jobs, c).status is ChunkStatus.SUBMITTING
    refused = a_chunk("job-1", 2)
    jobs.put_chunk(refused)
    jobs.fail_chunk(refused, "Sync refused the batch", now=T0)
    assert jobs.close_chunk(refused, ChunkStatus.FAILED, completed=0, failed=20, now=T0) is True
    assert jobs.close_chunk(refused, ChunkStatus.FAILED, completed=0, failed=20, now=T0) is False
    assert stored_chunk(jobs, refused).results_written is True


def test_close_chunk_with_copies_to_make_and_their_row_range(jobs):
    c = a_chunk("job-1", 1)
    submitted(jobs, c, "batch_1", T0)
    keys = (row_key(2), row_key(21))
    assert jobs.close_chunk(
        c, ChunkStatus.COMPLETED, completed=20, failed=0, now=T0, copies=20, row_keys=keys
    )
    stored = stored_chunk(jobs, c)
    assert (stored.copies_enqueued, stored.copies_done) == (False, False)
    assert (stored.first_row_key, stored.last_row_key) == keys
    jobs.mark_copies_enqueued(c)
    assert stored_chunk(jobs, c).copies_enqueued is True


def test_mark_copies_enqueued_on_an_unknown_chunk_changes_nothing(jobs):
    jobs.put_chunk(a_chunk("job-1", 1))
    jobs.mark_copies_enqueued(a_chunk("job-1", 2))
    assert [c.number for c in jobs.job_chunks("job-1")] == [1]
    assert jobs.get_chunk("job-1", 2) is None


# --- the one email ---------------------------------------------------------------------------
def test_one_report_claim_at_a_time_until_it_goes_stale(jobs):
    jobs.create_job(a_job())
    assert jobs.claim_report("job-1", "a", now=T0, stale_before=T0 - LEASE)
    later = at(5)
    assert not jobs.claim_report("job-1", "b", now=later, stale_before=later - LEASE)
    much_later = at(20)
    assert jobs.claim_report("job-1", "c", now=much_later, stale_before=much_later - LEASE)
    assert jobs.finish_report("job-1", "a", JobStatus.COMPLETED, now=much_later) is False
    assert jobs.finish_report("job-1", "c", JobStatus.COMPLETED, now=much_later) is True
    assert jobs.finish_report("job-1", "c", JobStatus.COMPLETED, now=much_later) is False
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert (stored.status, stored.notified_at) == (JobStatus.COMPLETED, much_later)
    # Once the email is out, no claim ever again, however stale.
    never = at(10_000)
    assert not jobs.claim_report("job-1", "d", now=never, stale_before=never)


def test_claim_report_of_an_unknown_job_is_false(jobs):
    assert jobs.claim_report("ghost", "a", now=T0, stale_before=T0 - LEASE) is False
    assert jobs.stale_reports(before=at(60)) == []
    assert jobs.get_job("ghost") is None


def test_stale_reports_oldest_claim_first_until_finished(jobs):
    for job_id, minutes in [("job-b", 1), ("job-a", 2), ("job-c", 3)]:
        jobs.create_job(a_job(job_id))
        assert jobs.claim_report(job_id, "t", now=at(minutes), stale_before=T0 - LEASE)
    assert jobs.stale_reports(before=at(2.5)) == ["job-b", "job-a"]
    assert jobs.stale_reports(before=at(10), limit=2) == ["job-b", "job-a"]
    # A claim taken again after going stale is as young as its new time.
    assert jobs.claim_report("job-b", "u", now=at(30), stale_before=at(30) - LEASE)
    assert jobs.stale_reports(before=at(31)) == ["job-a", "job-c", "job-b"]
    assert jobs.finish_report("job-a", "t", JobStatus.COMPLETED, now=at(32)) is True
    assert jobs.stale_reports(before=at(60)) == ["job-c", "job-b"]


# --- the results table -------------------------------------------------------------------------
def row(n: int, **extra: Any) -> dict[str, object]:
    return {"row_key": row_key(n), "row_number": n, "status": "COMPLETED", **extra}


def test_results_come_back_in_row_order_with_their_job(results):
    assert results.put_rows("job-1", [row(10), row(2), row(3, error=None)]) == 3
    assert results.put_rows("job-2", [row(2)]) == 1
    items = list(results.job_rows("job-1"))
    assert [i["row_key"] for i in items] == [row_key(2), row_key(3), row_key(10)]
    assert {i["job_id"] for i in items} == {"job-1"}
    assert "error" not in items[1]  # None is not stored
    assert list(results.job_rows("job-3")) == []


def test_results_numbers_come_back_as_dynamodb_gives_them(results):
    results.put_rows("job-1", [row(2, duration=Decimal("1.5"))])
    (item,) = results.job_rows("job-1")
    assert item["row_number"] == 2
    assert isinstance(item["row_number"], Decimal)
    assert item["duration"] == Decimal("1.5")


def test_results_refuse_floats(results):
    with pytest.raises(TypeError):
        results.put_rows("job-1", [row(2, duration=1.5)])


def test_putting_a_row_again_replaces_it(results):
    results.put_rows("job-1", [row(2, status="PENDING")])
    results.put_rows("job-1", [row(2, status="FAILED")])
    (item,) = results.job_rows("job-1")
    assert item["status"] == "FAILED"


def test_get_row(results):
    results.put_rows("job-1", [row(2)])
    item = results.get_row("job-1", row_key(2))
    assert item is not None
    assert (item["job_id"], item["row_key"], item["status"]) == ("job-1", row_key(2), "COMPLETED")
    assert results.get_row("job-1", row_key(3)) is None
    assert results.get_row("job-2", row_key(2)) is None
