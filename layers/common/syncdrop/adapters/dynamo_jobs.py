"""The job table: jobs, chunks and the batch-capacity set, every transition a conditional write."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from syncdrop.errors import StorageError
from syncdrop.jobs import Chunk, ChunkStatus, Job, JobStatus, UploadRef
from syncdrop.ports import Claim

OPEN_INDEX = "OpenChunks"
REPORTING = "REPORTING"  # open_status of a job whose report is being written
CAPACITY_KEY = {"pk": {"S": "CAPACITY"}, "sk": {"S": "BATCHES"}}

_ser = TypeSerializer()
_de = TypeDeserializer()


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def _job_key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": "JOB"}}


def _chunk_key(job_id: str, number: int) -> dict[str, Any]:
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": f"CHUNK#{number:05d}"}}


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
    )


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


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
        copies_pending=int(d.get("copies_pending", 0)),
        copies_enqueued=bool(d.get("copies_enqueued", True)),
        last_sync_status=d.get("last_sync_status", ""),
    )


def _is_condition_failure(exc: ClientError) -> bool:
    code: str = exc.response.get("Error", {}).get("Code", "")
    return code == "ConditionalCheckFailedException"


def _condition_failed(exc: ClientError) -> bool:
    """A transaction cancelled by a condition, not by a conflict with another one.

    A TransactionConflict (two writers on one item at once) is worth retrying; only a
    failed condition means the state has moved on.
    """
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return False
    reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
    return "ConditionalCheckFailed" in reasons and "TransactionConflict" not in reasons


class DynamoJobStore:
    def __init__(self, client: Any, table: str) -> None:
        self._db = client
        self._table = table

    def _call(self, op: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._db, op)(TableName=self._table, **kwargs)
        except ClientError as exc:
            if _is_condition_failure(exc):
                raise
            raise StorageError(f"DynamoDB {op} on {self._table} failed: {exc}") from exc

    # --- jobs ----------------------------------------------------------------------------
    def create_job(self, job: Job) -> Job:
        item = {
            **_job_key(job.job_id),
            "type": {"S": "job"},
            "job_id": {"S": job.job_id},
            "bucket": {"S": job.upload.bucket},
            "key": {"S": job.upload.key},
            "status": {"S": job.status.value},
            "created_at": {"S": _iso(job.created_at)},
        }
        if job.upload.version_id:
            item["version_id"] = {"S": job.upload.version_id}
        if job.upload.size is not None:
            item["size"] = {"N": str(job.upload.size)}
        try:
            self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(pk)")
            return job
        except ClientError:
            existing = self.get_job(job.job_id)
            if existing is None:  # deleted between the two calls: nothing sane to do but retry
                raise StorageError(f"job {job.job_id} vanished while being created") from None
            return existing

    def get_job(self, job_id: str) -> Job | None:
        answer = self._call("get_item", Key=_job_key(job_id), ConsistentRead=True)
        item = answer.get("Item")
        return _job_from(item) if item else None

    def finish_intake(self, job: Job) -> bool:
        try:
            self._call(
                "update_item",
                Key=_job_key(job.job_id),
                UpdateExpression=(
                    "SET #s = :s, #rows = :rows, #valid = :valid, #rej = :rej, "
                    "#chunks = :chunks, #cols = :cols, #msg = :msg, #plan = :plan"
                ),
                ConditionExpression="#s = :received",
                ExpressionAttributeNames={
                    "#s": "status",
                    "#rows": "rows",
                    "#valid": "valid",
                    "#rej": "rejected",
                    "#chunks": "chunk_count",
                    "#cols": "columns",
                    "#msg": "message",
                    "#plan": "plan",
                },
                ExpressionAttributeValues={
                    ":s": {"S": job.status.value},
                    ":rows": {"N": str(job.rows)},
                    ":valid": {"N": str(job.valid)},
                    ":rej": {"N": str(job.rejected)},
                    ":chunks": {"N": str(job.chunk_count)},
                    ":cols": {"S": json.dumps(job.columns)},
                    ":msg": {"S": job.message},
                    ":plan": {"S": json.dumps(job.plan)},
                    ":received": {"S": JobStatus.RECEIVED.value},
                },
            )
            return True
        except ClientError:
            return False

    # --- chunks --------------------------------------------------------------------------
    def put_chunk(self, chunk: Chunk) -> None:
        now = _iso(chunk.updated_at or datetime.now(UTC))
        item = {
            **_chunk_key(chunk.job_id, chunk.number),
            "type": {"S": "chunk"},
            "job_id": {"S": chunk.job_id},
            "number": {"N": str(chunk.number)},
            "status": {"S": chunk.status.value},
            "rows": {"N": str(chunk.rows)},
            "input_key": {"S": chunk.input_key},
            "manifest_key": {"S": chunk.manifest_key},
            "updated_at": {"S": now},
            "attempts": {"N": "0"},
            "open_status": {"S": chunk.status.value},
            "open_since": {"S": f"{now}#{chunk.job_id}#{chunk.number:05d}"},
        }
        # Already recorded by an earlier attempt: keep its state.
        with suppress(ClientError):
            self._call("put_item", Item=item, ConditionExpression="attribute_not_exists(pk)")

    def job_chunks(self, job_id: str) -> list[Chunk]:
        chunks: list[Chunk] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "ExpressionAttributeValues": {":pk": {"S": f"JOB#{job_id}"}, ":chunk": {"S": "CHUNK#"}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("query", **kwargs)
            chunks.extend(_chunk_from(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return chunks
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_chunk(self, job_id: str, number: int) -> Chunk | None:
        answer = self._call("get_item", Key=_chunk_key(job_id, number), ConsistentRead=True)
        item = answer.get("Item")
        return _chunk_from(item) if item else None

    def open_chunks(
        self, status: ChunkStatus, *, before: datetime | None = None, limit: int = 100
    ) -> list[Chunk]:
        condition = "open_status = :s"
        values: dict[str, Any] = {":s": {"S": status.value}}
        if before is not None:
            condition += " AND open_since < :before"
            values[":before"] = {"S": _iso(before)}
        page = self._call(
            "query",
            IndexName=OPEN_INDEX,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=values,
            Limit=limit,
        )
        return [_chunk_from(i) for i in page.get("Items", [])]

    def _moved(self, status: ChunkStatus, now: datetime, chunk: Chunk) -> dict[str, Any]:
        """Attribute values that put a chunk in ``status`` and keep the open index right."""
        return {
            ":to": {"S": status.value},
            ":now": {"S": _iso(now)},
            ":since": {"S": f"{_iso(now)}#{chunk.job_id}#{chunk.number:05d}"},
        }

    def claim_for_submission(self, chunk: Chunk, *, limit: int, now: datetime) -> Claim:
        values = self._moved(ChunkStatus.SUBMITTING, now, chunk)
        values[":queued"] = {"S": ChunkStatus.QUEUED.value}
        values[":one"] = {"N": "1"}
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": CAPACITY_KEY,
                            "UpdateExpression": "ADD holders :h",
                            "ConditionExpression": (
                                "attribute_not_exists(holders) OR "
                                "(size(holders) < :limit AND NOT contains(holders, :hv))"
                            ),
                            "ExpressionAttributeValues": {
                                ":h": {"SS": [chunk.holder]},
                                ":hv": {"S": chunk.holder},
                                ":limit": {"N": str(limit)},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _chunk_key(chunk.job_id, chunk.number),
                            "UpdateExpression": (
                                "SET #s = :to, open_status = :to, open_since = :since, "
                                "updated_at = :now, submitting_at = :now ADD attempts :one"
                            ),
                            "ConditionExpression": "#s = :queued",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                ]
            )
            return Claim.CLAIMED
        except ClientError as exc:
            if not _condition_failed(exc):
                raise StorageError(f"claiming chunk {chunk.holder} failed: {exc}") from exc
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if len(reasons) == 2 and reasons[1] == "ConditionalCheckFailed":
                return Claim.NOT_QUEUED
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return Claim.NO_CAPACITY
            raise StorageError(f"claiming chunk {chunk.holder} was cancelled: {reasons}") from exc

    def _transition(
        self,
        chunk: Chunk,
        *,
        to: ChunkStatus,
        allowed_from: tuple[ChunkStatus, ...],
        now: datetime,
        release: bool,
        extra_set: str = "",
        extra_values: dict[str, Any] | None = None,
        extra_condition: str = "",
    ) -> bool:
        values = self._moved(to, now, chunk)
        values.update(extra_values or {})
        from_names = []
        for i, status in enumerate(allowed_from):
            values[f":from{i}"] = {"S": status.value}
            from_names.append(f":from{i}")
        if to.is_open:
            update = "SET #s = :to, open_status = :to, open_since = :since, updated_at = :now"
        else:
            values.pop(":since")
            update = "SET #s = :to, updated_at = :now"
        update += extra_set
        if not to.is_open:
            update += " REMOVE open_status, open_since"
        chunk_update = {
            "TableName": self._table,
            "Key": _chunk_key(chunk.job_id, chunk.number),
            "UpdateExpression": update,
            "ConditionExpression": f"#s IN ({', '.join(from_names)}){extra_condition}",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": values,
        }
        items: list[dict[str, Any]] = [{"Update": chunk_update}]
        if release:
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": CAPACITY_KEY,
                        "UpdateExpression": "DELETE holders :h",
                        "ExpressionAttributeValues": {":h": {"SS": [chunk.holder]}},
                    }
                }
            )
        try:
            self._db.transact_write_items(TransactItems=items)
            return True
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise StorageError(f"moving chunk {chunk.holder} to {to} failed: {exc}") from exc

    def mark_submitted(self, chunk: Chunk, batch_id: str, *, now: datetime) -> bool:
        return self._transition(
            chunk,
            to=ChunkStatus.SUBMITTED,
            allowed_from=(ChunkStatus.SUBMITTING,),
            now=now,
            release=False,
            extra_set=", batch_id = :batch, submitted_at = :now",
            extra_values={":batch": {"S": batch_id}},
        )

    def release_to_queue(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        return self._transition(
            chunk,
            to=ChunkStatus.QUEUED,
            allowed_from=(ChunkStatus.SUBMITTING,),
            now=now,
            release=True,
            extra_set=", last_error = :why",
            extra_values={":why": {"S": reason[:1000]}},
        )

    def fail_chunk(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        return self._transition(
            chunk,
            to=ChunkStatus.FAILED,
            allowed_from=(ChunkStatus.QUEUED, ChunkStatus.SUBMITTING, ChunkStatus.SUBMITTED),
            now=now,
            release=True,
            extra_set=", error_reason = :why",
            extra_values={":why": {"S": reason[:2000]}},
        )

    def open_batch_holders(self) -> set[str]:
        answer = self._call("get_item", Key=CAPACITY_KEY, ConsistentRead=True)
        holders = answer.get("Item", {}).get("holders", {}).get("SS", [])
        return set(holders)

    # --- completion --------------------------------------------------------------------------
    def record_sync_status(self, chunk: Chunk, status: str, *, now: datetime) -> bool:
        """What a webhook or a poll said about the chunk's batch (no state change)."""
        try:
            self._call(
                "update_item",
                Key=_chunk_key(chunk.job_id, chunk.number),
                UpdateExpression="SET last_sync_status = :st, sync_status_at = :now",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues={":st": {"S": status}, ":now": {"S": _iso(now)}},
            )
            return True
        except ClientError:
            return False

    def record_batch_status(
        self, job_id: str, number: int, batch_id: str, status: str, *, now: datetime
    ) -> bool:
        """record_sync_status in one conditional write when the chunk holds ``batch_id``;
        False when it does not (no such chunk, another batch, or not adopted yet)."""
        try:
            self._call(
                "update_item",
                Key=_chunk_key(job_id, number),
                UpdateExpression="SET last_sync_status = :st, sync_status_at = :now",
                ConditionExpression="batch_id = :batch",
                ExpressionAttributeValues={
                    ":st": {"S": status},
                    ":now": {"S": _iso(now)},
                    ":batch": {"S": batch_id},
                },
            )
            return True
        except ClientError:
            return False

    def touch_submitted(self, chunk: Chunk, *, now: datetime) -> bool:
        """Move a SUBMITTED chunk to the back of the poll order after checking on it."""
        try:
            self._call(
                "update_item",
                Key=_chunk_key(chunk.job_id, chunk.number),
                UpdateExpression="SET open_since = :since",
                ConditionExpression="#s = :submitted",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":since": {"S": f"{_iso(now)}#{chunk.job_id}#{chunk.number:05d}"},
                    ":submitted": {"S": ChunkStatus.SUBMITTED.value},
                },
            )
            return True
        except ClientError:
            return False

    def close_chunk(
        self,
        chunk: Chunk,
        to: ChunkStatus,
        *,
        completed: int,
        failed: int,
        now: datetime,
        copies: int = 0,
    ) -> bool:
        """Every row has its results item: end the chunk and free its capacity slot.

        ``copies`` videos are still to be copied; each finished copy takes one off.
        """
        return self._transition(
            chunk,
            to=to,
            allowed_from=(ChunkStatus.SUBMITTED, ChunkStatus.FAILED),
            now=now,
            release=True,
            extra_set=(
                ", results_written = :yes, rows_completed = :ok, rows_failed = :ko,"
                " copies_enqueued = :enqueued ADD copies_pending :copies"
            ),
            extra_condition=" AND attribute_not_exists(results_written)",
            extra_values={
                ":yes": {"BOOL": True},
                ":ok": {"N": str(completed)},
                ":ko": {"N": str(failed)},
                ":enqueued": {"BOOL": copies == 0},
                ":copies": {"N": str(copies)},
            },
        )

    def mark_copies_enqueued(self, chunk: Chunk) -> None:
        self._call(
            "update_item",
            Key=_chunk_key(chunk.job_id, chunk.number),
            UpdateExpression="SET copies_enqueued = :yes",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )

    # --- the one email ------------------------------------------------------------------------
    def claim_report(
        self, job_id: str, token: str, *, now: datetime, stale_before: datetime
    ) -> bool:
        """Become the one worker that writes the report and sends the email (a lease)."""
        try:
            self._call(
                "update_item",
                Key=_job_key(job_id),
                UpdateExpression=(
                    "SET report_claim = :token, open_status = :reporting, open_since = :now"
                ),
                ConditionExpression=(
                    "attribute_not_exists(notified_at) AND "
                    "(attribute_not_exists(report_claim) OR open_since < :stale)"
                ),
                ExpressionAttributeValues={
                    ":token": {"S": token},
                    ":reporting": {"S": REPORTING},
                    ":now": {"S": _iso(now)},
                    ":stale": {"S": _iso(stale_before)},
                },
            )
            return True
        except ClientError:
            return False

    def finish_report(self, job_id: str, token: str, status: JobStatus, *, now: datetime) -> bool:
        """The email went out: record it, so no retry ever sends another."""
        try:
            self._call(
                "update_item",
                Key=_job_key(job_id),
                UpdateExpression=(
                    "SET #s = :status, notified_at = :now "
                    "REMOVE report_claim, open_status, open_since"
                ),
                ConditionExpression="report_claim = :token",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":status": {"S": status.value},
                    ":now": {"S": _iso(now)},
                    ":token": {"S": token},
                },
            )
            return True
        except ClientError:
            return False

    def stale_reports(self, *, before: datetime, limit: int = 50) -> list[str]:
        """Jobs whose report worker stopped before sending the email."""
        page = self._call(
            "query",
            IndexName=OPEN_INDEX,
            KeyConditionExpression="open_status = :s AND open_since < :before",
            ExpressionAttributeValues={":s": {"S": REPORTING}, ":before": {"S": _iso(before)}},
            Limit=limit,
        )
        return [_plain(i)["job_id"] for i in page.get("Items", [])]
