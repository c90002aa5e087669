"""The copy ledger: a row's video copied (or given up on), and whether its chunk has any left.

Each copy is one conditional write on its own row; no copy writes the chunk item (a hot item
under many concurrent copies). The worker that records a chunk's last copy finds none left
with one consistent Query of the chunk's row range and marks the chunk done.
"""

from __future__ import annotations

from typing import Any

from syncdrop import keys
from syncdrop.adapters.dynamo_calls import DynamoCalls

COPY_PENDING = "PENDING"
# Rows read per page when counting: copies finish roughly in row order, so reading from the
# chunk's end usually finds a pending one in the first page and stops there.
COUNT_PAGE = 100


class DynamoCopyLedger:
    def __init__(self, client: Any, *, job_table: str, results_table: str) -> None:
        self._calls = DynamoCalls(client)
        self._jobs = job_table
        self._results = results_table

    def record_copy(
        self, job_id: str, chunk: int, row_key: str, *, s3_uri: str | None, error: str | None
    ) -> bool:
        """Close one row's copy; False when it was closed before (a redelivered task)."""
        row_set = "SET copy_status = :status" + (", s3_uri = :uri" if s3_uri else "")
        row_set += ", copy_error = :error" if error else ""
        values: dict[str, Any] = {
            ":status": {"S": "COPIED" if s3_uri else "COPY_FAILED"},
            ":pending": {"S": COPY_PENDING},
        }
        if s3_uri:
            values[":uri"] = {"S": s3_uri}
        if error:
            values[":error"] = {"S": error[:1000]}
        return self._calls.conditional(
            "update_item",
            TableName=self._results,
            Key=keys.result_key(job_id, row_key),
            UpdateExpression=row_set,
            ConditionExpression="copy_status = :pending",
            ExpressionAttributeValues=values,
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
