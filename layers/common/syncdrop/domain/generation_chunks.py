"""Rows as single generations: one chunk per row, made at intake or from a batch chunk that
Sync refused for the account's plan (402)."""

from __future__ import annotations

from datetime import datetime

from aws_lambda_powertools import Logger

from syncdrop.domain.routes import no_batch_access_note
from syncdrop.domain.services import Services
from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus
from syncdrop.report.wording import plural

logger = Logger(service="syncdrop", child=True)

# A replaced batch chunk's rows are numbered from its own number times this: distinct from
# every other chunk of the job (a batch holds far fewer rows), the same on every retry.
REPLACED_ROW_BASE = 10_000


def generation_chunk(
    job_id: str, number: int, line: bytes | str, manifest: bytes | str, now: datetime
) -> Chunk:
    """A QUEUED one-row chunk carrying the row's batch line and manifest entry itself."""
    return Chunk(
        job_id=job_id,
        number=number,
        status=ChunkStatus.QUEUED,
        rows=1,
        input_key="",
        manifest_key="",
        updated_at=now,
        kind=ChunkKind.GENERATION,
        line=line.decode() if isinstance(line, bytes) else line,
        manifest=manifest.decode() if isinstance(manifest, bytes) else manifest,
    )


def replace_with_generations(services: Services, chunk: Chunk, reason: str) -> list[Chunk]:
    """The rows of a batch chunk Sync refused for the plan, as QUEUED generation chunks;
    remembered for the account so the next files plan single generations at once."""
    now = services.clock()
    lines = [ln for ln in services.objects.get_bytes(chunk.input_key).splitlines() if ln]
    entries = [ln for ln in services.objects.get_bytes(chunk.manifest_key).splitlines() if ln]
    base = chunk.number * REPLACED_ROW_BASE
    generations = [
        generation_chunk(chunk.job_id, base + index, line, entry, now)
        for index, (line, entry) in enumerate(zip(lines, entries, strict=True), start=1)
    ]
    note = no_batch_access_note(reason)
    services.jobs.record_batch_refusal(reason, now=now)
    job = services.jobs.get_job(chunk.job_id)
    message = (
        f"{plural(job.valid, 'row')} as single generations (Sync refused batches: HTTP 402); "
        f"{plural(job.rejected, 'row')} rejected"
        if job is not None
        else "rows as single generations (Sync refused batches: HTTP 402)"
    )
    replaced = services.jobs.replace_with_generations(
        chunk, generations, note, now=now, message=message
    )
    if not replaced:
        logger.info("batch chunk moved on before it was replaced", extra={"job": chunk.job_id})
        return []
    logger.info(
        "batch refused for the plan; rows go as single generations",
        extra={"job_id": chunk.job_id, "chunk": chunk.number, "rows": len(generations)},
    )
    return generations
