"""A finished batch: read Sync's result file, write one results item per row, close the chunk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.adapters.dynamo_results import row_key
from syncdrop.domain.services import Services
from syncdrop.jobs import Chunk, ChunkStatus, outputs_prefix
from syncdrop.report import GenerationResult, RowStatus, parse_result_line
from syncdrop.sync_models import Batch, BatchStatus

logger = Logger(service="syncdrop", child=True)

NO_RESULT = "Sync's result file has no line for this row."
BATCH_FAILED = "Sync failed the whole batch."


class FanOutOutcome(StrEnum):
    WRITTEN = "WRITTEN"  # rows written and the chunk closed now
    ALREADY_DONE = "ALREADY_DONE"  # a duplicate message: the chunk was closed before
    NOT_READY = "NOT_READY"  # Sync says the batch is still running (the reconciler will ask again)
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True, slots=True)
class ManifestRow:
    row_number: int
    request_id: str
    columns_json: str


def read_manifest(services: Services, chunk: Chunk) -> list[ManifestRow]:
    rows = []
    for line in services.objects.get_bytes(chunk.manifest_key).splitlines():
        if line.strip():
            entry = json.loads(line)
            rows.append(
                ManifestRow(
                    row_number=int(entry["row"]),
                    request_id=str(entry["request_id"]),
                    columns_json=json.dumps(entry["columns"], ensure_ascii=False),
                )
            )
    return rows


def result_item(row: ManifestRow, result: GenerationResult, chunk: Chunk) -> dict[str, object]:
    item: dict[str, object] = {
        "row_key": row_key(row.row_number),
        "row_number": row.row_number,
        "request_id": row.request_id,
        "chunk": chunk.number,
        "batch_id": chunk.batch_id or "",
        "status": result.status.value,
        "columns": row.columns_json,
    }
    optional = {
        "generation_id": result.generation_id,
        "output_url": result.output_url,
        "error_code": result.error_code,
        "error_message": result.error_message,
    }
    item.update({k: v for k, v in optional.items() if v})
    if result.output_duration is not None:
        item["output_duration"] = str(result.output_duration)  # a string keeps Decimal out
    return item


def failed(request_id: str, reason: str, code: str | None = None) -> GenerationResult:
    return GenerationResult(
        request_id=request_id,
        status=RowStatus.FAILED,
        generation_id=None,
        output_url=None,
        output_duration=None,
        error_code=code,
        error_message=reason,
    )


def _results_by_request(services: Services, batch: Batch) -> dict[str, GenerationResult]:
    results: dict[str, GenerationResult] = {}
    for line in services.downloads().lines(batch.output_url):
        result = parse_result_line(line)
        if result.request_id is None:
            logger.warning("unusable line in Sync's result file", extra={"batch_id": batch.id})
            continue
        results.setdefault(result.request_id, result)
    return results


def _rows_for(
    manifest: list[ManifestRow],
    results: dict[str, GenerationResult],
    chunk: Chunk,
    missing_reason: str,
) -> Iterator[dict[str, object]]:
    for row in manifest:
        result = results.get(row.request_id) or failed(row.request_id, missing_reason)
        yield result_item(row, result, chunk)


def _enqueue_copies(services: Services, chunk: Chunk, row_keys: list[str]) -> None:
    """One copy task per video; tasks for rows with nothing to copy do nothing."""
    if services.outputs_queue is None:
        return
    job = services.jobs.get_job(chunk.job_id)
    prefix = f"outputs/{outputs_prefix(job.upload.key)}/" if job is not None else None
    services.outputs_queue.send_copies(chunk.job_id, chunk.number, row_keys, prefix=prefix)
    services.jobs.mark_copies_enqueued(chunk)


def fan_out_chunk(services: Services, job_id: str, chunk_number: int) -> FanOutOutcome:
    """Idempotent: a redelivered message rewrites the same items and finds the chunk closed."""
    chunk = services.jobs.get_chunk(job_id, chunk_number)
    if chunk is None:
        return FanOutOutcome.NOT_FOUND
    if chunk.results_written:
        if not chunk.copies_enqueued:  # closed, but died before queueing its copies
            _enqueue_copies(
                services, chunk, [row_key(r.row_number) for r in read_manifest(services, chunk)]
            )
        return FanOutOutcome.ALREADY_DONE
    manifest = read_manifest(services, chunk)
    now = services.clock
    if chunk.status is ChunkStatus.FAILED:
        # Refused at submission: no batch exists, every row carries Sync's refusal.
        reason = chunk.error or "Sync refused the batch."
        services.results.put_rows(job_id, _rows_for(manifest, {}, chunk, reason))
        closed = services.jobs.close_chunk(
            chunk, ChunkStatus.FAILED, completed=0, failed=len(manifest), now=now()
        )
        return FanOutOutcome.WRITTEN if closed else FanOutOutcome.ALREADY_DONE
    if chunk.status is not ChunkStatus.SUBMITTED or chunk.batch_id is None:
        return FanOutOutcome.NOT_READY
    batch = services.sync.get_batch(chunk.batch_id)  # the truth, never the webhook body
    services.jobs.record_sync_status(chunk, batch.status.value, now=now())
    if not batch.status.is_terminal:
        return FanOutOutcome.NOT_READY
    results: dict[str, GenerationResult] = {}
    missing = NO_RESULT
    if batch.status is BatchStatus.FAILED:
        missing = BATCH_FAILED
        if batch.output_url:
            results = _results_by_request(services, batch)
    elif batch.output_url:
        results = _results_by_request(services, batch)
    else:
        logger.warning("COMPLETED batch without outputUrl yet", extra={"batch_id": batch.id})
        return FanOutOutcome.NOT_READY
    items = list(_rows_for(manifest, results, chunk, missing))
    copying = services.outputs_queue is not None
    if copying:
        for item in items:
            if item["status"] == RowStatus.COMPLETED.value:
                item["copy_status"] = "PENDING"
    half = len(items) // 2 // 25 * 25  # on a BatchWriteItem boundary: no extra request
    services.results.put_rows(job_id, items[:half])
    crash_points.reached(crash_points.FAN_OUT_AFTER_ROWS_WRITTEN)
    services.results.put_rows(job_id, items[half:])
    completed = sum(1 for i in items if i["status"] == RowStatus.COMPLETED.value)
    to = ChunkStatus.FAILED if batch.status is BatchStatus.FAILED else ChunkStatus.COMPLETED
    closed = services.jobs.close_chunk(
        chunk,
        to,
        completed=completed,
        failed=len(items) - completed,
        now=now(),
        copies=completed if copying else 0,
    )
    if not closed:  # a concurrent worker closed it first; it wrote the same rows
        return FanOutOutcome.ALREADY_DONE
    if copying and completed:
        done = [str(i["row_key"]) for i in items if i["status"] == RowStatus.COMPLETED.value]
        _enqueue_copies(services, chunk, done)
    logger.info(
        "chunk fanned out",
        extra={"job_id": job_id, "chunk": chunk_number, "completed": completed, "rows": len(items)},
    )
    return FanOutOutcome.WRITTEN
