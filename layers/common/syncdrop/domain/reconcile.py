"""The scheduled backstop: resolve unknown submissions, poll quiet batches, restart stuck reports.

Sync documents no webhook retries and batches have no idempotency key, so this is what makes
a lost webhook, a 429 or a crash between POST and the write that records it harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aws_lambda_powertools import Logger

from syncdrop.domain.deadline import fail_queued_chunks, never_sent_reason
from syncdrop.domain.generation_submit import GenerationLimits, Verdict, post_generation
from syncdrop.domain.reporting import REPORT_LEASE
from syncdrop.domain.services import Services
from syncdrop.domain.submission import SubmissionReport, submit_ready_chunks
from syncdrop.errors import SyncApiError, SyncNotFound, SyncUnavailable
from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus, SubmitMode
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import Batch, Generation
from syncdrop.webhook_url import owner_of

logger = Logger(service="syncdrop", child=True)


@dataclass(frozen=True, slots=True)
class ReconcilePolicy:
    batch_concurrency: int
    webhook_base: str
    # Longer than submit_batch's timeout: a POST may still be in flight before that.
    submitting_grace: timedelta = timedelta(minutes=10)
    # A batch quiet this long is asked directly (its webhook may be lost).
    poll_after: timedelta = timedelta(minutes=30)
    # How far before a chunk's claim Sync's created_at may lie (clock skew).
    list_margin: timedelta = timedelta(minutes=5)
    report_lease: timedelta = REPORT_LEASE
    generation: GenerationLimits = field(default_factory=GenerationLimits)
    mode: SubmitMode = SubmitMode.AUTO


@dataclass(slots=True)
class ReconcileReport:
    reposted: int = 0  # single generations asked again with their own key
    adopted: int = 0
    requeued: int = 0
    polled: int = 0
    enqueued: int = 0
    reports_restarted: int = 0
    past_deadline: int = 0  # jobs sent to be finished with what is known
    submission: SubmissionReport = field(default_factory=SubmissionReport)


def _resolve_submitting(
    services: Services, policy: ReconcilePolicy, report: ReconcileReport
) -> None:
    now = services.clock()
    stuck = services.jobs.open_chunks(ChunkStatus.SUBMITTING, before=now - policy.submitting_grace)
    if not stuck:
        return
    oldest = min(c.updated_at or now for c in stuck)
    batches = services.sync.list_batches(created_after=oldest - policy.list_margin)
    owned: dict[tuple[str, int], Batch] = {}
    for batch in batches:
        owner = owner_of(batch.webhook_url, policy.webhook_base)
        if owner is not None:
            owned.setdefault(owner, batch)
    for chunk in stuck:
        found = owned.get((chunk.job_id, chunk.number))
        if found is not None:
            if services.jobs.mark_submitted(chunk, found.id, now=now):
                report.adopted += 1
                logger.info(
                    "adopted a batch whose creation was unconfirmed", extra={"batch_id": found.id}
                )
        elif _past_deadline(services, chunk, now):
            # Its job was (or is being) finished: the chunk must not go to Sync any more.
            if services.jobs.fail_chunk(chunk, NOT_SENT_BY_DEADLINE, now=now):
                services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
                report.enqueued += 1
        elif services.jobs.release_to_queue(chunk, "Sync has no batch for this chunk", now=now):
            report.requeued += 1
            logger.info("no batch at Sync; chunk back in the queue", extra={"job_id": chunk.job_id})


NOT_SENT_BY_DEADLINE = (
    "Never sent to Sync: its submission was not confirmed before the job's deadline passed. "
    "Upload the row again in a new file."
)


def _stop_queued_chunks(services: Services, job_id: str) -> None:
    """Before submission below: a job being finished at its deadline sends no new batch."""
    job = services.jobs.get_job(job_id)
    if job is not None:
        fail_queued_chunks(services, job_id, never_sent_reason(job), services.clock())


def _past_deadline(services: Services, chunk: Chunk, now: datetime) -> bool:
    job = services.jobs.get_job(chunk.job_id)
    return job is None or job.past_deadline(now) or job.notified_at is not None


def _poll_quiet(services: Services, policy: ReconcilePolicy, report: ReconcileReport) -> None:
    now = services.clock()
    quiet = services.jobs.open_chunks(ChunkStatus.SUBMITTED, before=now - policy.poll_after)
    for chunk in quiet:
        _poll_one(services, chunk, now, report)


def _resolve_submitting_generations(
    services: Services, policy: ReconcilePolicy, report: ReconcileReport
) -> None:
    """A single generation whose create went unanswered is simply asked for again: its
    Idempotency-Key makes Sync answer with the generation it made, or make the only one."""
    now = services.clock()
    stuck = services.jobs.open_chunks(
        ChunkStatus.SUBMITTING, before=now - policy.submitting_grace, kind=ChunkKind.GENERATION
    )
    for chunk in stuck:
        if _past_deadline(services, chunk, now):
            if services.jobs.fail_chunk(chunk, NOT_SENT_BY_DEADLINE, now=now):
                services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
                report.enqueued += 1
            continue
        posted = post_generation(services, chunk, policy.webhook_base, policy.generation)
        report.reposted += 1
        if posted.verdict == Verdict.SUBMITTED:
            report.adopted += 1
        if posted.stop in ("outage", "account", "rate"):
            return  # Sync is not answering (or not us): the next run tries again


# Ids per GET /v2/generations: a short URL, and one answer per page of quiet rows.
POLL_GROUP = 50


def _poll_quiet_generations(
    services: Services, policy: ReconcilePolicy, report: ReconcileReport
) -> None:
    """Quiet single generations, asked about in groups of ids (GET /v2/generations?ids=)."""
    now = services.clock()
    quiet = services.jobs.open_chunks(
        ChunkStatus.SUBMITTED, before=now - policy.poll_after, kind=ChunkKind.GENERATION
    )
    held = [c for c in quiet if c.batch_id]
    for start in range(0, len(held), POLL_GROUP):
        group = held[start : start + POLL_GROUP]
        try:
            found = {
                g.id: g for g in services.sync.list_generations([c.batch_id or "" for c in group])
            }
        except SyncUnavailable:
            logger.warning("Sync did not answer the generations poll; next run asks again")
            return
        for chunk in group:
            report.polled += 1
            generation = found.get(chunk.batch_id or "") or _ask_alone(services, chunk, now, report)
            if generation is None:
                continue
            services.jobs.record_sync_status(chunk, generation.status.value, now=now)
            if generation.status.is_terminal:
                message = ResultsMessage.for_chunk(chunk.job_id, chunk.number, generation.id)
                services.queue().send(message)
                report.enqueued += 1
            else:
                services.jobs.touch_submitted(chunk, now=now)


def _ask_alone(
    services: Services, chunk: Chunk, now: datetime, report: ReconcileReport
) -> Generation | None:
    """Left out of the list: ask for it alone before believing Sync lost it."""
    try:
        return services.sync.get_generation(chunk.batch_id or "")
    except SyncNotFound:
        services.jobs.fail_chunk(chunk, "Sync no longer knows this generation.", now=now)
        services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
        report.enqueued += 1
    except SyncApiError:
        pass  # the next run asks again
    return None


def _poll_one(services: Services, chunk: Chunk, now: datetime, report: ReconcileReport) -> None:
    if chunk.batch_id is None:
        return
    report.polled += 1
    try:
        batch = services.sync.get_batch(chunk.batch_id)
    except SyncNotFound:
        services.jobs.fail_chunk(chunk, "Sync no longer knows this batch.", now=now)
        services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
        report.enqueued += 1
        return
    services.jobs.record_sync_status(chunk, batch.status.value, now=now)
    if batch.status.is_terminal:
        services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, batch.id))
        report.enqueued += 1
    else:
        services.jobs.touch_submitted(chunk, now=now)


def reconcile(services: Services, policy: ReconcilePolicy) -> ReconcileReport:
    report = ReconcileReport()
    _resolve_submitting(services, policy, report)
    _resolve_submitting_generations(services, policy, report)
    _poll_quiet(services, policy, report)
    _poll_quiet_generations(services, policy, report)
    for job_id in services.jobs.stale_reports(before=services.clock() - policy.report_lease):
        services.queue().send(ResultsMessage.for_job(job_id))
        report.reports_restarted += 1
    # One Query of the OpenChunks index: jobs not yet reported whose deadline has passed.
    for job_id in services.jobs.jobs_past_deadline(now=services.clock()):
        _stop_queued_chunks(services, job_id)
        services.queue().send(ResultsMessage.for_job(job_id))
        report.past_deadline += 1
    report.submission = submit_ready_chunks(
        services,
        batch_concurrency=policy.batch_concurrency,
        webhook_base=policy.webhook_base,
        generation=policy.generation,
        mode=policy.mode,
    )
    return report
