"""A finished batch: read Sync's result file, write one results item per row, close the chunk."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from syncdrop import crash_points
from syncdrop.copy_tasks import slice_tasks
from syncdrop.domain.services import Services
from syncdrop.errors import SyncdropError, SyncNotFound, TransientError
from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus, outputs_prefix
from syncdrop.keys import row_key
from syncdrop.report import GenerationResult, RowStatus, parse_result_line
from syncdrop.sync_models import Batch, BatchStatus, Generation, GenerationStatus

logger = Logger(service="syncdrop", child=True)

NO_RESULT = "Sync's result file has no line for this row."
BATCH_FAILED = "Sync failed the whole batch."

# Longer than fan_out_results' timeout (300 s): a holder past it is dead, not slow.
FAN_OUT_LEASE = timedelta(minutes=6)
# Fan-outs of one chunk begun after Sync said its batch was over, across SQS redeliveries and
# reconciler re-enqueues; then its rows are failed with the last error and its slot is freed.
FAN_OUT_ATTEMPTS = 6


class FanOutBusy(TransientError):
    """Another worker holds the chunk's fan-out lease; the message comes back later."""


class ManifestUnreadable(SyncdropError):
    """The chunk's row manifest is not what intake wrote: retrying cannot fix it."""


@dataclass(frozen=True, slots=True)
class FanOutPolicy:
    lease: timedelta = FAN_OUT_LEASE
    attempts: int = FAN_OUT_ATTEMPTS


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
    # A single generation carries its one manifest entry; a batch's are in S3.
    text = chunk.manifest.encode() if chunk.manifest else None
    for line in (text or services.objects.get_bytes(chunk.manifest_key)).splitlines():
        if line.strip():
            try:
                entry = json.loads(line)
                rows.append(
                    ManifestRow(
                        row_number=int(entry["row"]),
                        request_id=str(entry["request_id"]),
                        columns_json=json.dumps(entry["columns"], ensure_ascii=False),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise ManifestUnreadable(
                    f"syncdrop's record of which rows went into this batch "
                    f"({chunk.manifest_key}) is damaged, so Sync's results cannot be matched "
                    "to rows."
                ) from exc
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


def failed(
    request_id: str, reason: str, code: str | None = None, status: RowStatus = RowStatus.FAILED
) -> GenerationResult:
    return GenerationResult(
        request_id=request_id,
        status=status,
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
    """The first copy task of each chain of slices of the chunk's rows (every row, so a repair
    cuts the same slices); rows with nothing to copy are skipped by their slice's worker."""
    if services.outputs_queue is None:
        return
    job = services.jobs.get_job(chunk.job_id)
    prefix = f"outputs/{outputs_prefix(job.upload.key)}/" if job is not None else None
    services.outputs_queue.send_copies(
        slice_tasks(chunk.job_id, chunk.number, row_keys, prefix=prefix)
    )
    services.jobs.mark_copies_enqueued(chunk)


def _row_range(manifest: list[ManifestRow]) -> tuple[str, str] | None:
    if not manifest:
        return None
    numbers = [row.row_number for row in manifest]
    return row_key(min(numbers)), row_key(max(numbers))


def _claim(
    services: Services, chunk: Chunk, policy: FanOutPolicy, sync_status: str = ""
) -> tuple[str, int]:
    """The fan-out lease: only its holder writes the chunk's rows, so a late duplicate can
    never overwrite a row whose video was copied since. Its token and the attempt's number."""
    now = services.clock()
    token = uuid.uuid4().hex
    attempt = services.jobs.claim_fan_out(
        chunk, token, now=now, stale_before=now - policy.lease, sync_status=sync_status
    )
    if not attempt:
        raise FanOutBusy(f"chunk {chunk.holder} is being fanned out by another worker")
    return token, attempt


def _manifest_or_nothing(services: Services, chunk: Chunk) -> list[ManifestRow]:
    """On a final path the chunk ends even when nothing names its rows any more (its manifest
    deleted or damaged): waiting for it would hold the job for ever."""
    try:
        return read_manifest(services, chunk)
    except Exception:
        logger.exception("chunk's rows unknown: its manifest cannot be read")
        return []


def _fail_every_row(services: Services, chunk: Chunk, token: str, reason: str) -> FanOutOutcome:
    """A final outcome: every row FAILED with ``reason``, the chunk closed, its slot freed."""
    current = services.jobs.get_chunk(chunk.job_id, chunk.number)
    if current is None or current.results_written:  # closed after all (an ambiguous write)
        return FanOutOutcome.ALREADY_DONE
    manifest = _manifest_or_nothing(services, chunk)
    services.results.put_rows(chunk.job_id, _rows_for(manifest, {}, chunk, reason))
    closed = services.jobs.close_chunk(
        chunk,
        ChunkStatus.FAILED,
        completed=0,
        failed=len(manifest) or chunk.rows,
        now=services.clock(),
        token=token,
        row_keys=_row_range(manifest),
    )
    return FanOutOutcome.WRITTEN if closed else FanOutOutcome.ALREADY_DONE


def _gave_up(sync_id: str, attempts: int, error: str, what: str = "batch") -> str:
    return (
        f"syncdrop could not read Sync's results for {what} {sync_id} after {attempts} "
        f"attempts ({error or 'no reason recorded'}). The video may exist at Sync; quote the "
        f"{what} id if you ask for help."
    )


def fan_out_chunk(
    services: Services, job_id: str, chunk_number: int, policy: FanOutPolicy | None = None
) -> FanOutOutcome:
    """Write one results item per row and close the chunk, or end it with a reason.

    Idempotent: a redelivered message finds the chunk closed. A permanent error ends the
    chunk at once; a transient one after Sync said the batch is over spends one attempt of
    the chunk's budget (Sync being unreachable spends none: the job's deadline covers that).
    """
    policy = policy or FanOutPolicy()
    chunk = services.jobs.get_chunk(job_id, chunk_number)
    if chunk is None:
        return FanOutOutcome.NOT_FOUND
    if chunk.results_written:
        if not chunk.copies_enqueued:  # closed, but died before queueing its copies
            _enqueue_copies(
                services, chunk, [row_key(r.row_number) for r in read_manifest(services, chunk)]
            )
        return FanOutOutcome.ALREADY_DONE
    if chunk.status is ChunkStatus.FAILED:
        # Refused at submission (or never sent): no batch exists, every row says why.
        token, _ = _claim(services, chunk, policy)
        return _fail_every_row(services, chunk, token, chunk.error or "Sync refused the batch.")
    if chunk.status is not ChunkStatus.SUBMITTED or chunk.batch_id is None:
        return FanOutOutcome.NOT_READY
    if chunk.kind is ChunkKind.GENERATION:
        return _fan_out_generation(services, chunk, chunk.batch_id, policy)
    try:
        batch = services.sync.get_batch(chunk.batch_id)  # the truth, never the webhook body
    except SyncNotFound:
        token, _ = _claim(services, chunk, policy)
        return _fail_every_row(services, chunk, token, "Sync no longer knows this batch.")
    except ValidationError:
        token, _ = _claim(services, chunk, policy)
        reason = f"Sync's answer about batch {chunk.batch_id} is not one syncdrop can read."
        return _fail_every_row(services, chunk, token, reason)
    if not batch.status.is_terminal or (
        batch.status is not BatchStatus.FAILED and not batch.output_url
    ):
        if batch.status.is_terminal:
            logger.warning("COMPLETED batch without outputUrl yet", extra={"batch_id": batch.id})
        services.jobs.record_sync_status(chunk, batch.status.value, now=services.clock())
        return FanOutOutcome.NOT_READY
    token, attempt = _claim(services, chunk, policy, batch.status.value)
    return _write_within_budget(
        services,
        chunk,
        batch.id,
        token,
        attempt,
        policy,
        lambda: _write_results(services, chunk, batch, token),
    )


def _what(chunk: Chunk) -> str:
    return "generation" if chunk.kind is ChunkKind.GENERATION else "batch"


def _write_within_budget(
    services: Services,
    chunk: Chunk,
    sync_id: str,
    token: str,
    attempt: int,
    policy: FanOutPolicy,
    write: Callable[[], FanOutOutcome],
) -> FanOutOutcome:
    """Write the rows under the lease; a failure spends one attempt of the chunk's budget,
    and the last one (or a permanent error) fails every row with the reason."""
    if attempt > policy.attempts:  # the last attempts died without a word (timeouts, crashes)
        reason = _gave_up(sync_id, policy.attempts, chunk.fan_out_error, _what(chunk))
        return _fail_every_row(services, chunk, token, reason)
    try:
        return write()
    except Exception as exc:
        permanent = isinstance(exc, SyncdropError) and not isinstance(exc, TransientError)
        error = str(exc) if isinstance(exc, SyncdropError) else type(exc).__name__
        if not permanent:
            services.jobs.record_fan_out_error(chunk, error)
        if permanent or attempt >= policy.attempts:
            logger.warning("chunk ended without Sync's results", extra={"job_id": chunk.job_id})
            reason = error if permanent else _gave_up(sync_id, attempt, error, _what(chunk))
            if _fail_every_row(services, chunk, token, reason) is FanOutOutcome.WRITTEN:
                return FanOutOutcome.WRITTEN
            raise  # it closed before failing (its copies not queued): the redelivery repairs it
        services.jobs.release_fan_out(chunk, token)  # the redelivery need not wait for it
        raise


def _fan_out_generation(
    services: Services, chunk: Chunk, generation_id: str, policy: FanOutPolicy
) -> FanOutOutcome:
    """A single generation: GET /v2/generate/{id} is the truth, its one row is written."""
    try:
        generation = services.sync.get_generation(generation_id)
    except SyncNotFound:
        token, _ = _claim(services, chunk, policy)
        return _fail_every_row(services, chunk, token, "Sync no longer knows this generation.")
    except ValidationError:
        token, _ = _claim(services, chunk, policy)
        reason = f"Sync's answer about generation {generation_id} is not one syncdrop can read."
        return _fail_every_row(services, chunk, token, reason)
    if not generation.status.is_terminal:
        services.jobs.record_sync_status(chunk, generation.status.value, now=services.clock())
        return FanOutOutcome.NOT_READY
    token, attempt = _claim(services, chunk, policy, generation.status.value)

    def write() -> FanOutOutcome:
        manifest = read_manifest(services, chunk)
        results = _generation_results(manifest, generation)
        return _store_and_close(services, chunk, manifest, results, token, whole_failed=False)

    return _write_within_budget(services, chunk, generation.id, token, attempt, policy, write)


def _generation_results(
    manifest: list[ManifestRow], generation: Generation
) -> dict[str, GenerationResult]:
    """The row's outcome from its Generation object, keyed as a batch's result file is."""
    if not manifest:
        return {}
    request_id = manifest[0].request_id
    done = generation.status is GenerationStatus.COMPLETED and bool(generation.output_url)
    if done:
        reason = code = None
    else:
        code = generation.error_code
        reason = generation.error or (
            "Sync finished the generation without a video."
            if generation.status is GenerationStatus.COMPLETED
            else f"Sync ended the generation as {generation.status.value}."
        )
    result = GenerationResult(
        request_id=request_id,
        status=RowStatus.COMPLETED if done else RowStatus.FAILED,
        generation_id=generation.id,
        output_url=generation.output_url if done else None,
        output_duration=generation.output_duration if done else None,
        error_code=code,
        error_message=reason,
    )
    return {request_id: result}


def _write_results(services: Services, chunk: Chunk, batch: Batch, token: str) -> FanOutOutcome:
    manifest = read_manifest(services, chunk)
    results: dict[str, GenerationResult] = {}
    if batch.output_url:
        results = _results_by_request(services, batch)
    return _store_and_close(
        services, chunk, manifest, results, token, whole_failed=batch.status is BatchStatus.FAILED
    )


def _store_and_close(
    services: Services,
    chunk: Chunk,
    manifest: list[ManifestRow],
    results: dict[str, GenerationResult],
    token: str,
    *,
    whole_failed: bool,
) -> FanOutOutcome:
    """One results item per manifest row, the chunk closed, its copies queued."""
    missing = BATCH_FAILED if whole_failed else NO_RESULT
    items = list(_rows_for(manifest, results, chunk, missing))
    copying = services.outputs_queue is not None
    if copying:
        for item in items:
            if item["status"] == RowStatus.COMPLETED.value:
                item["copy_status"] = "PENDING"
    half = len(items) // 2 // 25 * 25  # on a BatchWriteItem boundary: no extra request
    services.results.put_rows(chunk.job_id, items[:half])
    crash_points.reached(crash_points.FAN_OUT_AFTER_ROWS_WRITTEN)
    services.results.put_rows(chunk.job_id, items[half:])
    completed = sum(1 for i in items if i["status"] == RowStatus.COMPLETED.value)
    to = ChunkStatus.FAILED if whole_failed else ChunkStatus.COMPLETED
    closed = services.jobs.close_chunk(
        chunk,
        to,
        completed=completed,
        failed=len(items) - completed,
        now=services.clock(),
        copies=completed if copying else 0,
        token=token,
        row_keys=_row_range(manifest),
    )
    if not closed:  # the lease went stale and another worker closed it: it wrote the rows
        return FanOutOutcome.ALREADY_DONE
    if copying and completed:
        _enqueue_copies(services, chunk, [str(i["row_key"]) for i in items])
    logger.info(
        "chunk fanned out",
        extra={"job_id": chunk.job_id, "chunk": chunk.number, "completed": completed},
    )
    return FanOutOutcome.WRITTEN


def time_out_rows(services: Services, chunk: Chunk, reason: str, policy: FanOutPolicy) -> bool:
    """At the job's deadline: the rows of a batch Sync has not finished become TIMED_OUT.

    The chunk stays open, so a batch that finishes later is still fanned out over these rows.
    False when the chunk was closed meanwhile (its rows are real outcomes).
    """
    if chunk.results_written:
        return False
    token, _ = _claim(services, chunk, policy)
    try:
        manifest = _manifest_or_nothing(services, chunk)
        items = [
            result_item(row, failed(row.request_id, reason, status=RowStatus.TIMED_OUT), chunk)
            for row in manifest
        ]
        services.results.put_rows(chunk.job_id, items)
    finally:
        services.jobs.release_fan_out(chunk, token)
    return True
