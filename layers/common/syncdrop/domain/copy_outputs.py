"""Copy a slice of a chunk's finished videos from Sync's expiring links into the bucket.

One task is a slice of a chunk's rows (copy_tasks.py): its videos are copied side by side on
threads sharing one HTTP client and one S3 client, recorded with one transaction, the next
slice of its chain is queued, and the slice is closed on the chunk; whoever closes the chunk's
last slice marks it done and wakes the report. Every step is safe to repeat: a redelivered
task skips the rows it recorded.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.copy_tasks import CopyTask
from syncdrop.domain.services import Services
from syncdrop.errors import SyncdropError, TransientError
from syncdrop.jobs import outputs_prefix
from syncdrop.messages import ResultsMessage
from syncdrop.ports import CopyRecord

logger = Logger(service="syncdrop", child=True)

__all__ = ["CopyTask", "SliceOutcome", "copy_slice"]

# Videos copied at once by one worker: downloads and uploads wait on the network, not the CPU.
DEFAULT_THREADS = 8


@dataclass(frozen=True, slots=True)
class SliceOutcome:
    copied: int = 0
    gave_up: int = 0  # recorded as failed; those rows keep Sync's link
    already_done: int = 0  # closed by an earlier delivery, or nothing to copy


@dataclass(frozen=True, slots=True)
class _Copied:
    record: CopyRecord | None  # None: failed now, to be retried by the queue
    retry: BaseException | None = None


def copy_slice(
    services: Services, task: CopyTask, *, last_attempt: bool, threads: int = DEFAULT_THREADS
) -> SliceOutcome:
    """Stream each pending video of the slice into ``outputs/<name>/<request_id>.mp4``.

    A failure is retried by the queue (the rows copied meanwhile stay recorded); on the last
    attempt any failure is recorded (the row keeps Sync's link and says why) so the job can
    still finish with its one email.
    """
    ledger = services.copy_ledger()
    rows = ledger.rows(task.job_id, task.row_keys)
    pending = [rows[k] for k in task.row_keys if rows.get(k, {}).get("copy_status") == "PENDING"]
    already = len(task.row_keys) - len(pending)
    prefix = _prefix(services, task) if pending else None
    if pending and prefix is None:  # the job is gone: nothing to copy for
        return SliceOutcome(already_done=len(task.row_keys))
    results: list[_Copied] = []
    if pending:
        downloads = services.downloads()  # built once, before the threads share it
        with ThreadPoolExecutor(max_workers=max(1, min(threads, len(pending)))) as pool:
            results = list(
                pool.map(
                    lambda row: _copy_one(services, downloads, row, prefix, last_attempt),
                    pending,
                )
            )
    finished = [r.record for r in results if r.record is not None]
    recorded = ledger.record_copies(task.job_id, finished) if finished else set()
    crash_points.reached(crash_points.COPY_AFTER_RECORDED)
    retry = next((r.retry for r in results if r.retry is not None), None)
    if retry is not None:
        raise retry  # the queue delivers the slice again; its recorded rows are skipped then
    if (following := task.next_in_chain()) is not None:
        # Before the close: a crash between the two sends it again, never loses it.
        services.outputs().send_copies([following])
    _close(services, task, _videos(rows, finished, recorded))
    gave_up = sum(1 for r in finished if r.row_key in recorded and r.error)
    for record in finished:
        if record.error and record.row_key in recorded:
            logger.warning("video not copied", extra={"job_id": task.job_id, "row": record.row_key})
    return SliceOutcome(
        copied=len(recorded) - gave_up,
        gave_up=gave_up,
        already_done=already + len(finished) - len(recorded),
    )


def _prefix(services: Services, task: CopyTask) -> str | None:
    if task.prefix:
        return task.prefix
    job = services.jobs.get_job(task.job_id)  # a task without its prefix: the job names it
    return None if job is None else f"outputs/{outputs_prefix(job.upload.key)}/"


def _copy_one(
    services: Services, downloads: Any, row: dict[str, Any], prefix: str | None, last: bool
) -> _Copied:
    row_key = str(row["row_key"])
    key = f"{prefix}{row['request_id']}.mp4"
    error: str | None = None
    try:
        with downloads.file_chunks(str(row["output_url"])) as chunks:
            services.objects.put_stream(key, chunks, "video/mp4")
    except TransientError as exc:
        if not last:
            return _Copied(None, exc)
        error = f"The video could not be copied into the bucket: {exc}"
    except SyncdropError as exc:  # e.g. a link to a host syncdrop does not fetch from
        error = f"The video could not be copied into the bucket: {exc}"
    except Exception as exc:  # anything else: retried, and final on the last attempt
        if not last:
            return _Copied(None, exc)
        logger.exception("copy failed", extra={"row": row_key})
        error = f"The video could not be copied into the bucket ({type(exc).__name__})."
    uri = None if error else f"s3://{services.objects.bucket}/{key}"
    return _Copied(CopyRecord(row_key, uri, error))


def _videos(
    rows: dict[str, dict[str, Any]], finished: list[CopyRecord], recorded: set[str]
) -> tuple[int, int]:
    """The slice's videos once it is over, and how many of them were given up on: every row
    with a copy status, failed as recorded before or now (a row another delivery recorded
    meanwhile counts as copied)."""
    now_failed = {r.row_key for r in finished if r.error and r.row_key in recorded}
    videos = [key for key, row in rows.items() if "copy_status" in row]
    failed = sum(
        1 for key in videos if key in now_failed or rows[key]["copy_status"] == "COPY_FAILED"
    )
    return len(videos), failed


def _close(services: Services, task: CopyTask, videos: tuple[int, int] = (0, 0)) -> None:
    """Close the slice with its counts of videos; the one that closes the chunk's last slice
    marks it done and wakes the report (a redelivery that also sees them all only sends one
    message too many)."""
    ledger = services.copy_ledger()
    if task.slice is None or task.slices is None:
        _chunk_may_be_done(services, task)
        return
    progress = ledger.close_slice(
        task.job_id, task.chunk, task.slice, videos=videos[0], failed=videos[1]
    )
    if progress.copies_done or progress.slices_done < task.slices:
        return
    ledger.mark_copies_done(task.job_id, task.chunk)
    services.queue().send(ResultsMessage.for_job(task.job_id))


def _chunk_may_be_done(services: Services, task: CopyTask) -> None:
    """A task of the earlier one-row format: when none of the chunk's copies is PENDING any
    more (one consistent count after its own write), mark the chunk and wake the report."""
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
