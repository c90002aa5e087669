"""Submit QUEUED chunks to Sync while capacity allows (design invariants 2 and 4): batches
under BatchConcurrency, single generations under GenerationConcurrency and the request pace."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.domain.generation_chunks import replace_with_generations
from syncdrop.domain.generation_submit import GenerationLimits, Verdict, post_generation
from syncdrop.domain.services import Services
from syncdrop.domain.sync_media import MediaRefused, with_assets_lines
from syncdrop.errors import (
    SyncAuthError,
    SyncBackPressure,
    SyncNotSent,
    SyncOutcomeUnknown,
    SyncRateLimited,
    SyncRejected,
    SyncUnavailable,
    TransientError,
)
from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus, SubmitMode
from syncdrop.messages import ResultsMessage
from syncdrop.ports import Claim
from syncdrop.sync_models import Batch
from syncdrop.webhook_url import webhook_url_for

logger = Logger(service="syncdrop", child=True)


@dataclass(slots=True)
class SubmissionReport:
    submitted: list[str] = field(default_factory=list)  # batch and generation ids
    left_queued: int = 0
    unknown: int = 0  # chunks left SUBMITTING for the reconciler
    failed: int = 0
    # Why each kind stopped early: batches and single generations stop for their own reasons.
    stopped: dict[ChunkKind, str] = field(default_factory=dict)
    # Why Sync refuses this account batches (402), once known in this run ("" when it does not).
    batch_refusal: str | None = None
    # Jobs whose chunks were refused a claim because the job was cancelled.
    cancelled_jobs: set[str] = field(default_factory=set)

    @property
    def stopped_by(self) -> str:
        """Why submission first stopped early (capacity, back-pressure, outage, ...), or ""."""
        return next(iter(self.stopped.values()), "")

    def stop(self, kind: ChunkKind, reason: str) -> None:
        if reason:
            self.stopped.setdefault(kind, reason)


def submit_chunks(
    services: Services,
    candidates: Iterable[Chunk],
    *,
    batch_concurrency: int,
    webhook_base: str,
    generation: GenerationLimits | None = None,
    mode: SubmitMode = SubmitMode.AUTO,
) -> SubmissionReport:
    """Try each QUEUED candidate in order; a kind stops at the first sign its capacity (or
    Sync's patience) is used up, and the other kind goes on."""
    limits = generation or GenerationLimits()
    report = SubmissionReport()
    pending = deque(c for c in candidates if c.status is ChunkStatus.QUEUED)
    while pending:
        chunk = pending.popleft()
        is_generation = chunk.kind is ChunkKind.GENERATION
        if not is_generation and mode is SubmitMode.AUTO and _refused_batches(services, report):
            pending.extend(_replace_unsent(services, chunk, report))
            continue
        if chunk.kind in report.stopped:
            report.left_queued += 1
            continue
        limit = limits.concurrency if is_generation else batch_concurrency
        claim = services.jobs.claim_for_submission(chunk, limit=limit, now=services.clock())
        if claim is Claim.NOT_QUEUED:
            continue
        if claim is Claim.CANCELLED:
            report.cancelled_jobs.add(chunk.job_id)
            continue
        if claim is Claim.NO_CAPACITY:
            report.stop(chunk.kind, "capacity")
            report.left_queued += 1
            continue
        if is_generation:
            _submit_generation(services, chunk, webhook_base, limits, report)
        else:
            replaced = _submit_claimed(services, chunk, webhook_base, report, mode)
            pending.extend(replaced)
    for job_id in sorted(report.cancelled_jobs):
        # fan_out_results closes a cancelled job's queued chunks (it writes their rows).
        services.queue().send(ResultsMessage.for_job(job_id))
    return report


def _refused_batches(services: Services, report: SubmissionReport) -> bool:
    if report.batch_refusal is None:
        report.batch_refusal = services.jobs.batch_refusal(now=services.clock()) or ""
    return bool(report.batch_refusal)


def _replace_unsent(services: Services, chunk: Chunk, report: SubmissionReport) -> list[Chunk]:
    """Sync refused this account batches lately: the chunk's rows go as generations unsent."""
    return replace_with_generations(services, chunk, report.batch_refusal or "")


def _submit_generation(
    services: Services,
    chunk: Chunk,
    webhook_base: str,
    limits: GenerationLimits,
    report: SubmissionReport,
) -> None:
    posted = post_generation(services, chunk, webhook_base, limits)
    if posted.verdict == Verdict.SUBMITTED:
        report.submitted.append(posted.generation_id)
    elif posted.verdict == Verdict.QUEUED:
        report.left_queued += 1
    elif posted.verdict == Verdict.UNKNOWN:
        report.unknown += 1
    else:
        report.failed += 1
    report.stop(ChunkKind.GENERATION, posted.stop)


def _submit_claimed(
    services: Services,
    chunk: Chunk,
    webhook_base: str,
    report: SubmissionReport,
    mode: SubmitMode = SubmitMode.AUTO,
) -> list[Chunk]:
    """POST one claimed chunk and record the outcome; never repeat the POST here. Returns the
    generation chunks that replace it when Sync refuses batches for the plan (auto mode)."""
    jobs = services.jobs
    log = {"job_id": chunk.job_id, "chunk": chunk.number}
    try:
        jsonl = with_assets_lines(services, services.objects.get_bytes(chunk.input_key))
    except MediaRefused as exc:
        jobs.fail_chunk(
            chunk, f"A row's media could not be sent to Sync: {exc.reason}", now=services.clock()
        )
        services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
        report.failed += 1
        return []
    except TransientError as exc:  # a media file being uploaded elsewhere, or a pause
        jobs.release_to_queue(chunk, str(exc), now=services.clock())
        report.left_queued += 1
        return []
    except SyncAuthError as exc:
        jobs.release_to_queue(chunk, exc.message, now=services.clock())
        report.left_queued += 1
        report.stop(ChunkKind.BATCH, "account")
        return []
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
        report.stop(ChunkKind.BATCH, "back-pressure")
        logger.info("Sync batch concurrency reached; chunk stays queued", extra=log)
        return []
    except (SyncRateLimited, SyncNotSent, SyncUnavailable) as exc:
        # The batch provably was not created: back to the queue for the next attempt.
        jobs.release_to_queue(chunk, str(exc), now=services.clock())
        report.left_queued += 1
        report.stop(ChunkKind.BATCH, "outage")
        logger.warning("Sync unavailable; chunk stays queued", extra={**log, "error": str(exc)})
        return []
    except SyncOutcomeUnknown as exc:
        report.unknown += 1
        report.stop(ChunkKind.BATCH, "outage")
        logger.warning(
            "batch creation outcome unknown; left SUBMITTING for the reconciler",
            extra={**log, "error": str(exc)},
        )
        return []
    except SyncAuthError as exc:
        # A wrong or revoked key is fixed by updating the secret: keep the work queued.
        jobs.release_to_queue(chunk, exc.message, now=services.clock())
        report.left_queued += 1
        report.stop(ChunkKind.BATCH, "account")
        report.stop(ChunkKind.GENERATION, "account")
        logger.error("Sync refused the API key; chunks stay queued", extra=log)
        return []
    except SyncRejected as exc:
        if exc.status == 402 and mode is SubmitMode.AUTO:
            # No Batch API on this plan: the rows go on as single generations.
            report.batch_refusal = exc.message
            return replace_with_generations(services, chunk, exc.message)
        jobs.fail_chunk(chunk, f"Sync refused the batch: {exc.message}", now=services.clock())
        # Its rows still need their FAILED results and the job its report.
        services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
        report.failed += 1
        logger.error("Sync refused the batch", extra={**log, "status": exc.status})
        if exc.status == 402:
            report.stop(ChunkKind.BATCH, "account")  # every other batch would be refused too
        return []
    crash_points.reached(crash_points.AFTER_CREATE_BEFORE_RECORD)
    if not isinstance(answer, Batch):
        # A dry-run answer to a real submission: Sync created nothing, so try again later.
        jobs.release_to_queue(
            chunk, "Sync answered a submission as a dry run", now=services.clock()
        )
        report.left_queued += 1
        report.stop(ChunkKind.BATCH, "outage")
        return []
    if jobs.mark_submitted(chunk, answer.id, now=services.clock()):
        report.submitted.append(answer.id)
        logger.info("batch submitted", extra={**log, "batch_id": answer.id})
    else:  # the reconciler adopted it meanwhile; the batch exists once either way
        logger.warning("chunk moved on while submitting", extra={**log, "batch_id": answer.id})
    return []


def submit_ready_chunks(
    services: Services,
    *,
    batch_concurrency: int,
    webhook_base: str,
    job_id: str | None = None,
    generation: GenerationLimits | None = None,
    mode: SubmitMode = SubmitMode.AUTO,
) -> SubmissionReport:
    """Submit QUEUED chunks: one job's in order, or the oldest of each kind across all jobs."""
    limits = generation or GenerationLimits()
    if job_id is not None:
        candidates = services.jobs.job_chunks(job_id)
    else:
        candidates = services.jobs.open_chunks(ChunkStatus.QUEUED, limit=batch_concurrency * 4)
        candidates += services.jobs.open_chunks(
            ChunkStatus.QUEUED, limit=limits.concurrency * 4, kind=ChunkKind.GENERATION
        )
    return submit_chunks(
        services,
        candidates,
        batch_concurrency=batch_concurrency,
        webhook_base=webhook_base,
        generation=limits,
        mode=mode,
    )
