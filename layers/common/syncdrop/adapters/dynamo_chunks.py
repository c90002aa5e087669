"""Chunk items and their state machine: every move one conditional write, with its batch slot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from syncdrop import keys
from syncdrop.adapters.dynamo_calls import cancellation_reasons
from syncdrop.adapters.dynamo_capacity import release_slot, take_slot
from syncdrop.adapters.dynamo_items import _chunk_from, _iso
from syncdrop.adapters.dynamo_table import OPEN_INDEX, DynamoTable
from syncdrop.errors import StorageError
from syncdrop.jobs import Chunk, ChunkKind, ChunkStatus
from syncdrop.ports import Claim

# DynamoDB's most items in one transaction, and (with room for keys and names) its 4 MB.
TRANSACTION_ITEMS = 100
TRANSACTION_BYTES = 3_500_000


def _transaction_groups(chunks: list[Chunk]) -> list[list[Chunk]]:
    groups: list[list[Chunk]] = [[]]
    size = 0
    for chunk in chunks:
        weight = len(chunk.line.encode()) + len(chunk.manifest.encode()) + 1_000
        if groups[-1] and (
            len(groups[-1]) >= TRANSACTION_ITEMS or size + weight > TRANSACTION_BYTES
        ):
            groups.append([])
            size = 0
        groups[-1].append(chunk)
        size += weight
    return [group for group in groups if group]


def _is_generation(chunk: Chunk) -> bool:
    return chunk.kind is ChunkKind.GENERATION


def _open_status(chunk: Chunk, status: ChunkStatus) -> dict[str, Any]:
    return {"S": keys.open_status_value(status.value, _is_generation(chunk))}


class ChunkItems(DynamoTable):
    def put_chunk(self, chunk: Chunk) -> None:
        self.put_new(self._chunk_item(chunk))  # False: recorded by an earlier attempt

    def _chunk_item(self, chunk: Chunk) -> dict[str, Any]:
        now = _iso(chunk.updated_at or datetime.now(UTC))
        item = {
            **keys.chunk_key(chunk.job_id, chunk.number),
            "type": {"S": "chunk"},
            "job_id": {"S": chunk.job_id},
            "number": {"N": str(chunk.number)},
            "status": {"S": chunk.status.value},
            "rows": {"N": str(chunk.rows)},
            "input_key": {"S": chunk.input_key},
            "manifest_key": {"S": chunk.manifest_key},
            "updated_at": {"S": now},
            "attempts": {"N": "0"},
            "open_status": _open_status(chunk, chunk.status),
            "open_since": {"S": keys.open_since(now, chunk.job_id, chunk.number)},
        }
        if _is_generation(chunk):
            item["kind"] = {"S": chunk.kind.value}
            item["line"] = {"S": chunk.line}
            item["manifest"] = {"S": chunk.manifest}
        return item

    def put_generation_chunks(self, chunks: list[Chunk]) -> None:
        """Record many one-row chunks, each unless it exists: up to 100 conditional writes (and
        under DynamoDB's 4 MB) a transaction; a retried intake whose transaction meets recorded
        ones writes one by one.

        Written as UpdateItem, not PutItem: fan_out_results and reconcile create them too
        (when Sync refuses a batch for the plan), and their roles have no PutItem."""
        for group in _transaction_groups(chunks):
            items = [self._created(self._chunk_item(chunk)) for chunk in group]
            updates = [{"Update": {"TableName": self._table, **item}} for item in items]
            if not self._calls.conditional("transact_write_items", TransactItems=updates):
                for item in items:
                    self._calls.conditional("update_item", TableName=self._table, **item)

    @staticmethod
    def _created(item: dict[str, Any]) -> dict[str, Any]:
        """An UpdateItem that creates ``item`` unless its key exists (then changes nothing)."""
        attributes = {k: v for k, v in item.items() if k not in ("pk", "sk")}
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":a{i}": value for i, value in enumerate(attributes.values())}
        return {
            "Key": {"pk": item["pk"], "sk": item["sk"]},
            "UpdateExpression": "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(names))),
            "ConditionExpression": "attribute_not_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def replace_with_generations(
        self, chunk: Chunk, generations: list[Chunk], note: str, *, now: datetime, message: str
    ) -> bool:
        """A batch chunk Sync refused for the plan becomes one generation chunk per row: those
        are recorded first (idempotent), then one transaction ends the batch chunk, frees its
        slot and counts the new chunks into the job. False when the chunk had moved on."""
        self.put_generation_chunks(generations)
        values = {
            ":to": {"S": ChunkStatus.REPLACED.value},
            ":now": {"S": _iso(now)},
            ":yes": {"BOOL": True},
            ":q": {"S": ChunkStatus.QUEUED.value},
            ":s": {"S": ChunkStatus.SUBMITTING.value},
        }
        items: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self._table,
                    "Key": keys.chunk_key(chunk.job_id, chunk.number),
                    "UpdateExpression": (
                        "SET #s = :to, updated_at = :now, results_written = :yes, "
                        "copies_enqueued = :yes, copies_done = :yes "
                        "REMOVE open_status, open_since"
                    ),
                    "ConditionExpression": "#s IN (:q, :s)",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": values,
                }
            },
            release_slot(self._table, chunk.holder),
            {
                "Update": {
                    "TableName": self._table,
                    "Key": keys.job_key(chunk.job_id),
                    "UpdateExpression": (
                        "SET route = :route, route_note = :note, message = :message "
                        "ADD chunk_count :added, chunks_closed :one"
                    ),
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {
                        ":route": {"S": "generate"},
                        ":note": {"S": note},
                        ":message": {"S": message},
                        ":added": {"N": str(len(generations))},
                        ":one": {"N": "1"},
                    },
                }
            },
        ]
        return self._calls.conditional("transact_write_items", TransactItems=items)

    def job_chunks(self, job_id: str) -> list[Chunk]:
        chunks: list[Chunk] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.job_pk(job_id)},
                ":chunk": {"S": keys.CHUNK_PREFIX},
            },
            "ConsistentRead": True,
        }
        while True:
            page = self._call("query", **kwargs)
            chunks.extend(_chunk_from(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return chunks
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_chunk(self, job_id: str, number: int) -> Chunk | None:
        answer = self._call("get_item", Key=keys.chunk_key(job_id, number), ConsistentRead=True)
        item = answer.get("Item")
        return _chunk_from(item) if item else None

    def open_chunks(
        self,
        status: ChunkStatus,
        *,
        before: datetime | None = None,
        limit: int = 100,
        kind: ChunkKind = ChunkKind.BATCH,
    ) -> list[Chunk]:
        condition = "open_status = :s"
        generation = kind is ChunkKind.GENERATION
        values: dict[str, Any] = {":s": {"S": keys.open_status_value(status.value, generation)}}
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
            ":open": _open_status(chunk, status),
            ":now": {"S": _iso(now)},
            ":since": {"S": keys.open_since(_iso(now), chunk.job_id, chunk.number)},
        }

    def claim_for_submission(self, chunk: Chunk, *, limit: int, now: datetime) -> Claim:
        values = self._moved(ChunkStatus.SUBMITTING, now, chunk)
        values[":queued"] = {"S": ChunkStatus.QUEUED.value}
        values[":one"] = {"N": "1"}
        generation = _is_generation(chunk)
        try:
            self._calls.call(
                "transact_write_items",
                TransactItems=[
                    take_slot(self._table, chunk.holder, limit=limit, generation=generation),
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": keys.chunk_key(chunk.job_id, chunk.number),
                            "UpdateExpression": (
                                "SET #s = :to, open_status = :open, open_since = :since, "
                                "updated_at = :now, submitting_at = :now ADD attempts :one"
                            ),
                            "ConditionExpression": "#s = :queued",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": values,
                        }
                    },
                    # `syncdrop cancel` sets cancel_requested with one conditional write:
                    # serialized against this transaction, so no claim succeeds after it.
                    {
                        "ConditionCheck": {
                            "TableName": self._table,
                            "Key": keys.job_key(chunk.job_id),
                            "ConditionExpression": "attribute_not_exists(cancel_requested)",
                        }
                    },
                ],
            )
            return Claim.CLAIMED
        except ClientError as exc:  # a failed condition; conflicts were retried in _calls
            # Reasons come in TransactItems order: the slot, the chunk, then the job.
            reasons = cancellation_reasons(exc)
            if len(reasons) == 3 and reasons[2] == "ConditionalCheckFailed":
                return Claim.CANCELLED
            if len(reasons) >= 2 and reasons[1] == "ConditionalCheckFailed":
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
        count_closed: bool = False,
    ) -> bool:
        values = self._moved(to, now, chunk)
        values.update(extra_values or {})
        from_names = []
        for i, status in enumerate(allowed_from):
            values[f":from{i}"] = {"S": status.value}
            from_names.append(f":from{i}")
        if to.is_open:
            update = "SET #s = :to, open_status = :open, open_since = :since, updated_at = :now"
        else:
            values.pop(":since")
            values.pop(":open")
            update = "SET #s = :to, updated_at = :now"
        update += extra_set
        if not to.is_open:
            update += " REMOVE open_status, open_since"
        chunk_update = {
            "TableName": self._table,
            "Key": keys.chunk_key(chunk.job_id, chunk.number),
            "UpdateExpression": update,
            "ConditionExpression": f"#s IN ({', '.join(from_names)}){extra_condition}",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": values,
        }
        items: list[dict[str, Any]] = [{"Update": chunk_update}]
        if release:
            items.append(release_slot(self._table, chunk.holder, generation=_is_generation(chunk)))
        if count_closed:
            # Counted in the write that closes it: the job knows how many are over without
            # reading every chunk (a job of 1,200 single generations).
            items.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": keys.job_key(chunk.job_id),
                        "UpdateExpression": "ADD chunks_closed :one",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                }
            )
        return self._calls.conditional("transact_write_items", TransactItems=items)

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
        why = ("last_error", reason[:1000])
        return self._move_noting(
            chunk, ChunkStatus.QUEUED, (ChunkStatus.SUBMITTING,), why, now=now, release=True
        )

    def fail_chunk(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        why = ("error_reason", reason[:2000])
        open_statuses = (ChunkStatus.QUEUED, ChunkStatus.SUBMITTING, ChunkStatus.SUBMITTED)
        return self._move_noting(
            chunk, ChunkStatus.FAILED, open_statuses, why, now=now, release=True
        )

    def fail_queued_chunk(self, chunk: Chunk, reason: str, *, now: datetime) -> bool:
        why = ("error_reason", reason[:2000])
        # A QUEUED chunk holds no slot.
        return self._move_noting(
            chunk, ChunkStatus.FAILED, (ChunkStatus.QUEUED,), why, now=now, release=False
        )

    def cancel_queued_chunk(self, chunk: Chunk, *, now: datetime) -> bool:
        # A QUEUED chunk holds no slot; its rows were written just before, so it closes whole.
        return self._transition(
            chunk,
            to=ChunkStatus.CANCELLED,
            allowed_from=(ChunkStatus.QUEUED,),
            now=now,
            release=False,
            extra_set=", results_written = :yes, copies_enqueued = :yes, copies_done = :yes",
            extra_values={":yes": {"BOOL": True}},
            count_closed=True,
        )

    def _move_noting(
        self,
        chunk: Chunk,
        to: ChunkStatus,
        allowed_from: tuple[ChunkStatus, ...],
        why: tuple[str, str],
        *,
        now: datetime,
        release: bool,
    ) -> bool:
        """A transition that keeps its reason ``why[1]`` in the attribute ``why[0]``."""
        return self._transition(
            chunk,
            to=to,
            allowed_from=allowed_from,
            now=now,
            release=release,
            extra_set=f", {why[0]} = :why",
            extra_values={":why": {"S": why[1]}},
        )

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
        """Every row has its results item: end the chunk and free its capacity slot.

        ``copies`` videos are still to be copied (their copy workers count what is left in
        the ``row_keys`` range); with ``token``, only the fan-out lease holder closes it.
        """
        extra_set = (
            ", results_written = :yes, rows_completed = :ok, rows_failed = :ko,"
            " copies_enqueued = :none, copies_done = :none, copies_to_make = :copies"
        )
        values: dict[str, Any] = {
            ":yes": {"BOOL": True},
            ":ok": {"N": str(completed)},
            ":ko": {"N": str(failed)},
            ":none": {"BOOL": copies == 0},
            ":copies": {"N": str(copies)},
        }
        condition = " AND attribute_not_exists(results_written)"
        if row_keys is not None:
            extra_set += ", first_row_key = :first, last_row_key = :last"
            values[":first"], values[":last"] = {"S": row_keys[0]}, {"S": row_keys[1]}
        if token is not None:
            condition += " AND fan_out_claim = :token"
            values[":token"] = {"S": token}
        return self._transition(
            chunk,
            to=to,
            allowed_from=(ChunkStatus.SUBMITTED, ChunkStatus.FAILED),
            now=now,
            release=True,
            extra_set=extra_set,
            extra_condition=condition,
            extra_values=values,
            count_closed=True,
        )
