"""A cancelled job: no queued chunk is claimed, queued rows end CANCELLED with who and when,
open batches finish, and the one email reports the cancellation."""

from __future__ import annotations

import csv
import io

from syncdrop.domain.cancel import cancelled_reason, close_cancelled_chunks
from syncdrop.domain.completion import handle_results_message
from syncdrop.domain.reporting import FinishOutcome, finish_job
from syncdrop.domain.submission import submit_ready_chunks
from syncdrop.jobs import ChunkStatus, JobStatus
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import BatchStatus
from tests.unit.test_completion import JOB, World, done

WHO = "arn:aws:iam::123456789012:user/alice at 2026-11-29 10:05:00 UTC"


def cancelled_world() -> World:
    """Three chunks of three rows: chunk 1 at Sync, chunks 2 and 3 queued, then cancelled."""
    world = World(chunks=3)
    world.submit(1, "batch_1")
    assert world.jobs.request_cancel(JOB, WHO)
    return world


def test_a_cancelled_jobs_queued_chunks_are_never_claimed():
    world = cancelled_world()

    report = submit_ready_chunks(world.services, batch_concurrency=5, webhook_base="", job_id=JOB)

    assert report.submitted == []
    assert world.sync.created == []
    assert [c.status for c in world.jobs.job_chunks(JOB)] == [
        ChunkStatus.SUBMITTED,
        ChunkStatus.QUEUED,
        ChunkStatus.QUEUED,
    ]
    # fan_out_results is asked to close them (it writes their rows).
    assert world.queue.sent == [ResultsMessage.for_job(JOB)]


def test_queued_rows_end_cancelled_with_who_and_when_and_the_open_batch_finishes():
    world = cancelled_world()
    job = world.jobs.get_job(JOB)
    assert job is not None

    assert close_cancelled_chunks(world.services, job) == 2
    assert close_cancelled_chunks(world.services, job) == 0  # idempotent

    rows = sorted(world.results.items.values(), key=lambda r: str(r["row_key"]))
    assert [r["request_id"] for r in rows] == [f"c{n}r{i}" for n in (2, 3) for i in (1, 2, 3)]
    assert {r["status"] for r in rows} == {"CANCELLED"}
    assert {r["error_message"] for r in rows} == {f"Never sent to Sync: cancelled by {WHO}."}
    assert cancelled_reason(job) == f"Never sent to Sync: cancelled by {WHO}."
    assert [c.status for c in world.jobs.job_chunks(JOB)][1:] == [ChunkStatus.CANCELLED] * 2
    # Not over yet: chunk 1 is still at Sync.
    assert finish_job(world.services, JOB) is FinishOutcome.NOT_YET
    assert world.notifier.published == []

    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [done(f"c1r{i}") for i in (1, 2, 3)])
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=5,
        webhook_base="",
    )
    for message in (ResultsMessage.for_job(JOB), ResultsMessage.for_chunk(JOB, 1, "batch_1")):
        handle_results_message(world.services, message, batch_concurrency=5, webhook_base="")

    (email,) = world.notifier.published
    assert world.jobs.jobs[JOB].status is JobStatus.CANCELLED
    assert email.subject == "syncdrop: cancelled: c.csv — 3 done, 6 not sent"
    assert email.attributes["status"] == "CANCELLED"
    assert email.attributes["cancelled"] == "6"
    assert "Cancelled" in email.body
    assert "alice" in email.body
    # Cancelled rows are not among the reasons rows failed.
    assert "Why rows did not become videos" not in email.body
    text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    header, *lines = list(csv.reader(io.StringIO(text)))
    statuses = [line[header.index("status")] for line in lines]
    assert statuses == ["COMPLETED"] * 3 + ["CANCELLED"] * 6
    assert {line[header.index("error_code")] for line in lines[3:]} == {"CANCELLED"}


def test_a_job_message_alone_finishes_a_cancelled_job_with_nothing_at_sync():
    world = World(chunks=2)
    assert world.jobs.request_cancel(JOB, WHO)

    handle_results_message(
        world.services, ResultsMessage.for_job(JOB), batch_concurrency=5, webhook_base=""
    )

    (email,) = world.notifier.published
    assert email.subject == "syncdrop: cancelled: c.csv — 0 done, 6 not sent"
    assert world.jobs.jobs[JOB].status is JobStatus.CANCELLED


def test_a_chunk_claimed_before_the_cancel_is_not_closed_by_it():
    world = World(chunks=1)
    chunk = world.jobs.get_chunk(JOB, 1)
    assert chunk is not None
    world.jobs.claim_for_submission(chunk, limit=5, now=world.now)  # SUBMITTING: maybe at Sync
    assert world.jobs.request_cancel(JOB, WHO)
    job = world.jobs.get_job(JOB)
    assert job is not None

    assert close_cancelled_chunks(world.services, job) == 0
    assert [c.status for c in world.jobs.job_chunks(JOB)] == [ChunkStatus.SUBMITTING]
    assert world.results.items == {}
    assert finish_job(world.services, JOB) is FinishOutcome.NOT_YET
