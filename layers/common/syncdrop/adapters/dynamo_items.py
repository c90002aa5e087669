"""The job table's items read back as the domain's models, and its timestamps written as text."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus, Job, JobStatus, UploadRef

_de = TypeDeserializer()


def _iso(value: datetime) -> str:
    # Milliseconds in UTC: timestamps compare as text in conditions and in the open index.
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def _job_from(item: dict[str, Any]) -> Job:
    d = _plain(item)
    return Job(
        job_id=d["job_id"],
        upload=UploadRef(
            bucket=d["bucket"], key=d["key"], version_id=d.get("version_id"), size=d.get("size")
        ),
        status=JobStatus(d["status"]),
        created_at=datetime.fromisoformat(d["created_at"]),
        rows=int(d.get("rows", 0)),
        valid=int(d.get("valid", 0)),
        rejected=int(d.get("rejected", 0)),
        chunk_count=int(d.get("chunk_count", 0)),
        columns=json.loads(d.get("columns", "[]")),
        message=d.get("message", ""),
        plan=json.loads(d.get("plan", "[]")),
        notified_at=_when(d.get("notified_at")),
        deadline=_when(d.get("deadline")),
        route=d.get("route", "batch"),
        route_note=d.get("route_note", ""),
        # Jobs recorded before chunks were counted have no count to trust.
        chunks_closed=int(d.get("chunks_closed", 0)) if d.get("counts_closed") else None,
        retry_of=d.get("retry_of", ""),
        cancel_requested=d.get("cancel_requested", ""),
        notify=json.loads(d.get("notify", "[]")),
        notify_note=d.get("notify_note", ""),
    )


def _chunk_from(item: dict[str, Any]) -> Chunk:
    d = _plain(item)
    return Chunk(
        job_id=d["job_id"],
        number=int(d["number"]),
        status=ChunkStatus(d["status"]),
        rows=int(d["rows"]),
        input_key=d["input_key"],
        manifest_key=d["manifest_key"],
        batch_id=d.get("batch_id"),
        updated_at=_when(d.get("updated_at")),
        error=d.get("error_reason", ""),
        attempts=int(d.get("attempts", 0)),
        submitted_at=_when(d.get("submitted_at")),
        results_written=bool(d.get("results_written", False)),
        copies_enqueued=bool(d.get("copies_enqueued", True)),
        # Chunks closed before copies_done existed counted their copies down instead.
        copies_done=bool(d.get("copies_done", int(d.get("copies_pending", 0)) <= 0)),
        first_row_key=d.get("first_row_key", ""),
        last_row_key=d.get("last_row_key", ""),
        fan_out_attempts=int(d.get("fan_out_attempts", 0)),
        fan_out_error=d.get("fan_out_error", ""),
        last_sync_status=d.get("last_sync_status", ""),
        kind=ChunkKind(d.get("kind", ChunkKind.BATCH.value)),
        line=d.get("line", ""),
        manifest=d.get("manifest", ""),
    )
