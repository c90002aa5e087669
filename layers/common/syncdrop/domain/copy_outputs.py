"""Copy one finished video from Sync's expiring link into the bucket, as its own unit of work."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from aws_lambda_powertools import Logger

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

    A failure is retried by the queue; on the last attempt it is recorded (the row keeps
    Sync's link and says why) so the job can still finish with its one email.
    """
    row = services.results.get_row(task.job_id, task.row_key)
    if row is None or row.get("copy_status") != "PENDING":
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
    ledger = services.copy_ledger()
    uri = None if error else f"s3://{services.objects.bucket}/{key}"
    if not ledger.record_copy(task.job_id, task.chunk, task.row_key, s3_uri=uri, error=error):
        return CopyOutcome.ALREADY_DONE
    chunk = services.jobs.get_chunk(task.job_id, task.chunk)
    if chunk is not None and chunk.copies_pending <= 0:
        # The chunk's last copy: the job may be over now.
        services.queue().send(ResultsMessage.for_job(task.job_id))
    if error:
        logger.warning("video not copied", extra={"job_id": task.job_id, "row": task.row_key})
        return CopyOutcome.GAVE_UP
    return CopyOutcome.COPIED
