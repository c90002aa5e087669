"""Copy one finished video from Sync's expiring link into the bucket, as its own unit of work."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.domain.services import Services
from syncdrop.errors import SyncdropError, TransientError
from syncdrop.jobs import output_key
from syncdrop.messages import BadMessage, ResultsMessage

logger = Logger(service="syncdrop", child=True)


class CopyOutcome(StrEnum):
    COPIED = "COPIED"
    GAVE_UP = "GAVE_UP"  # recorded as failed; the row keeps Sync's link
    ALREADY_DONE = "ALREADY_DONE"


@dataclass(frozen=True, slots=True)
class CopyTask:
    job_id: str
    chunk: int
    row_key: str
    prefix: str | None = None  # outputs/<name>/ of the job, so a copy need not read the job

    @classmethod
    def from_json(cls, text: str) -> CopyTask:
        try:
            body = json.loads(text)
            prefix = body.get("prefix")
            return cls(
                job_id=str(body["job_id"]),
                chunk=int(body["chunk"]),
                row_key=str(body["row_key"]),
                prefix=str(prefix) if prefix else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadMessage(f"not a copy task: {exc}") from exc


def copy_output(services: Services, task: CopyTask, *, last_attempt: bool) -> CopyOutcome:
    """Stream the video into ``outputs/<name>/<request_id>.mp4`` and record it once.

    A failure is retried by the queue; on the last attempt any failure is recorded (the row
    keeps Sync's link and says why) so the job can still finish with its one email.
    """
    row = services.results.get_row(task.job_id, task.row_key)
    if row is None or row.get("copy_status") != "PENDING":
        # Also a redelivery after a crash between recording and marking the chunk: repair it.
        _chunk_may_be_done(services, task)
        return CopyOutcome.ALREADY_DONE
    if task.prefix:
        key = f"{task.prefix}{row['request_id']}.mp4"
    else:
        job = services.jobs.get_job(task.job_id)
        if job is None:
            return CopyOutcome.ALREADY_DONE
        key = output_key(job.upload.key, str(row["request_id"]))
    error: str | None = None
    try:
        with services.downloads().file_chunks(str(row["output_url"])) as chunks:
            services.objects.put_stream(key, chunks, "video/mp4")
    except TransientError as exc:
        if not last_attempt:
            raise
        error = f"The video could not be copied into the bucket: {exc}"
    except SyncdropError as exc:  # e.g. a link to a host syncdrop does not fetch from
        error = f"The video could not be copied into the bucket: {exc}"
    except Exception as exc:  # anything else: retried, and final on the last attempt
        if not last_attempt:
            raise
        logger.exception("copy failed", extra={"job_id": task.job_id, "row": task.row_key})
        error = f"The video could not be copied into the bucket ({type(exc).__name__})."
    uri = None if error else f"s3://{services.objects.bucket}/{key}"
    recorded = services.copy_ledger().record_copy(
        task.job_id, task.chunk, task.row_key, s3_uri=uri, error=error
    )
    crash_points.reached(crash_points.COPY_AFTER_RECORDED)
    _chunk_may_be_done(services, task)
    if not recorded:
        return CopyOutcome.ALREADY_DONE
    if error:
        logger.warning("video not copied", extra={"job_id": task.job_id, "row": task.row_key})
        return CopyOutcome.GAVE_UP
    return CopyOutcome.COPIED


def _chunk_may_be_done(services: Services, task: CopyTask) -> None:
    """When none of the chunk's copies is PENDING any more, mark it and wake the report.

    Each worker counts after its own write, with a consistent read, so the one that records
    the last copy sees none left; two that both see none only send one message too many.
    """
    chunk = services.jobs.get_chunk(task.job_id, task.chunk)
    if chunk is None or chunk.copies_done or not chunk.results_written:
        return
    ledger = services.copy_ledger()
    if not chunk.first_row_key or ledger.copies_pending(
        task.job_id, chunk.first_row_key, chunk.last_row_key
    ):
        return
    ledger.mark_copies_done(task.job_id, task.chunk)
    services.queue().send(ResultsMessage.for_job(task.job_id))
