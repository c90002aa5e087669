"""In-memory fakes of syncdrop's ports, with the same rules as the real adapters."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, BinaryIO

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from syncdrop.copy_tasks import CopyTask
from syncdrop.errors import (
    StorageError,
    SyncNotFound,
    SyncOutcomeUnknown,
    UploadMissing,
    UploadRefused,
)
from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus, Job, JobStatus, UploadRef
from syncdrop.messages import ResultsMessage
from syncdrop.ports import Claim, CopyRecord, SliceProgress
from syncdrop.report import Email
from syncdrop.sync_models import Batch, BatchStatus, Generation, GenerationStatus, Validated


def _copy_job(job: Job) -> Job:
    """What a read gives back: the caller's changes are not the store's until written."""
    return replace(job, columns=list(job.columns), plan=list(job.plan), notify=list(job.notify))


_to_dynamodb, _from_dynamodb = TypeSerializer(), TypeDeserializer()


def _as_dynamodb_stores_it(job_id: str, item: dict[str, object]) -> dict[str, object]:
    """The item as DynamoResultStore writes and reads it: with its job id, without None
    values, numbers as Decimal (and a float refused, as boto3 refuses it)."""
    stored = {"job_id": job_id, **{k: v for k, v in item.items() if v is not None}}
    return {k: _from_dynamodb.deserialize(_to_dynamodb.serialize(v)) for k, v in stored.items()}


@dataclass
class FakeJobStore:
    jobs: dict[str, Job] = field(default_factory=dict)
    chunks: dict[tuple[str, int], Chunk] = field(default_factory=dict)
    holders: set[str] = field(default_factory=set)
    generation_holders: set[str] = field(default_factory=set)
    next_turn: float = 0.0  # the request pace of POST /v2/generate
    refusal: tuple[str, datetime] | None = None  # Sync's last 402 for batches
    claims: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    fan_out_claims: dict[tuple[str, int], tuple[str, datetime]] = field(default_factory=dict)
    rewrite_claims: dict[str, tuple[str, datetime]] = field(default_factory=dict)
    # A SUBMITTED chunk checked on (touch_submitted) sorts by that time in open_chunks, as the
    # OpenChunks index's open_since does; its updated_at stays its last transition's.
    touched: dict[tuple[str, int], datetime] = field(default_factory=dict)

    def create_job(self, job: Job) -> Job:
        return _copy_job(self.jobs.setdefault(job.job_id, _copy_job(job)))

    def get_job(self, job_id: str) -> Job | None:
        job = self.jobs.get(job_id)
        return _copy_job(job) if job else None

    def finish_intake(self, job: Job) -> bool:
        stored = self.jobs.get(job.job_id)
        if stored is None or stored.status is not JobStatus.RECEIVED:
            return False
        stored.status, stored.message = job.status, job.message
        stored.rows, stored.valid, stored.rejected = job.rows, job.valid, job.rejected
        stored.chunk_count, stored.columns, stored.plan = (
            job.chunk_count,
            list(job.columns),
            list(job.plan),
        )
        stored.route, stored.route_note = job.route, job.route_note
        stored.notify, stored.notify_note = list(job.notify), job.notify_note
        stored.retry_of = job.retry_of
        if stored.chunks_closed is None:
            stored.chunks_closed = 0
        return True

    def put_chunk(self, chunk: Chunk) -> None:
        self.chunks.setdefault((chunk.job_id, chunk.number), replace(chunk))

    def put_generation_chunks(self, chunks: list[Chunk]) -> None:
        for chunk in chunks:
            self.put_chunk(chunk)

    def replace_with_generations(
        self, chunk: Chunk, generations: list[Chunk], note: str, *, now: datetime, message: str
    ) -> bool:
        self.put_generation_chunks(generations)
        stored = self.chunks.get((chunk.job_id, chunk.number))
        job = self.jobs.get(chunk.job_id)
        allowed = (ChunkStatus.QUEUED, ChunkStatus.SUBMITTING)
        if stored is None or job is None or stored.status not in allowed:
            return False
        stored.status, stored.updated_at = ChunkStatus.REPLACED, now
        stored.results_written = stored.copies_enqueued = stored.copies_done = True
        self._holders(chunk).discard(chunk.holder)
        job.chunk_count += len(generations)
        job.chunks_closed = (job.chunks_closed or 0) + 1
        job.route, job.route_note, job.message = "generate", note, message
        return True

    def _holders(self, chunk: Chunk) -> set[str]:
        if chunk.kind is ChunkKind.GENERATION:
            return self.generation_holders
        return self.holders

    def open_generation_holders(self) -> set[str]:
        return set(self.generation_holders)

    def take_generate_turn(self, *, now: datetime, interval: float) -> float:
        at = now.timestamp()
        if self.next_turn > at:
            return self.next_turn - at
        self.next_turn = at + interval
        return 0.0

    def record_batch_refusal(self, reason: str, *, now: datetime) -> None:
        self.refusal = (reason, now)

    def batch_refusal(self, *, now: datetime) -> str | None:
        return self.refusal[0] if self.refusal else None

    def job_chunks(self, job_id: str) -> list[Chunk]:
        return [replace(c) for k, c in sorted(self.chunks.items()) if k[0] == job_id]

    def open_chunks(
        self,
        status: ChunkStatus,
        *,
        before: datetime | None = None,
        limit: int = 100,
        kind: ChunkKind = ChunkKind.BATCH,
    ) -> list[Chunk]:
        if not status.is_open:  # terminal chunks leave the OpenChunks index
            return []

        def since(c: Chunk) -> datetime | None:
            return self.touched.get((c.job_id, c.number), c.updated_at)

        found = [c for c in self.chunks.values() if c.status is status and c.kind is kind]
        found.sort(key=lambda c: (since(c) or datetime.min, c.job_id, c.number))
        if before is not None:
            found = [c for c in found if (at := since(c)) is not None and at < before]
        return [replace(c) for c in found[:limit]]

    def _move(
        self, chunk: Chunk, to: ChunkStatus, allowed: tuple[ChunkStatus, ...], now: datetime
    ) -> bool:
        stored = self.chunks.get((chunk.job_id, chunk.number))
        if stored is None or stored.status not in allowed:
            return False
        stored.status = to
        stored.updated_at = now
        self.touched.pop((chunk.job_id, chunk.number), None)
        return True

    def claim_for_submission(self, chunk: Chunk, *, limit: int, now: datetime) -> Claim:
        stored = self.chunks.get((chunk.job_id, chunk.number))
        job = self.jobs.get(chunk.job_id)
        if job is not None and job.cancel_requested:
            return Claim.CANCELLED
        if stored is None or stored.status is not ChunkStatus.QUEUED:
            return Claim.NOT_QUEUED
        holders = self._holders(stored)
        if len(holders) >= limit or chunk.holder in holders:
            return Claim.NO_CAPACITY
        holders.add(chunk.holder)
        self._move(chunk, ChunkStatus.SUBMITTING, (ChunkStatus.QUEUED,), now)
        self.chunks[(chunk.job_id, chunk.number)].attempts += 1
        return Claim.CLAIMED

    def mark_submitted(self, chunk: Chunk, batch_id: str, *, now: datetime) -> bool:
        moved = self._move(chunk, ChunkStatus.SUBMITTED, (ChunkStatus.SUBMITTING,), now)
        if moved:
            stored = self.chunks[(chunk.job_id, chunk.number)]
            stored.batch_id, stored.submitted_at = batch_id, now
        return moved

    def release_to_queue(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        moved = self._move(chunk, ChunkStatus.QUEUED, (ChunkStatus.SUBMITTING,), now)
        if moved:
            self._holders(chunk).discard(chunk.holder)
        return moved

    def fail_chunk(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        allowed = (ChunkStatus.QUEUED, ChunkStatus.SUBMITTING, ChunkStatus.SUBMITTED)
        moved = self._move(chunk, ChunkStatus.FAILED, allowed, now)
        if moved:
            self.chunks[(chunk.job_id, chunk.number)].error = reason[:2000]
            self._holders(chunk).discard(chunk.holder)
        return moved

    def open_batch_holders(self) -> set[str]:
        return set(self.holders)

    def get_chunk(self, job_id: str, number: int) -> Chunk | None:
        chunk = self.chunks.get((job_id, number))
        return replace(chunk) if chunk else None

    def record_sync_status(self, chunk: Chunk, status: str, *, now: datetime) -> bool:
        stored = self.chunks.get((chunk.job_id, chunk.number))
        if stored is None:
            return False
        stored.last_sync_status = status
        return True

    def record_batch_status(
        self, job_id: str, number: int, batch_id: str, status: str, *, now: datetime
    ) -> bool:
        stored = self.chunks.get((job_id, number))
        if stored is None or stored.batch_id != batch_id:
            return False
        stored.last_sync_status = status
        return True

    def touch_submitted(self, chunk: Chunk, *, now: datetime) -> bool:
        stored = self.chunks.get((chunk.job_id, chunk.number))
        if stored is None or stored.status is not ChunkStatus.SUBMITTED:
            return False
        self.touched[(chunk.job_id, chunk.number)] = now  # the poll order, not a transition
        return True

    def close_chunk(
        self,
        chunk: Chunk,
        to: ChunkStatus,
        *,
        completed: int,
        failed: int,
        now: datetime,
        copies: int = 0,
        token: str | None = None,
        row_keys: tuple[str, str] | None = None,
    ) -> bool:
        key = (chunk.job_id, chunk.number)
        if key not in self.chunks or self.chunks[key].results_written:
            return False
        if chunk.job_id not in self.jobs:  # the close is counted on the job, as in DynamoDB
            return False
        if token is not None and self.fan_out_claims.get(key, ("", now))[0] != token:
            return False
        moved = self._move(chunk, to, (ChunkStatus.SUBMITTED, ChunkStatus.FAILED), now)
        if moved:
            stored = self.chunks[key]
            stored.results_written = True
            stored.copies_enqueued = copies == 0
            stored.copies_done = copies == 0
            if row_keys is not None:
                stored.first_row_key, stored.last_row_key = row_keys
            self._holders(chunk).discard(chunk.holder)
            job = self.jobs.get(chunk.job_id)
            if job is not None and job.chunks_closed is not None:
                job.chunks_closed += 1
        return moved

    def mark_copies_enqueued(self, chunk: Chunk) -> None:
        stored = self.chunks.get((chunk.job_id, chunk.number))
        if stored is not None:
            stored.copies_enqueued = True

    def claim_report(
        self, job_id: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        job = self.jobs.get(job_id)
        claim = self.claims.get(job_id)
        if job is None:
            return False
        if job.notified_at is not None or (claim is not None and claim[1] >= stale_before):
            return False
        self.claims[job_id] = (token, now)
        return True

    def finish_report(self, job_id: str, token: str, status: JobStatus, *, now: datetime) -> bool:
        claim = self.claims.get(job_id)
        if claim is None or claim[0] != token:
            return False
        del self.claims[job_id]
        self.jobs[job_id].status = status
        self.jobs[job_id].notified_at = now
        return True

    def stale_reports(self, *, before: datetime, limit: int = 50) -> list[str]:
        stale = sorted((at, job_id) for job_id, (_t, at) in self.claims.items() if at < before)
        return [job_id for _at, job_id in stale[:limit]]

    # --- liveness: leases, attempt budgets and the job deadline ------------------------------
    def claim_fan_out(
        self,
        chunk: Chunk,
        token: str,
        *,
        now: datetime,
        stale_before: datetime,
        sync_status: str = "",
    ) -> int:
        key = (chunk.job_id, chunk.number)
        stored = self.chunks.get(key)
        held = self.fan_out_claims.get(key)
        if stored is None or stored.results_written or (held and held[1] >= stale_before):
            return 0
        self.fan_out_claims[key] = (token, now)
        if sync_status:
            stored.last_sync_status = sync_status
        stored.fan_out_attempts += 1
        return stored.fan_out_attempts

    def release_fan_out(self, chunk: Chunk, token: str) -> bool:
        key = (chunk.job_id, chunk.number)
        if self.fan_out_claims.get(key, ("",))[0] != token:
            return False
        del self.fan_out_claims[key]
        return True

    def record_fan_out_error(self, chunk: Chunk, reason: str) -> None:
        self.chunks[(chunk.job_id, chunk.number)].fan_out_error = reason

    def request_cancel(self, job_id: str, who: str) -> bool:
        job = self.jobs.get(job_id)
        running = (JobStatus.RECEIVED, JobStatus.RUNNING)
        if job is None or job.notified_at is not None or job.status not in running:
            return False
        if job_id in self.claims:  # its report is being written
            return False
        job.cancel_requested = job.cancel_requested or who
        return True

    def cancel_queued_chunk(self, chunk: Chunk, *, now: datetime) -> bool:
        moved = self._move(chunk, ChunkStatus.CANCELLED, (ChunkStatus.QUEUED,), now)
        if moved:
            stored = self.chunks[(chunk.job_id, chunk.number)]
            stored.results_written = stored.copies_enqueued = stored.copies_done = True
            job = self.jobs.get(chunk.job_id)
            if job is not None and job.chunks_closed is not None:
                job.chunks_closed += 1
        return moved

    def fail_queued_chunk(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        moved = self._move(chunk, ChunkStatus.FAILED, (ChunkStatus.QUEUED,), now)
        if moved:
            self.chunks[(chunk.job_id, chunk.number)].error = reason
        return moved

    def jobs_past_deadline(self, *, now: datetime, limit: int = 50) -> list[str]:
        due = [
            job
            for job in self.jobs.values()
            if job.notified_at is None and job.past_deadline(now) and job.job_id not in self.claims
        ]
        due.sort(key=lambda j: (j.deadline, j.job_id))
        return [j.job_id for j in due[:limit]]

    def claim_rewrite(
        self, job_id: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        held = self.rewrite_claims.get(job_id)
        if self.jobs[job_id].notified_at is None or (held and held[1] >= stale_before):
            return False
        self.rewrite_claims[job_id] = (token, now)
        return True

    def finish_rewrite(self, job_id: str, token: str) -> bool:
        if self.rewrite_claims.get(job_id, ("",))[0] != token:
            return False
        del self.rewrite_claims[job_id]
        return True


@dataclass
class FakeResultStore:
    items: dict[tuple[str, str], dict[str, object]] = field(default_factory=dict)

    def put_rows(self, job_id: str, items: Iterable[dict[str, object]]) -> int:
        count = 0
        for item in items:
            self.items[(job_id, str(item["row_key"]))] = _as_dynamodb_stores_it(job_id, item)
            count += 1
        return count

    def get_row(self, job_id: str, row_key: str) -> dict[str, Any] | None:
        item = self.items.get((job_id, row_key))
        return dict(item) if item else None

    def job_rows(self, job_id: str) -> Iterator[dict[str, Any]]:
        for (job, _key), item in sorted(self.items.items()):
            if job == job_id:
                yield dict(item)


@dataclass
class FakeObjectStore:
    """A versioned bucket: ``objects`` holds each key's latest bytes, ``versions`` them all."""

    uploads: dict[tuple[str, str], bytes] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)
    bucket: str = "bkt"
    versions: dict[str, list[bytes]] = field(default_factory=dict)
    # Uploads S3 answers 403 AccessDenied for (a role without s3:ListBucket, a missing key).
    refused: set[tuple[str, str]] = field(default_factory=set)
    # Each upload's user metadata (x-amz-meta-*), as S3 answers it: lower-case names.
    metadata: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def open_upload(self, upload: UploadRef) -> BinaryIO:
        self._refuse(upload)
        try:
            return io.BytesIO(self.uploads[(upload.bucket, upload.key)])
        except KeyError:
            raise UploadMissing(upload.key) from None

    def open_upload_with_metadata(self, upload: UploadRef) -> tuple[BinaryIO, dict[str, str]]:
        return self.open_upload(upload), self.upload_metadata(upload)

    def upload_metadata(self, upload: UploadRef) -> dict[str, str]:
        self.upload_size(upload)  # missing or refused alike
        return dict(self.metadata.get((upload.bucket, upload.key), {}))

    def upload_size(self, upload: UploadRef) -> int:
        self._refuse(upload)
        if (upload.bucket, upload.key) not in self.uploads:
            raise UploadMissing(upload.key)
        return len(self.uploads[(upload.bucket, upload.key)])

    def _refuse(self, upload: UploadRef) -> None:
        if (upload.bucket, upload.key) in self.refused:
            raise UploadRefused(upload.key)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> str | None:
        self.objects[key] = data
        self.versions.setdefault(key, []).append(data)
        return f"v{len(self.versions[key])}"

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> str | None:
        return self.put_bytes(key, source.read(), content_type)

    def version(self, key: str, version_id: str) -> bytes:
        return self.versions[key][int(version_id.removeprefix("v")) - 1]

    def put_stream(self, key: str, chunks: Iterator[bytes], content_type: str) -> None:
        self.objects[key] = b"".join(chunks)

    def get_bytes(self, key: str) -> bytes:
        return self.objects[key]

    def presign_get(
        self, bucket: str, key: str, expires_in: int, version_id: str | None = None
    ) -> str:
        version = f"&versionId={version_id}" if version_id else ""
        return f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}{version}"


@dataclass
class FakeSync:
    """Answers create with a new batch, or with whatever exception is queued next."""

    next_errors: list[Exception] = field(default_factory=list)
    created: list[tuple[bytes, str | None]] = field(default_factory=list)
    dry_runs: int = 0

    def create_batch(
        self, jsonl: bytes, *, webhook_url: str | None, dry_run: bool = False, filename: str = ""
    ) -> Batch | Validated:
        if self.next_errors:
            error = self.next_errors.pop(0)
            if isinstance(error, SyncOutcomeUnknown):
                self.created.append((jsonl, webhook_url))  # it did exist after all
            raise error
        if dry_run:
            self.dry_runs += 1
            return Validated(status="VALIDATED")
        self.created.append((jsonl, webhook_url))
        return Batch(id=f"batch_{len(self.created):04d}", status=BatchStatus.PENDING)

    batches: dict[str, Batch] = field(default_factory=dict)

    def get_batch(self, batch_id: str) -> Batch:
        if batch_id in self.batches:
            return self.batches[batch_id]
        return Batch(id=batch_id, status=BatchStatus.PROCESSING)

    def list_batches(
        self,
        *,
        status: BatchStatus | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[Batch]:
        return list(self.batches.values())

    # Single generations: one per Idempotency-Key, as Sync keeps them.
    generations: dict[str, Generation] = field(default_factory=dict)
    by_key: dict[str, str] = field(default_factory=dict)
    generate_posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    generate_errors: list[Exception] = field(default_factory=list)

    def create_generation(self, payload: Any, *, idempotency_key: str) -> Generation:
        self.generate_posts.append((idempotency_key, dict(payload)))
        if self.generate_errors:
            error = self.generate_errors.pop(0)
            if isinstance(error, SyncOutcomeUnknown):
                self._generation_for(idempotency_key)  # it did exist after all
            raise error
        return self._generation_for(idempotency_key)

    def _generation_for(self, key: str) -> Generation:
        if key not in self.by_key:
            generation_id = f"gen_{len(self.by_key) + 1:04d}"
            self.by_key[key] = generation_id
            self.generations[generation_id] = Generation(
                id=generation_id, status=GenerationStatus.PENDING
            )
        return self.generations[self.by_key[key]]

    def get_generation(self, generation_id: str) -> Generation:
        if generation_id not in self.generations:
            raise SyncNotFound("no such generation", status=404)
        return self.generations[generation_id]

    def list_generations(self, ids: Any) -> list[Generation]:
        return [self.generations[i] for i in ids if i in self.generations]


@dataclass
class FakeResultsQueue:
    sent: list[ResultsMessage] = field(default_factory=list)

    def send(self, message: ResultsMessage) -> None:
        self.sent.append(message)


@dataclass
class FakeNotifier:
    published: list[Email] = field(default_factory=list)
    fail_next: bool = False

    def publish(self, email: Email) -> str:
        if self.fail_next:
            self.fail_next = False
            raise StorageError("SNS is down")
        self.published.append(email)
        return f"msg-{len(self.published)}"


@dataclass
class FakeResultLines:
    files: dict[str, list[bytes]] = field(default_factory=dict)

    media: dict[str, bytes] = field(default_factory=dict)
    media_errors: list[Exception] = field(default_factory=list)

    def lines(self, output_url: str) -> Iterator[bytes]:
        yield from self.files[output_url]

    @contextmanager
    def file_chunks(self, url: str, *, chunk_size: int = 1 << 20) -> Iterator[Iterator[bytes]]:
        if self.media_errors:
            raise self.media_errors.pop(0)
        data = self.media[url]
        yield iter([data[i : i + chunk_size] for i in range(0, len(data), chunk_size)])


@dataclass
class FakeOutputsQueue:
    tasks: list[CopyTask] = field(default_factory=list)

    def send_copies(self, tasks: Iterable[CopyTask]) -> int:
        sent = list(tasks)
        self.tasks.extend(sent)
        return len(sent)


@dataclass
class FakeCopyLedger:
    """Records a copy on the results item once; closes slices into a set on the chunk."""

    jobs: FakeJobStore
    results: FakeResultStore
    slices_done: dict[tuple[str, int], set[int]] = field(default_factory=dict)
    # (videos, failed) added by the slices closed, by chunk.
    slice_counts: dict[tuple[str, int], list[int]] = field(default_factory=dict)

    def rows(self, job_id: str, row_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {
            k: dict(self.results.items[(job_id, k)])
            for k in row_keys
            if (job_id, k) in self.results.items
        }

    def record_copies(self, job_id: str, copies: Sequence[CopyRecord]) -> set[str]:
        return {
            c.row_key
            for c in copies
            if self.record_copy(job_id, 0, c.row_key, s3_uri=c.s3_uri, error=c.error)
        }

    def close_slice(
        self, job_id: str, chunk: int, number: int, *, videos: int = 0, failed: int = 0
    ) -> SliceProgress:
        stored = self.jobs.chunks.get((job_id, chunk))
        if stored is None:
            return SliceProgress(slices_done=0, copies_done=True)
        done = self.slices_done.setdefault((job_id, chunk), set())
        if number not in done:
            counts = self.slice_counts.setdefault((job_id, chunk), [0, 0])
            counts[0] += videos
            counts[1] += failed
        done.add(number)
        return SliceProgress(slices_done=len(done), copies_done=stored.copies_done)

    def record_copy(
        self, job_id: str, chunk: int, row_key: str, *, s3_uri: str | None, error: str | None
    ) -> bool:
        item = self.results.items.get((job_id, row_key))
        if item is None or item.get("copy_status") != "PENDING":
            return False
        item["copy_status"] = "COPIED" if s3_uri else "COPY_FAILED"
        if s3_uri:
            item["s3_uri"] = s3_uri
        if error:
            item["copy_error"] = error
        return True

    def copies_pending(self, job_id: str, first_row_key: str, last_row_key: str) -> int:
        return sum(
            1
            for (job, key), item in self.results.items.items()
            if job == job_id
            and first_row_key <= key <= last_row_key
            and item.get("copy_status") == "PENDING"
        )

    def mark_copies_done(self, job_id: str, chunk: int) -> None:
        stored = self.jobs.chunks.get((job_id, chunk))
        if stored is not None:
            stored.copies_done = True
