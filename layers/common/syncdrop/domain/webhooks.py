"""A verified Sync webhook: match it to its chunk, record what it says, hand terminal ones on."""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools import Logger

from syncdrop.domain.services import Services
from syncdrop.jobs import ChunkStatus
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import Batch

logger = Logger(service="syncdrop", child=True)


class WebhookOutcome(StrEnum):
    UNKNOWN_BATCH = "UNKNOWN_BATCH"  # no such job/chunk, or another batch id: 404
    RECORDED = "RECORDED"  # not terminal yet
    ENQUEUED = "ENQUEUED"  # terminal: fan_out_results will GET the batch and write the rows


def accept_webhook(
    services: Services, *, job_id: str, chunk_number: int, batch: Batch
) -> WebhookOutcome:
    """No business logic here: the webhook is a hint, GET /v2/batch/{id} stays the truth."""
    now = services.clock()
    status = batch.status.value
    # Sync waits for the answer: the usual case (the chunk holds this batch) is one write.
    if not services.jobs.record_batch_status(job_id, chunk_number, batch.id, status, now=now):
        chunk = services.jobs.get_chunk(job_id, chunk_number)
        if chunk is None:
            return WebhookOutcome.UNKNOWN_BATCH
        # The POST's answer was lost, but Sync signed this for our job/chunk: adopt the batch.
        unconfirmed = chunk.batch_id is None and chunk.status is ChunkStatus.SUBMITTING
        if unconfirmed and services.jobs.mark_submitted(chunk, batch.id, now=now):
            logger.info("batch adopted from its webhook", extra={"batch_id": batch.id})
            chunk.batch_id = batch.id
        if chunk.batch_id != batch.id:
            logger.warning(
                "webhook for a batch this chunk does not own",
                extra={"job_id": job_id, "chunk": chunk_number, "batch_id": batch.id},
            )
            return WebhookOutcome.UNKNOWN_BATCH
        services.jobs.record_sync_status(chunk, status, now=now)
    if not batch.status.is_terminal:
        return WebhookOutcome.RECORDED
    services.queue().send(ResultsMessage.for_chunk(job_id, chunk_number, batch.id))
    return WebhookOutcome.ENQUEUED
