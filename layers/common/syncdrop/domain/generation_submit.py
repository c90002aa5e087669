"""One row, one POST /v2/generate: at most one generation per row (its Idempotency-Key), under
the plan's generation concurrency (the slot taken with the claim) and the request pace."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.domain.services import Services
from syncdrop.domain.sync_media import MediaRefused, with_assets
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
from syncdrop.jobs import Chunk
from syncdrop.messages import ResultsMessage
from syncdrop.webhook_url import webhook_url_for

logger = Logger(service="syncdrop", child=True)

# Added to every turn: a POST reaches Sync a little after its turn is taken, and two turns
# must still be a full interval apart when they arrive.
PACE_MARGIN = 0.05


@dataclass(frozen=True, slots=True)
class GenerationLimits:
    """GenerationConcurrency and GenerateRequestsPerMinute, and how long one function waits
    for a turn before leaving the row queued for the next one."""

    concurrency: int = 3
    per_minute: int = 60
    max_wait: float = 5.0

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute + PACE_MARGIN


class Verdict:
    """What became of one POST: the chunk's new state is already recorded."""

    SUBMITTED = "submitted"
    QUEUED = "queued"  # back in the queue; ``stop`` says why no more should be tried now
    UNKNOWN = "unknown"  # left SUBMITTING: the reconciler posts again with the same key
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Posted:
    verdict: str
    stop: str = ""  # "back-pressure", "rate", "outage", "account": stop this kind for now
    generation_id: str = ""


def generation_payload(services: Services, chunk: Chunk, webhook_base: str) -> dict[str, Any]:
    """The row's CreateGenerationDto: its batch-line payload, media as assets, our webhook."""
    entry = json.loads(chunk.line)
    payload: dict[str, Any] = with_assets(services, entry["payload"])
    url = webhook_url_for(webhook_base, chunk.job_id, chunk.number)
    if url:
        payload["webhookUrl"] = url
    return payload


def wait_for_turn(
    services: Services, limits: GenerationLimits, sleep: Callable[[float], None] = time.sleep
) -> bool:
    """Take a turn of the shared pace, sleeping up to ``limits.max_wait``; False if none came."""
    waited = 0.0
    while True:
        wait = services.jobs.take_generate_turn(now=services.clock(), interval=limits.interval)
        if wait <= 0:
            return True
        if waited + wait > limits.max_wait:
            return False
        sleep(wait)
        waited += wait


def post_generation(
    services: Services,
    chunk: Chunk,
    webhook_base: str,
    limits: GenerationLimits,
    sleep: Callable[[float], None] = time.sleep,
) -> Posted:
    """POST the SUBMITTING chunk's row and record what happened. Safe to call again for a
    chunk left SUBMITTING: the same key makes Sync answer with the same generation."""
    jobs, now = services.jobs, services.clock
    log = {"job_id": chunk.job_id, "chunk": chunk.number}
    try:
        payload = generation_payload(services, chunk, webhook_base)
    except MediaRefused as exc:
        reason = f"The row's media could not be sent to Sync: {exc.reason}"
        return _refused(services, chunk, reason, status=0)
    except TransientError as exc:  # a media file being uploaded elsewhere, or a pause
        jobs.release_to_queue(chunk, str(exc), now=now())
        return Posted(Verdict.QUEUED, stop="")
    except SyncAuthError as exc:
        jobs.release_to_queue(chunk, exc.message, now=now())
        return Posted(Verdict.QUEUED, stop="account")
    if not wait_for_turn(services, limits, sleep):
        jobs.release_to_queue(chunk, "waiting for a turn of the request pace", now=now())
        return Posted(Verdict.QUEUED, stop="rate")
    try:
        generation = services.sync.create_generation(payload, idempotency_key=chunk.idempotency_key)
    except SyncBackPressure as exc:
        # Sync's count of running generations is higher than ours (other work on the account).
        jobs.release_to_queue(chunk, f"Sync concurrency limit: {exc.message}", now=now())
        return Posted(Verdict.QUEUED, stop="back-pressure")
    except SyncRateLimited as exc:
        jobs.release_to_queue(chunk, f"Sync rate limit: {exc.message}", now=now())
        return Posted(Verdict.QUEUED, stop="rate")
    except (SyncNotSent, SyncUnavailable) as exc:
        jobs.release_to_queue(chunk, str(exc), now=now())
        return Posted(Verdict.QUEUED, stop="outage")
    except SyncOutcomeUnknown as exc:
        logger.warning(
            "generation outcome unknown; the reconciler asks again with the same key",
            extra={**log, "error": str(exc)},
        )
        return Posted(Verdict.UNKNOWN, stop="outage")
    except SyncAuthError as exc:
        jobs.release_to_queue(chunk, exc.message, now=now())
        logger.error("Sync refused the API key; rows stay queued", extra=log)
        return Posted(Verdict.QUEUED, stop="account")
    except SyncRejected as exc:
        return _refused(services, chunk, f"Sync refused the row: {exc.message}", status=exc.status)
    crash_points.reached(crash_points.AFTER_CREATE_BEFORE_RECORD)
    if jobs.mark_submitted(chunk, generation.id, now=now()):
        logger.info("generation submitted", extra={**log, "generation_id": generation.id})
    if generation.status.is_terminal:  # finished before we looked: no webhook may come
        services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, generation.id))
    return Posted(Verdict.SUBMITTED, generation_id=generation.id)


def _refused(services: Services, chunk: Chunk, reason: str, *, status: int) -> Posted:
    """Sync (or the row's media) refused this row: it fails with the reason; others go on."""
    services.jobs.fail_chunk(chunk, reason, now=services.clock())
    services.queue().send(ResultsMessage.for_chunk(chunk.job_id, chunk.number, None))
    logger.warning("row refused", extra={"job_id": chunk.job_id, "chunk": chunk.number})
    return Posted(Verdict.FAILED, stop="account" if status == 402 else "")
