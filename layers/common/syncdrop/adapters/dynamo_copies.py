"""The copy ledger: rows' videos copied (or given up on), and whether their chunk has any left.

A copy task is a slice of a chunk's rows: its rows are read with one BatchGetItem and recorded
with one TransactWriteItems of conditional row updates, and the slice is closed with one
UpdateItem that adds its number to the chunk's set of closed slices and its videos to the chunk's
counts (what progress shows, without reading the rows). The chunk item is written
once per slice (8 times for 400 rows), never once per video: no hot item under many copies.
Whoever closes the last slice sees the full set in that same answer and marks the chunk done.
Tasks of the earlier one-row format still count the chunk's pending rows with a Query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from syncdrop import keys
from syncdrop.adapters.dynamo_calls import DynamoCalls
from syncdrop.errors import StorageError
from syncdrop.ports import CopyRecord, SliceProgress

COPY_PENDING = "PENDING"
# Rows read per page when counting: copies finish roughly in row order, so reading from the
# chunk's end usually finds a pending one in the first page and stops there.
COUNT_PAGE = 100
# DynamoDB's limits per request: keys in a BatchGetItem, actions in a TransactWriteItems.
BATCH_GET_LIMIT = 100
TRANSACTION_LIMIT = 100
UNPROCESSED_ROUNDS = 5
# What a copy reads of its row.
_ROW_FIELDS = "row_key, request_id, output_url, copy_status"

_de = TypeDeserializer()


class DynamoCopyLedger:
    def __init__(self, client: Any, *, job_table: str, results_table: str) -> None:
        self._calls = DynamoCalls(client)
        self._jobs = job_table
        self._results = results_table

    def rows(self, job_id: str, row_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(row_keys), BATCH_GET_LIMIT):
            part = row_keys[start : start + BATCH_GET_LIMIT]
            wanted: dict[str, Any] | None = {
                "Keys": [keys.result_key(job_id, k) for k in part],
                "ConsistentRead": True,
                "ProjectionExpression": _ROW_FIELDS,
            }
            for _ in range(UNPROCESSED_ROUNDS):
                if not wanted:
                    break
                answer = self._calls.call("batch_get_item", RequestItems={self._results: wanted})
                for item in answer.get("Responses", {}).get(self._results, []):
                    row = {k: _de.deserialize(v) for k, v in item.items()}
                    found[str(row["row_key"])] = row
                # Keys DynamoDB left for later (throttled, too big an answer): asked again.
                wanted = answer.get("UnprocessedKeys", {}).get(self._results)
            else:
                if wanted:
                    raise StorageError("DynamoDB BatchGetItem kept rows unprocessed")
        return found

    def record_copies(self, job_id: str, copies: Sequence[CopyRecord]) -> set[str]:
        recorded: set[str] = set()
        for start in range(0, len(copies), TRANSACTION_LIMIT):
            part = copies[start : start + TRANSACTION_LIMIT]
            try:
                self._calls.call(
                    "transact_write_items",
                    TransactItems=[{"Update": self._copy_update(job_id, c)} for c in part],
                )
                recorded.update(c.row_key for c in part)
            except ClientError:  # a row was closed before (a redelivery): one at a time
                recorded.update(
                    c.row_key
                    for c in part
                    if self._calls.conditional("update_item", **self._copy_update(job_id, c))
                )
        return recorded

    def record_copy(
        self, job_id: str, chunk: int, row_key: str, *, s3_uri: str | None, error: str | None
    ) -> bool:
        """Close one row's copy; False when it was closed before (a redelivered task)."""
        update = self._copy_update(job_id, CopyRecord(row_key, s3_uri, error))
        return self._calls.conditional("update_item", **update)

    def _copy_update(self, job_id: str, copy: CopyRecord) -> dict[str, Any]:
        row_set = "SET copy_status = :status" + (", s3_uri = :uri" if copy.s3_uri else "")
        row_set += ", copy_error = :error" if copy.error else ""
        values: dict[str, Any] = {
            ":status": {"S": "COPIED" if copy.s3_uri else "COPY_FAILED"},
            ":pending": {"S": COPY_PENDING},
        }
        if copy.s3_uri:
            values[":uri"] = {"S": copy.s3_uri}
        if copy.error:
            values[":error"] = {"S": copy.error[:1000]}
        return {
            "TableName": self._results,
            "Key": keys.result_key(job_id, copy.row_key),
            "UpdateExpression": row_set,
            "ConditionExpression": "copy_status = :pending",
            "ExpressionAttributeValues": values,
        }

    def close_slice(
        self, job_id: str, chunk: int, number: int, *, videos: int = 0, failed: int = 0
    ) -> SliceProgress:
        # The slice's number joins a set, and its counts are added only by the write that
        # adds the number: a redelivered slice's close changes nothing and reads what is there.
        try:
            answer = self._calls.call(
                "update_item",
                TableName=self._jobs,
                Key=keys.chunk_key(job_id, chunk),
                UpdateExpression=(
                    "ADD copy_slices_done :slice, copies_over :videos, copies_failed :failed"
                ),
                ConditionExpression="attribute_exists(pk) AND NOT contains(copy_slices_done, :n)",
                ExpressionAttributeValues={
                    ":slice": {"NS": [str(number)]},
                    ":n": {"N": str(number)},
                    ":videos": {"N": str(videos)},
                    ":failed": {"N": str(failed)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            item = answer.get("Attributes", {})
        except ClientError as exc:  # only a failed condition: closed before, or no chunk
            item = exc.response.get("Item", {})
            if not item:  # no such chunk: a stray task has nothing to close
                return SliceProgress(slices_done=0, copies_done=True)
        return SliceProgress(
            slices_done=len(item.get("copy_slices_done", {}).get("NS", [])),
            copies_done=bool(item.get("copies_done", {}).get("BOOL", False)),
        )

    def copies_pending(self, job_id: str, first_row_key: str, last_row_key: str) -> int:
        kwargs: dict[str, Any] = {
            "TableName": self._results,
            "KeyConditionExpression": "job_id = :j AND row_key BETWEEN :first AND :last",
            "FilterExpression": "copy_status = :pending",
            "ExpressionAttributeValues": {
                ":j": {"S": job_id},
                ":first": {"S": first_row_key},
                ":last": {"S": last_row_key},
                ":pending": {"S": COPY_PENDING},
            },
            "Select": "COUNT",
            "ConsistentRead": True,
            "ScanIndexForward": False,
            "Limit": COUNT_PAGE,
        }
        while True:
            page = self._calls.call("query", **kwargs)
            if page.get("Count", 0):
                return int(page["Count"])
            if "LastEvaluatedKey" not in page:
                return 0
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def mark_copies_done(self, job_id: str, chunk: int) -> None:
        # Conditional so a stray task for a chunk that does not exist creates no item.
        self._calls.conditional(
            "update_item",
            TableName=self._jobs,
            Key=keys.chunk_key(job_id, chunk),
            UpdateExpression="SET copies_done = :yes",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":yes": {"BOOL": True}},
        )
