"""The collaborators the domain needs, as protocols: adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus, Job, JobStatus, UploadRef

if TYPE_CHECKING:  # only named in signatures: a function that never reports loads no report code
    from syncdrop.copy_tasks import CopyTask
    from syncdrop.media_files import MediaHead, MediaItem
    from syncdrop.messages import ResultsMessage
    from syncdrop.report import Email
    from syncdrop.sync_models import (
        Asset,
        AssetUpload,
        Batch,
        BatchStatus,
        Generation,
        Validated,
    )


@dataclass(frozen=True, slots=True)
class CopyRecord:
    """One row's copy, finished: where the video is now, or why it is not."""

    row_key: str
    s3_uri: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class SliceProgress:
    """A chunk's copy slices after one was closed: how many are done, and whether the chunk
    was marked done already."""

    slices_done: int
    copies_done: bool


class Claim(StrEnum):
    CLAIMED = "CLAIMED"
    NO_CAPACITY = "NO_CAPACITY"  # BatchConcurrency batches are open already
    NOT_QUEUED = "NOT_QUEUED"  # someone else moved the chunk on
    CANCELLED = "CANCELLED"  # its job was cancelled: the chunk must never reach Sync


class JobStore(Protocol):
    def create_job(self, job: Job) -> Job:
        """Record the job unless it exists; return what is stored."""
        ...

    def get_job(self, job_id: str) -> Job | None: ...

    def finish_intake(self, job: Job) -> bool:
        """RECEIVED → RUNNING/FAILED/VALIDATED with counts and message; False if not RECEIVED."""
        ...

    def put_chunk(self, chunk: Chunk) -> None:
        """Record a QUEUED chunk unless it exists (a retried intake writes the same chunks)."""
        ...

    def put_generation_chunks(self, chunks: list[Chunk]) -> None:
        """Record QUEUED one-row chunks, each unless it exists."""
        ...

    def replace_with_generations(
        self, chunk: Chunk, generations: list[Chunk], note: str, *, now: datetime, message: str
    ) -> bool:
        """A QUEUED/SUBMITTING batch chunk becomes ``generations`` (its rows, one chunk each):
        the job counts them and goes by generate with ``note`` saying why (its status line
        becomes ``message``); False if the chunk moved on."""
        ...

    def job_chunks(self, job_id: str) -> list[Chunk]: ...

    def open_chunks(
        self,
        status: ChunkStatus,
        *,
        before: datetime | None = None,
        limit: int = 100,
        kind: ChunkKind = ChunkKind.BATCH,
    ) -> list[Chunk]:
        """Chunks of one kind in an open status, oldest first, from the OpenChunks index."""
        ...

    def claim_for_submission(self, chunk: Chunk, *, limit: int, now: datetime) -> Claim:
        """QUEUED → SUBMITTING with a slot, in one transaction that also checks the job has
        no cancel request (so no chunk is claimed once `syncdrop cancel` has written it)."""
        ...

    def request_cancel(self, job_id: str, who: str) -> bool:
        """Record who cancelled the job and when (the first request wins); False when the job
        is missing, finished or being reported."""
        ...

    def cancel_queued_chunk(self, chunk: Chunk, *, now: datetime) -> bool:
        """QUEUED → CANCELLED, its rows already written, counted as closed; False if it moved
        on (claimed before the cancel request)."""
        ...

    def mark_submitted(self, chunk: Chunk, batch_id: str, *, now: datetime) -> bool: ...

    def release_to_queue(self, chunk: Chunk, reason: str, *, now: datetime) -> bool: ...

    def fail_chunk(self, chunk: Chunk, reason: str, *, now: datetime) -> bool: ...

    def open_batch_holders(self) -> set[str]: ...

    def open_generation_holders(self) -> set[str]: ...

    # --- the Sync account: request pace and batch access ---------------------------------------
    def take_generate_turn(self, *, now: datetime, interval: float) -> float:
        """0 when a POST /v2/generate may go now (the turn is taken); else seconds to wait."""
        ...

    def record_batch_refusal(self, reason: str, *, now: datetime) -> None: ...

    def batch_refusal(self, *, now: datetime) -> str | None:
        """Why Sync recently refused this account batches (402), or None."""
        ...

    def get_chunk(self, job_id: str, number: int) -> Chunk | None: ...

    def record_sync_status(self, chunk: Chunk, status: str, *, now: datetime) -> bool: ...

    def record_batch_status(
        self, job_id: str, number: int, batch_id: str, status: str, *, now: datetime
    ) -> bool:
        """Record what Sync said if the chunk holds ``batch_id``, in one write; else False."""
        ...

    def touch_submitted(self, chunk: Chunk, *, now: datetime) -> bool: ...

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
        """End the chunk once every row has its item; with ``token``, only the lease holder.

        ``copies`` videos are still to be copied (none: the copies are done at once);
        ``row_keys`` is the chunk's first and last results row key, where they are counted.
        """
        ...

    def mark_copies_enqueued(self, chunk: Chunk) -> None: ...

    def claim_report(
        self, job_id: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool: ...

    def finish_report(
        self, job_id: str, token: str, status: JobStatus, *, now: datetime
    ) -> bool: ...

    def stale_reports(self, *, before: datetime, limit: int = 50) -> list[str]: ...

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
        """Become the one worker that writes the chunk's rows (no live lease, results not
        written) and count the attempt against its budget, in one write (with what Sync said,
        if given): the attempt's number, or 0 when another worker holds the lease or the
        chunk is closed."""
        ...

    def release_fan_out(self, chunk: Chunk, token: str) -> bool:
        """Give the lease back (the rows were not all written); False if not held."""
        ...

    def record_fan_out_error(self, chunk: Chunk, reason: str) -> None:
        """Why the last fan-out attempt failed: the reason given when the budget is spent."""
        ...

    def fail_queued_chunk(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        """QUEUED → FAILED (never sent); False if it moved on (claimed for submission)."""
        ...

    def jobs_past_deadline(self, *, now: datetime, limit: int = 50) -> list[str]:
        """Jobs not yet reported whose deadline is before ``now``, from the OpenChunks index."""
        ...

    def claim_rewrite(
        self, job_id: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Become the one worker rewriting an emailed job's results CSV (a lease)."""
        ...

    def finish_rewrite(self, job_id: str, token: str) -> bool: ...


class ResultStore(Protocol):
    def put_rows(self, job_id: str, items: Iterable[dict[str, object]]) -> int:
        """Write one results item per row (idempotent: keyed by job and row); return count."""
        ...

    def job_rows(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every results item of one job in row order."""
        ...

    def get_row(self, job_id: str, row_key: str) -> dict[str, Any] | None: ...


class OutputsQueue(Protocol):
    def send_copies(self, tasks: Iterable[CopyTask]) -> int: ...


class CopyLedger(Protocol):
    def rows(self, job_id: str, row_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The results items of these rows that exist, by row key (one consistent read)."""
        ...

    def record_copies(self, job_id: str, copies: Sequence[CopyRecord]) -> set[str]:
        """Each row PENDING → COPIED or COPY_FAILED, once; the row keys recorded now (a row
        closed before, by a redelivered task, is left as it is)."""
        ...

    def close_slice(
        self, job_id: str, chunk: int, number: int, *, videos: int = 0, failed: int = 0
    ) -> SliceProgress:
        """Mark one slice of the chunk's copies done, adding its ``videos`` (copied or given
        up on) and ``failed`` (given up on) to the chunk's counts, once however often it is
        closed; what the chunk has now."""
        ...

    def record_copy(
        self, job_id: str, chunk: int, row_key: str, *, s3_uri: str | None, error: str | None
    ) -> bool:
        """PENDING → COPIED or COPY_FAILED on the row, once; False when it was closed before."""
        ...

    def copies_pending(self, job_id: str, first_row_key: str, last_row_key: str) -> int:
        """Rows between the two keys whose copy is still PENDING (a consistent read);
        0 means none, any other number means at least that many."""
        ...

    def mark_copies_done(self, job_id: str, chunk: int) -> None:
        """No copy of the chunk is pending any more (idempotent)."""
        ...


class ResultsQueue(Protocol):
    def send(self, message: ResultsMessage) -> None: ...


class Notifier(Protocol):
    def publish(self, email: Email) -> str: ...


class ResultLines(Protocol):
    def lines(self, output_url: str) -> Iterator[bytes]: ...

    def file_chunks(
        self, url: str, *, chunk_size: int = ...
    ) -> AbstractContextManager[Iterator[bytes]]: ...


class ObjectStore(Protocol):
    @property
    def bucket(self) -> str:
        """The uploads bucket the store writes to."""
        ...

    def open_upload(self, upload: UploadRef) -> BinaryIO: ...

    def open_upload_with_metadata(self, upload: UploadRef) -> tuple[BinaryIO, Mapping[str, str]]:
        """The upload's stream and its user metadata (x-amz-meta-*), from one GetObject."""
        ...

    def upload_metadata(self, upload: UploadRef) -> Mapping[str, str]:
        """The upload's user metadata alone (HeadObject), for a file refused before reading."""
        ...

    def upload_size(self, upload: UploadRef) -> int: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> str | None:
        """Write the object; its VersionId (None when the bucket keeps no versions)."""
        ...

    def put_file(self, key: str, source: BinaryIO, content_type: str) -> str | None:
        """Write a seekable file as the object; its VersionId, as put_bytes."""
        ...

    def put_stream(self, key: str, chunks: Iterator[bytes], content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def presign_get(
        self, bucket: str, key: str, expires_in: int, version_id: str | None = None
    ) -> str:
        """A GET link; with ``version_id`` it serves that version even after a newer write."""
        ...

    def media_head(self, bucket: str, key: str) -> MediaHead:
        """HeadObject of a media file: UploadMissing/UploadRefused when it cannot be read."""
        ...

    def media_stream(self, head: MediaHead, *, chunk_size: int = ...) -> Iterator[bytes]:
        """The bytes of exactly the content ``head`` describes, chunk by chunk."""
        ...


class SyncApi(Protocol):
    def create_batch(
        self, jsonl: bytes, *, webhook_url: str | None, dry_run: bool = False, filename: str = ...
    ) -> Batch | Validated: ...

    def get_batch(self, batch_id: str) -> Batch: ...

    def list_batches(
        self,
        *,
        status: BatchStatus | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> list[Batch]: ...

    def create_generation(
        self, payload: Mapping[str, Any], *, idempotency_key: str
    ) -> Generation: ...

    def get_generation(self, generation_id: str) -> Generation: ...

    def list_generations(self, ids: Sequence[str]) -> list[Generation]: ...

    # --- assets: media uploaded once and named by id -----------------------------------------
    def find_uploaded_asset(self, sha256: str, kind: str) -> Asset | None: ...

    def create_asset_upload(self, file_name: str, content_type: str, size: int) -> AssetUpload: ...

    def put_asset_bytes(
        self, upload: AssetUpload, content_type: str, body: Iterator[bytes] | bytes, size: int
    ) -> None: ...

    def register_asset(self, url: str, kind: str, name: str) -> Asset: ...

    def get_asset(self, asset_id: str) -> Asset: ...


class MediaAssetItems(Protocol):
    """One job-table item per media file content: its asset ids by kind, and an upload lease."""

    def media_item(self, head: MediaHead) -> MediaItem | None: ...

    def claim_upload(
        self, head: MediaHead, kind: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Become the one worker uploading this content as ``kind`` (no asset of that kind yet,
        no live lease); False otherwise."""
        ...

    def record_digest(self, head: MediaHead, token: str, sha256: str) -> None:
        """Keep the content's SHA-256 while the lease is held (a retry need not hash again)."""
        ...

    def record_asset(
        self, head: MediaHead, kind: str, token: str, *, asset_id: str, sha256: str
    ) -> str:
        """Store the asset id (unless one is stored already: that one is returned) and give
        the lease back."""
        ...

    def release_upload(self, head: MediaHead, token: str) -> None: ...


__all__ = [
    "Claim",
    "CopyLedger",
    "CopyRecord",
    "JobStatus",
    "JobStore",
    "MediaAssetItems",
    "Notifier",
    "ObjectStore",
    "OutputsQueue",
    "ResultLines",
    "ResultStore",
    "ResultsQueue",
    "SliceProgress",
    "SyncApi",
]
