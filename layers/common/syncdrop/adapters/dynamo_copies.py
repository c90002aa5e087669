"""The copy ledger: a row's video copied (or given up on) and its chunk's count, in one write."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from syncdrop.errors import StorageError

COPY_PENDING = "PENDING"


class DynamoCopyLedger:
    def __init__(self, client: Any, *, job_table: str, results_table: str) -> None:
        self._db = client
        self._jobs = job_table
        self._results = results_table

    def record_copy(
        self, job_id: str, chunk: int, row_key: str, *, s3_uri: str | None, error: str | None
    ) -> bool:
        """Close one row's copy; False when it was closed before (a redelivered task).

        The row's update is conditional on it still being PENDING, and the chunk's count
        moves in the same transaction, so a copy is counted exactly once.
        """
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
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._results,
                            "Key": {"job_id": {"S": job_id}, "row_key": {"S": row_key}},
                            "UpdateExpression": row_set,
                            "ConditionExpression": "copy_status = :pending",
                            "ExpressionAttributeValues": values,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._jobs,
                            "Key": {
                                "pk": {"S": f"JOB#{job_id}"},
                                "sk": {"S": f"CHUNK#{chunk:05d}"},
                            },
                            "UpdateExpression": "ADD copies_pending :minus_one",
                            "ExpressionAttributeValues": {":minus_one": {"N": "-1"}},
                        }
                    },
                ]
            )
            return True
        except ClientError as exc:
            reasons = {r.get("Code") for r in exc.response.get("CancellationReasons", [])}
            if "ConditionalCheckFailed" in reasons and "TransactionConflict" not in reasons:
                return False
            raise StorageError(f"recording the copy of {job_id}/{row_key} failed: {exc}") from exc
