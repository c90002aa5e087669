"""A verified Sync webhook: match it to its chunk, record what it says, hand terminal ones on.

The chunk is the one the signed body names in ``webhookUrl`` (the URL syncdrop gave Sync for
it); the request's query string is not signed, so it may only agree with the body. A body
without ``webhookUrl`` can update a chunk that already holds exactly its batch id, never
adopt a batch for a chunk.
"""

from __future__ import annotations

from enum import StrEnum

from aws_lambda_powertools import Logger
from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from syncdrop.domain.services import Services
from syncdrop.jobs import ChunkStatus
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import Batch
from syncdrop.webhook_url import CHUNK_PARAMETER, JOB_PARAMETER, chunk_named_by, owner_of

logger = Logger(service="syncdrop", child=True)


# Batches end COMPLETED or FAILED; single generations also REJECTED (older docs: CANCELED,
# TIMED_OUT). Any of these in a signed body means "ask Sync now".
TERMINAL = frozenset({"COMPLETED", "FAILED", "REJECTED", "CANCELED", "TIMED_OUT"})
KNOWN = TERMINAL | {"PENDING", "JOBS_CREATED", "PROCESSING"}


class SyncNotice(BaseModel):
    """What a webhook body says, a batch's or a single generation's alike: which one, its
    status, and the URL it was sent for. Only a hint: GET from Sync stays the truth."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: str = Field(min_length=1)
    status: str = Field(pattern="^(" + "|".join(sorted(KNOWN)) + ")$")
    webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("webhookUrl", "webhook_url")
    )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def of(cls, body: SyncNotice | Batch) -> SyncNotice:
        if isinstance(body, SyncNotice):
            return body
        return cls(id=body.id, status=body.status.value, webhook_url=body.webhook_url)


class WebhookOutcome(StrEnum):
    UNKNOWN_BATCH = "UNKNOWN_BATCH"  # no such job/chunk, or another batch id: 404
    # Signed for another deployment's URL, or the query names another job/chunk: 409
    MISDIRECTED = "MISDIRECTED"
    RECORDED = "RECORDED"  # not terminal yet
    ENQUEUED = "ENQUEUED"  # terminal: fan_out_results will GET it from Sync and write the rows


def accept_webhook(
    services: Services,
    body: SyncNotice | Batch,
    *,
    webhook_base: str,
    query_job: str | None = None,
    query_chunk: str | None = None,
) -> WebhookOutcome:
    """No business logic here: the webhook is a hint, GET /v2/batch/{id} stays the truth.

    ``webhook_base`` is this deployment's webhook URL; ``query_job``/``query_chunk`` are the
    request's unsigned ``job``/``chunk`` parameters (``None`` when absent).
    """
    batch = SyncNotice.of(body)
    target = _chunk_of(batch, webhook_base, query_job, query_chunk)
    if isinstance(target, WebhookOutcome):
        return target
    job_id, chunk_number, signed = target
    now = services.clock()
    status = batch.status
    # Sync waits for the answer: the usual case (the chunk holds this batch) is one write.
    if not services.jobs.record_batch_status(job_id, chunk_number, batch.id, status, now=now):
        chunk = services.jobs.get_chunk(job_id, chunk_number)
        if chunk is None:
            return WebhookOutcome.UNKNOWN_BATCH
        # The POST's answer was lost, but Sync signed this for our job/chunk: adopt the batch.
        unconfirmed = chunk.batch_id is None and chunk.status is ChunkStatus.SUBMITTING
        if signed and unconfirmed and services.jobs.mark_submitted(chunk, batch.id, now=now):
            logger.info("batch adopted from its webhook", extra={"batch_id": batch.id})
            chunk.batch_id = batch.id
        if chunk.batch_id != batch.id:
            logger.warning(
                "webhook for a batch this chunk does not own",
                extra={"job_id": job_id, "chunk": chunk_number, "batch_id": batch.id},
            )
            return WebhookOutcome.UNKNOWN_BATCH
        services.jobs.record_sync_status(chunk, status, now=now)
    if not batch.is_terminal:
        return WebhookOutcome.RECORDED
    services.queue().send(ResultsMessage.for_chunk(job_id, chunk_number, batch.id))
    return WebhookOutcome.ENQUEUED


def _chunk_of(
    batch: SyncNotice, webhook_base: str, query_job: str | None, query_chunk: str | None
) -> tuple[str, int, bool] | WebhookOutcome:
    """``(job, chunk, named by the signed body)``, or why the webhook is refused."""
    if not batch.webhook_url:
        # Sync documents webhookUrl as optional: the query may find the chunk, but only a
        # chunk that already holds this (signed) batch id will accept it.
        named = chunk_named_by(query_job, query_chunk)
        return WebhookOutcome.UNKNOWN_BATCH if named is None else (*named, False)
    owner = owner_of(batch.webhook_url, webhook_base)
    if owner is None:
        logger.warning("webhook signed for another URL", extra={"batch_id": batch.id})
        return WebhookOutcome.MISDIRECTED
    job_id, chunk_number = owner
    asked = {JOB_PARAMETER: query_job, CHUNK_PARAMETER: query_chunk}
    signed = {JOB_PARAMETER: job_id, CHUNK_PARAMETER: str(chunk_number)}
    if any(value is not None and value != signed[name] for name, value in asked.items()):
        logger.warning(
            "webhook query names another chunk than its signed body",
            extra={"job_id": job_id, "chunk": chunk_number, "batch_id": batch.id},
        )
        return WebhookOutcome.MISDIRECTED
    return job_id, chunk_number, True
