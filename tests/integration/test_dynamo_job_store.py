"""The job table against moto, with the key schema and index template.yaml declares."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import Chunk, ChunkStatus, Job, JobStatus, UploadRef, chunk_keys
from syncdrop.ports import Claim

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.fixture
def store(moto_stack) -> DynamoJobStore:
    return DynamoJobStore(moto_stack.client("dynamodb"), moto_stack.ref("JobTable"))


def chunk(job_id: str, n: int, when: datetime = T0) -> Chunk:
    input_key, manifest_key = chunk_keys(job_id, n)
    return Chunk(job_id, n, ChunkStatus.QUEUED, 20, input_key, manifest_key, updated_at=when)


def job(job_id: str = "job-1") -> Job:
    upload = UploadRef("bucket", "incoming/a.csv", "v1", size=10)
    return Job(job_id=job_id, upload=upload, status=JobStatus.RECEIVED, created_at=T0)


def test_create_job_is_idempotent_and_returns_the_stored_job(store):
    first = store.create_job(job())
    first.status = JobStatus.RUNNING
    assert store.finish_intake(first)
    again = store.create_job(job())  # a redelivered event
    assert again.status is JobStatus.RUNNING  # the stored job, not the new one
    stored = store.get_job("job-1")
    assert stored is not None
    assert stored.upload.key == "incoming/a.csv"
    assert stored.upload.version_id == "v1"


def test_finish_intake_only_once(store):
    j = store.create_job(job())
    j.status, j.rows, j.valid, j.rejected, j.columns = JobStatus.RUNNING, 30, 28, 2, ["a", "b"]
    assert store.finish_intake(j) is True
    assert store.finish_intake(j) is False
    stored = store.get_job("job-1")
    assert stored is not None
    assert (stored.status, stored.rows, stored.valid, stored.rejected) == (
        JobStatus.RUNNING,
        30,
        28,
        2,
    )
    assert stored.columns == ["a", "b"]


def test_put_chunk_keeps_existing_state(store):
    c = chunk("job-1", 1)
    store.put_chunk(c)
    assert store.claim_for_submission(c, limit=3, now=T0) is Claim.CLAIMED
    store.put_chunk(c)  # a retried intake writes the same chunk again
    (stored,) = store.job_chunks("job-1")
    assert stored.status is ChunkStatus.SUBMITTING
    assert stored.attempts == 1


def test_claims_respect_the_limit_and_release_frees_a_slot(store):
    chunks = [chunk("job-1", n) for n in range(1, 5)]
    for c in chunks:
        store.put_chunk(c)
    results = [store.claim_for_submission(c, limit=2, now=T0) for c in chunks]
    assert results == [Claim.CLAIMED, Claim.CLAIMED, Claim.NO_CAPACITY, Claim.NO_CAPACITY]
    assert store.open_batch_holders() == {"job-1#1", "job-1#2"}
    assert store.release_to_queue(chunks[0], "429", now=T0) is True
    assert store.claim_for_submission(chunks[2], limit=2, now=T0) is Claim.CLAIMED
    assert store.claim_for_submission(chunks[0], limit=3, now=T0) is Claim.CLAIMED


def test_claiming_a_chunk_that_moved_on_says_so(store):
    c = chunk("job-1", 1)
    store.put_chunk(c)
    assert store.claim_for_submission(c, limit=3, now=T0) is Claim.CLAIMED
    assert store.claim_for_submission(c, limit=3, now=T0) is Claim.NOT_QUEUED


def test_transitions_are_conditional(store):
    c = chunk("job-1", 1)
    store.put_chunk(c)
    assert store.mark_submitted(c, "batch_1", now=T0) is False  # not SUBMITTING yet
    store.claim_for_submission(c, limit=3, now=T0)
    assert store.mark_submitted(c, "batch_1", now=T0) is True
    assert store.release_to_queue(c, "late 429", now=T0) is False  # SUBMITTED stays SUBMITTED
    (stored,) = store.job_chunks("job-1")
    assert (stored.status, stored.batch_id) == (ChunkStatus.SUBMITTED, "batch_1")
    assert store.fail_chunk(c, "Sync failed the batch", now=T0) is True
    assert store.open_batch_holders() == set()
    (stored,) = store.job_chunks("job-1")
    assert stored.error == "Sync failed the batch"


def test_open_chunks_index_oldest_first_and_sparse(store):
    for n, minutes in [(1, 5), (2, 1), (3, 3)]:
        store.put_chunk(chunk("job-1", n, T0 + timedelta(minutes=minutes)))
    queued = store.open_chunks(ChunkStatus.QUEUED)
    assert [c.number for c in queued] == [2, 3, 1]
    before = store.open_chunks(ChunkStatus.QUEUED, before=T0 + timedelta(minutes=4))
    assert [c.number for c in before] == [2, 3]
    c1 = queued[-1]
    store.claim_for_submission(c1, limit=3, now=T0)
    store.fail_chunk(c1, "x", now=T0)
    assert [c.number for c in store.open_chunks(ChunkStatus.QUEUED)] == [2, 3]
    assert store.open_chunks(ChunkStatus.FAILED) == []  # terminal chunks leave the index


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the workers never got there"
        time.sleep(0.001)


def test_concurrent_claims_never_exceed_the_limit(store, moto_world):
    # Real threads into moto through the world: one request in moto at a time, overlapping
    # transactions on the CAPACITY item cancelled as DynamoDB cancels them, and retried.
    chunks = [chunk(f"job-{j}", n) for j in range(3) for n in range(1, 5)]
    for c in chunks:
        store.put_chunk(c)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda c: store.claim_for_submission(c, limit=3, now=T0), chunks))
    assert results.count(Claim.CLAIMED) == 3
    assert results.count(Claim.NO_CAPACITY) == 9
    assert len(store.open_batch_holders()) == 3
    assert moto_world.stats["transactions"] >= 12


def test_conflicting_claims_are_retried_until_each_has_its_answer(store, moto_world):
    chunks = [chunk("job-1", n) for n in range(1, 7)]
    for c in chunks:
        store.put_chunk(c)
    # Hold moto while every worker starts: the first claim waits in flight on the CAPACITY
    # item, so each of the others is cancelled with a TransactionConflict at least once.
    with moto_world.lock, ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        claims = [pool.submit(store.claim_for_submission, c, limit=4, now=T0) for c in chunks]
        wait_for(lambda: moto_world.stats["transaction_conflicts"] >= len(chunks) - 1)
        moto_world.lock.release()  # let the held claim in; the others retry behind it
        try:
            results = [claim.result(timeout=30) for claim in claims]
        finally:
            moto_world.lock.acquire()
    assert sorted(results) == sorted([Claim.CLAIMED] * 4 + [Claim.NO_CAPACITY] * 2)
    assert len(store.open_batch_holders()) == 4
    claimed = [c for c, r in zip(chunks, results, strict=True) if r is Claim.CLAIMED]
    assert {c.holder for c in claimed} == store.open_batch_holders()
    assert all(store.get_chunk("job-1", c.number).attempts == 1 for c in claimed)


def test_a_write_to_an_item_a_transaction_holds_is_retried(store, moto_world):
    c = chunk("job-1", 1)
    store.put_chunk(c)
    store.claim_for_submission(c, limit=1, now=T0)
    transactions = moto_world.stats["transactions"]
    with moto_world.lock, ThreadPoolExecutor(max_workers=2) as pool:
        submitted = pool.submit(store.mark_submitted, c, "batch_1", now=T0)
        wait_for(lambda: moto_world.stats["transactions"] > transactions)  # now in flight
        status = pool.submit(store.record_sync_status, c, "PROCESSING", now=T0)
        wait_for(lambda: moto_world.stats["write_conflicts"] >= 1)
        moto_world.lock.release()
        try:
            assert submitted.result(timeout=30) is True
            assert status.result(timeout=30) is True
        finally:
            moto_world.lock.acquire()
    stored = store.get_chunk("job-1", 1)
    assert (stored.status, stored.last_sync_status) == (ChunkStatus.SUBMITTED, "PROCESSING")


def test_close_chunk_releases_capacity_once_and_marks_results_written(store):
    c = chunk("job-1", 1)
    store.create_job(job())
    store.put_chunk(c)
    store.claim_for_submission(c, limit=1, now=T0)
    store.mark_submitted(c, "batch_1", now=T0)
    assert store.close_chunk(c, ChunkStatus.COMPLETED, completed=19, failed=1, now=T0) is True
    assert store.close_chunk(c, ChunkStatus.COMPLETED, completed=19, failed=1, now=T0) is False
    stored = store.get_chunk("job-1", 1)
    assert stored is not None
    assert (stored.status, stored.results_written) == (ChunkStatus.COMPLETED, True)
    assert store.open_batch_holders() == set()
    assert store.open_chunks(ChunkStatus.SUBMITTED) == []


def test_record_sync_status_and_touch_submitted(store):
    c = chunk("job-1", 1)
    store.put_chunk(c)
    assert store.touch_submitted(c, now=T0) is False  # only SUBMITTED chunks are polled
    store.claim_for_submission(c, limit=1, now=T0)
    store.mark_submitted(c, "batch_1", now=T0)
    assert store.record_sync_status(c, "PROCESSING", now=T0) is True
    assert store.touch_submitted(c, now=T0 + timedelta(hours=1)) is True
    assert store.open_chunks(ChunkStatus.SUBMITTED, before=T0 + timedelta(minutes=30)) == []
    stored = store.get_chunk("job-1", 1)
    assert stored is not None
    assert stored.last_sync_status == "PROCESSING"
    missing = chunk("job-1", 9)
    assert store.record_sync_status(missing, "COMPLETED", now=T0) is False


def test_one_report_claim_at_a_time_until_it_goes_stale(store):
    store.create_job(job())
    assert store.claim_report("job-1", "a", now=T0, stale_before=T0 - timedelta(minutes=16))
    later = T0 + timedelta(minutes=5)
    assert not store.claim_report(
        "job-1", "b", now=later, stale_before=later - timedelta(minutes=16)
    )
    assert store.stale_reports(before=T0 + timedelta(minutes=1)) == ["job-1"]
    much_later = T0 + timedelta(minutes=20)
    assert store.claim_report(
        "job-1", "c", now=much_later, stale_before=much_later - timedelta(minutes=16)
    )
    assert store.finish_report("job-1", "a", JobStatus.COMPLETED, now=much_later) is False
    assert store.finish_report("job-1", "c", JobStatus.COMPLETED, now=much_later) is True
    stored = store.get_job("job-1")
    assert stored is not None
    assert (stored.status, stored.notified_at is not None) == (JobStatus.COMPLETED, True)
    assert store.stale_reports(before=much_later + timedelta(days=1)) == []
    assert not store.claim_report(
        "job-1", "d", now=much_later, stale_before=much_later + timedelta(days=1)
    )


def test_a_refused_chunk_is_closed_once(store):
    c = chunk("job-1", 1)
    store.create_job(job())
    store.put_chunk(c)
    store.fail_chunk(c, "Sync refused the batch", now=T0)
    assert store.close_chunk(c, ChunkStatus.FAILED, completed=0, failed=20, now=T0) is True
    assert store.close_chunk(c, ChunkStatus.FAILED, completed=0, failed=20, now=T0) is False
