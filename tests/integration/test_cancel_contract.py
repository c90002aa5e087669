"""The cancel request and the claims it stops, on the fake and on DynamoDB (moto): a chunk is
claimed before the request or never, and a queued one closes CANCELLED, counted once."""

from __future__ import annotations

from dataclasses import replace

from syncdrop.jobs import ChunkStatus, JobStatus
from syncdrop.ports import Claim
from tests.integration.test_store_contract import (  # noqa: F401 - fixtures
    T0,
    a_chunk,
    a_job,
    at,
    jobs,
    stored_chunk,
    stores,
)


def running(jobs, job_id="job-1", chunks=3):  # noqa: F811
    job = jobs.create_job(a_job(job_id))
    for n in range(1, chunks + 1):
        jobs.put_chunk(a_chunk(job_id, n))
    assert jobs.finish_intake(replace(job, status=JobStatus.RUNNING, chunk_count=chunks))


def test_no_chunk_is_claimed_once_the_job_is_cancelled(jobs):  # noqa: F811
    running(jobs)
    first = a_chunk("job-1", 1)
    assert jobs.claim_for_submission(first, limit=5, now=at(1)) is Claim.CLAIMED

    assert jobs.request_cancel("job-1", "alice at 2026-11-29 10:02:00 UTC")

    second = a_chunk("job-1", 2)
    assert jobs.claim_for_submission(second, limit=5, now=at(3)) is Claim.CANCELLED
    assert stored_chunk(jobs, second).status is ChunkStatus.QUEUED
    # The slot it would have taken is still free: only chunk 1 holds one.
    assert jobs.open_batch_holders() == {first.holder}
    # Another job's chunks are claimed as before.
    running(jobs, "job-2", chunks=1)
    assert jobs.claim_for_submission(a_chunk("job-2", 1), limit=5, now=at(3)) is Claim.CLAIMED


def test_cancel_twice_keeps_the_first_request(jobs):  # noqa: F811
    running(jobs)
    assert jobs.request_cancel("job-1", "alice at 10:02")
    assert jobs.request_cancel("job-1", "bob at 10:05")
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert stored.cancel_requested == "alice at 10:02"


def test_a_finished_or_unknown_job_cannot_be_cancelled(jobs):  # noqa: F811
    assert not jobs.request_cancel("job-9", "alice")
    running(jobs)
    assert jobs.claim_report("job-1", "token", now=at(5), stale_before=at(-10))
    assert not jobs.request_cancel("job-1", "alice")  # its report is being written
    assert jobs.finish_report("job-1", "token", JobStatus.COMPLETED, now=at(6))
    assert not jobs.request_cancel("job-1", "alice")
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert stored.cancel_requested == ""


def test_a_queued_chunk_closes_cancelled_and_is_counted_once(jobs):  # noqa: F811
    running(jobs)
    claimed = a_chunk("job-1", 1)
    assert jobs.claim_for_submission(claimed, limit=5, now=at(1)) is Claim.CLAIMED
    assert jobs.request_cancel("job-1", "alice")

    assert jobs.cancel_queued_chunk(a_chunk("job-1", 2), now=at(2))
    assert not jobs.cancel_queued_chunk(a_chunk("job-1", 2), now=at(3))  # once
    assert not jobs.cancel_queued_chunk(claimed, now=at(3))  # claimed before: it goes on

    closed = stored_chunk(jobs, a_chunk("job-1", 2))
    assert closed.status is ChunkStatus.CANCELLED
    assert closed.results_written
    assert closed.copies_done
    job = jobs.get_job("job-1")
    assert job is not None
    assert job.chunks_closed == 1
    assert stored_chunk(jobs, claimed).status is ChunkStatus.SUBMITTING


def test_the_retried_job_is_recorded_at_intake(jobs):  # noqa: F811
    job = jobs.create_job(a_job())
    assert jobs.finish_intake(replace(job, status=JobStatus.RUNNING, retry_of="job-" + "a" * 24))
    stored = jobs.get_job("job-1")
    assert stored is not None
    assert stored.retry_of == "job-" + "a" * 24
    assert stored.created_at == T0
