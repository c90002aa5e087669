"""A submitted chunk's progress short of a state move: Sync's status, the poll order, the
fan-out lease and its copies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from syncdrop import keys
from syncdrop.adapters.dynamo_items import _iso
from syncdrop.adapters.dynamo_leases import Lease, Leases
from syncdrop.jobs import Chunk, ChunkStatus

# The one worker writing a chunk's results, until they are written.
FAN_OUT_LEASE = Lease(
    "fan_out_claim", "fan_out_at", "attribute_exists(pk) AND attribute_not_exists(results_written)"
)


class ChunkProgress(Leases):
    def record_sync_status(self, chunk: Chunk, status: str, *, now: datetime) -> bool:
        """What a webhook or a poll said about the chunk's batch (no state change)."""
        return self._record_status(
            keys.chunk_key(chunk.job_id, chunk.number), status, now, "attribute_exists(pk)"
        )

    def record_batch_status(
        self, job_id: str, number: int, batch_id: str, status: str, *, now: datetime
    ) -> bool:
        """record_sync_status in one conditional write when the chunk holds ``batch_id``;
        False when it does not (no such chunk, another batch, or not adopted yet)."""
        return self._record_status(
            keys.chunk_key(job_id, number),
            status,
            now,
            "batch_id = :batch",
            {":batch": {"S": batch_id}},
        )

    def _record_status(
        self,
        key: dict[str, Any],
        status: str,
        now: datetime,
        condition: str,
        values: dict[str, Any] | None = None,
    ) -> bool:
        return self.update_if(
            key,
            UpdateExpression="SET last_sync_status = :st, sync_status_at = :now",
            ConditionExpression=condition,
            ExpressionAttributeValues={
                ":st": {"S": status},
                ":now": {"S": _iso(now)},
                **(values or {}),
            },
        )

    def touch_submitted(self, chunk: Chunk, *, now: datetime) -> bool:
        """Move a SUBMITTED chunk to the back of the poll order after checking on it."""
        return self.update_if(
            keys.chunk_key(chunk.job_id, chunk.number),
            UpdateExpression="SET open_since = :since",
            ConditionExpression="#s = :submitted",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={
                ":since": {"S": keys.open_since(_iso(now), chunk.job_id, chunk.number)},
                ":submitted": {"S": ChunkStatus.SUBMITTED.value},
            },
        )

    def mark_copies_enqueued(self, chunk: Chunk) -> None:
        # Conditional: an UpdateItem of a missing key would create a chunk with no fields.
        self.update_if(
            keys.chunk_key(chunk.job_id, chunk.number),
            UpdateExpression="SET copies_enqueued = :yes",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )

    # --- the fan-out lease --------------------------------------------------------------------
    def claim_fan_out(
        self,
        chunk: Chunk,
        token: str,
        *,
        now: datetime,
        stale_before: datetime,
        sync_status: str = "",
    ) -> int:
        """The lease's attempt count once claimed; 0 when another worker holds it or the
        chunk's results are written."""
        also_set = " ADD fan_out_attempts :one"
        values: dict[str, Any] = {":one": {"N": "1"}}
        if sync_status:  # what Sync said, in the same write (one write fewer per fan-out)
            also_set = ", last_sync_status = :st, sync_status_at = :now" + also_set
            values[":st"] = {"S": sync_status}
        answer = self._take_lease(
            keys.chunk_key(chunk.job_id, chunk.number),
            FAN_OUT_LEASE,
            token,
            now=now,
            stale_before=stale_before,
            also_set=also_set,
            values=values,
            ReturnValues="UPDATED_NEW",
        )
        return 0 if answer is None else int(answer["Attributes"]["fan_out_attempts"]["N"])

    def release_fan_out(self, chunk: Chunk, token: str) -> bool:
        return self._end_lease(keys.chunk_key(chunk.job_id, chunk.number), FAN_OUT_LEASE, token)

    def record_fan_out_error(self, chunk: Chunk, reason: str) -> None:
        self._call(
            "update_item",
            Key=keys.chunk_key(chunk.job_id, chunk.number),
            UpdateExpression="SET fan_out_error = :why",
            ExpressionAttributeValues={":why": {"S": reason[:2000]}},
        )
