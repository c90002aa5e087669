"""A cancelled job (`syncdrop cancel`): its queued chunks never reach Sync and their rows say
so; batches already at Sync finish and are collected as usual; the job ends CANCELLED.

The cancel request is one conditional write on the job item, and every claim of a chunk for
submission is a transaction that checks that item: a chunk is either claimed before the
request (it goes to Sync and finishes) or never (whoever sees it QUEUED closes it here).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from syncdrop.domain.fan_out import failed, read_manifest, result_item
from syncdrop.domain.services import Services
from syncdrop.jobs import ChunkStatus, Job, JobStatus
from syncdrop.report import RowStatus

logger = Logger(service="syncdrop", child=True)

CANCELLED_CODE = "CANCELLED"


def cancelled_reason(job: Job) -> str:
    """What a row that was never sent says in the results CSV."""
    return f"Never sent to Sync: cancelled by {job.cancel_requested}."


def close_cancelled_chunks(services: Services, job: Job) -> int:
    """Close every QUEUED chunk of a cancelled job: its rows CANCELLED with the reason, then
    the chunk CANCELLED and counted closed. Idempotent; how many chunks it closed now.

    A chunk claimed before the request is SUBMITTING by now: the close fails and its
    fan-out later writes the rows over with Sync's outcome.
    """
    if not job.cancel_requested or job.status is not JobStatus.RUNNING:
        return 0
    reason = cancelled_reason(job)
    closed = 0
    for chunk in services.jobs.job_chunks(job.job_id):
        if chunk.status is not ChunkStatus.QUEUED or chunk.results_written:
            continue
        # Rows first: a job counted as over must find every row written.
        items = [
            result_item(
                row,
                failed(row.request_id, reason, CANCELLED_CODE, status=RowStatus.CANCELLED),
                chunk,
            )
            for row in read_manifest(services, chunk)
        ]
        services.results.put_rows(job.job_id, items)
        if services.jobs.cancel_queued_chunk(chunk, now=services.clock()):
            closed += 1
    if closed:
        logger.info("queued chunks cancelled", extra={"job_id": job.job_id, "chunks": closed})
    return closed
