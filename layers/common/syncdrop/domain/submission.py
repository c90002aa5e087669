"""Submit QUEUED chunks to Sync while batch capacity allows (design invariants 2 and 4)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.domain.media_links import presign_media_links
from syncdrop.domain.services import Services
from syncdrop.errors import (
    SyncAuthError,
    SyncBackPressure,
    SyncNotSent,
    SyncOutcomeUnknown,
    SyncRateLimited,
    SyncRejected,
    SyncUnavailable,
)
from syncdrop.jobs import Chunk, ChunkStatus
from syncdrop.messages import ResultsMessage
from syncdrop.ports import Claim
from syncdrop.sync_models import Batch
from syncdrop.webhook_url import webhook_url_for

logger = Logger(service="syncdrop", child=True)


@dataclass(slots=True)
class SubmissionReport:
    submitted: list[str] = field(default_factory=list)  # batch ids
    left_queued: int = 0
    unknown: int = 0  # chunks left SUBMITTING for the reconciler
    failed: int = 0
    stopped_by: str = ""  # why submission stopped early: capacity, back-pressure, outage


def submit_chunks(
    services: Services,
    candidates: Iterable[Chunk],
    *,
    batch_concurrency: int,
    webhook_base: str,
) -> SubmissionReport:
    """Try each QUEUED candidate in order; stop at the first sign that capacity is used up."""
    report = SubmissionReport()
    pending = [c for c in candidates if c.status is ChunkStatus.QUEUED]
    for index, chunk in enumerate(pending):
        if report.stopped_by:
            report.left_queued += len(pending) - index
            break
        claim = services.jobs.claim_for_submission(
            chunk, limit=batch_concurrency, now=services.clock()
        )
        if claim is Claim.NOT_QUEUED:
            continue
        if claim is Claim.NO_CAPACITY:
            report.stopped_by = "capacity"
            report.left_queued += len(pending) - index
            break
        _submit_claimed(services, chunk, webhook_base, report)
    return report


def _submit_claimed(
    services: Services, chunk: Chunk, webhook_base: str, report: SubmissionReport
) -> None:
    """POST one claimed chunk and record the outcome; never repeat the POST here."""
    jobs = services.jobs
    log = {"job_id": chunk.job_id, "chunk": chunk.number}
    try:
        jsonl = presign_media_links(
            services.objects.get_bytes(chunk.input_key), services.objects.presign_get
        )
    except Exception:
        jobs.release_to_queue(chunk, "chunk file could not be read", now=services.clock())
        raise
    try:
        answer = services.sync.create_batch(
            jsonl,
            webhook_url=webhook_url_for(webhook_base, chunk.job_id, chunk.number),
            filename=f"{chunk.job_id}-{chunk.number:05d}.jsonl",
        )
    except SyncBackPressure as exc:
        # Sync's own cap is lower than ours (other batches on the account): wait, don't fail.
        jobs.release_to_queue(chunk, f"Sync concurrency limit: {exc.message}", now=services.clock())
        report.left_queued += 1
        report.stopped_by = "back-pressure"
        logger.info("Sync batch concurrency reached; chunk stays queued", extra=log)
        return
    except (SyncRateLimited, SyncNotSent, SyncUnavailable) as exc:
        # The batch provably was not created: back to the queue for the next attempt.
        jobs.release_to_queue(chunk, str(exc), now=services.clock())
        report.left_queued += 1
        report.stopped_by = "outage"
        logger.warning("Sync unavailable; chunk stays queued", extra={**log, "error": str(exc)})
        return
    except SyncOutcomeUnknown as exc:
        report.unknown += 1
        report.stopped_by = "outage"
        logger.warning(
            "batch creation outcome unknown; left SUBMITTING for the reconciler",
            extra={**log, "error": str(exc)},
        )
        return
    except SyncAuthError as exc:
        # A wrong or revoked key is fixed by updating the secret: keep the work queued.
        jobs.release_to_queue(chunk, exc.message, now=services.clock())
        report.left_queued += 1
        report.stopped_by = "account"
        logger.error("Sync refused the API key; chunks stay queued", extra=log)
        return
    except SyncRejected as exc:
        jobs.fail_chunk(chunk, f"Sync refused the batch: {exc.message}", now=services.clock())
        # Its rows still need their FAILED results and the job its report.
        services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
        report.failed += 1
        logger.error("Sync refused the batch", extra={**log, "status": exc.status})
        if exc.status == 402:
            report.stopped_by = "account"  # every other chunk would be refused the same way
        return
    crash_points.reached(crash_points.AFTER_CREATE_BEFORE_RECORD)
    if not isinstance(answer, Batch):
        # A dry-run answer to a real submission: Sync created nothing, so try again later.
        jobs.release_to_queue(
            chunk, "Sync answered a submission as a dry run", now=services.clock()
        )
        report.left_queued += 1
        report.stopped_by = "outage"
        return
    if jobs.mark_submitted(chunk, answer.id, now=services.clock()):
        report.submitted.append(answer.id)
        logger.info("batch submitted", extra={**log, "batch_id": answer.id})
    else:  # the reconciler adopted it meanwhile; the batch exists once either way
        logger.warning("chunk moved on while submitting", extra={**log, "batch_id": answer.id})


def submit_ready_chunks(
    services: Services, *, batch_concurrency: int, webhook_base: str, job_id: str | None = None
) -> SubmissionReport:
    """Submit QUEUED chunks: one job's in order, or the oldest across all jobs."""
    if job_id is not None:
        candidates = services.jobs.job_chunks(job_id)
    else:
        candidates = services.jobs.open_chunks(ChunkStatus.QUEUED, limit=batch_concurrency * 4)
    return submit_chunks(
        services, candidates, batch_concurrency=batch_concurrency, webhook_base=webhook_base
    )
