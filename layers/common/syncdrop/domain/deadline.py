"""A job past its deadline is finished with what is known, so its one email does go out.

Every row gets an outcome first: rows never sent fail, rows Sync has not finished become
TIMED_OUT (their chunk stays open, so a batch that finishes later still lands), and a file
that could not be read fails with a reason the person can act on.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from syncdrop.domain.services import Services
from syncdrop.jobs import ChunkStatus, Job, JobStatus

if TYPE_CHECKING:
    from syncdrop.domain.fan_out import FanOutPolicy

logger = Logger(service="syncdrop", child=True)

NOT_COPIED = (
    "The video was not copied into the bucket before the job's deadline; the link is Sync's "
    "own and expires."
)


def deadline_hours(job: Job) -> int:
    if job.deadline is None:
        return 0
    return round((job.deadline - job.created_at).total_seconds() / 3600)


def timed_out_reason(job: Job) -> str:
    return (
        f"Sync had not finished this row when the job's deadline passed ({deadline_hours(job)} h "
        "after the upload). If Sync finishes it later, this results file is updated."
    )


def never_sent_reason(job: Job) -> str:
    return (
        f"Never sent to Sync: the job's deadline passed ({deadline_hours(job)} h after the "
        "upload) while this row waited for a free batch slot. Upload it again in a new file."
    )


def unread_reason(job: Job) -> str:
    return (
        f"syncdrop could not finish reading this file before its deadline "
        f"({deadline_hours(job)} h after the upload): every attempt to read it failed. "
        "Upload it again; if it fails again, quote the job id when you ask for help."
    )


def close_out(services: Services, job: Job, now: datetime, fan_out: FanOutPolicy) -> Job:
    """Give every row of a job past its deadline an outcome (idempotent); the job as it is now.

    Raises a TransientError when a chunk is busy elsewhere: the message comes back later.
    """
    if job.status is JobStatus.RECEIVED:  # intake never finished (its message is in the DLQ)
        failed = replace(job, status=JobStatus.FAILED, message=unread_reason(job))
        services.jobs.finish_intake(failed)
        fail_queued_chunks(services, job.job_id, unread_reason(job), now)
        logger.warning("file never read by its deadline", extra={"job_id": job.job_id})
        return services.jobs.get_job(job.job_id) or failed
    if job.status is not JobStatus.RUNNING:
        return job
    # Imported here: intake uses this module too, and the fan-out code has no place in its
    # cold start.
    from syncdrop.domain.fan_out import fan_out_chunk, time_out_rows

    for chunk in services.jobs.job_chunks(job.job_id):
        if chunk.results_written:
            continue
        if chunk.status is ChunkStatus.QUEUED:
            services.jobs.fail_queued_chunk(chunk, never_sent_reason(job), now=now)
            chunk = services.jobs.get_chunk(job.job_id, chunk.number) or chunk
        if chunk.status is ChunkStatus.FAILED:
            fan_out_chunk(services, job.job_id, chunk.number, fan_out)  # its rows say why
        elif chunk.status in (ChunkStatus.SUBMITTING, ChunkStatus.SUBMITTED):
            time_out_rows(services, chunk, timed_out_reason(job), fan_out)
    logger.warning("job finished at its deadline", extra={"job_id": job.job_id})
    return job


def fail_queued_chunks(services: Services, job_id: str, reason: str, now: datetime) -> None:
    """A job that ends without its chunks (its file failed): none of them may reach Sync."""
    for chunk in services.jobs.job_chunks(job_id):
        if chunk.status is ChunkStatus.QUEUED:
            services.jobs.fail_queued_chunk(chunk, reason, now=now)
