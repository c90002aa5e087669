"""The results table: one item per input row, written 25 at a time with BatchWriteItem."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from syncdrop.adapters.policy import DEFAULT_POLICY, RetryPolicy
from syncdrop.errors import StorageError

BATCH_WRITE_LIMIT = 25
_ser = TypeSerializer()
_de = TypeDeserializer()


def row_key(row_number: int) -> str:
    """Sort key: row numbers sort as text, so pad them."""
    return f"{row_number:010d}"


class DynamoResultStore:
    def __init__(
        self,
        client: Any,
        table: str,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = client
        self._table = table
        self._policy = policy
        self._sleep = sleep

    def put_rows(self, job_id: str, items: Iterable[dict[str, object]]) -> int:
        written = 0
        iterator = iter(items)
        while batch := list(islice(iterator, BATCH_WRITE_LIMIT)):
            requests = [
                {
                    "PutRequest": {
                        "Item": {
                            "job_id": {"S": job_id},
                            **{k: _ser.serialize(v) for k, v in item.items() if v is not None},
                        }
                    }
                }
                for item in batch
            ]
            self._write(requests)
            written += len(batch)
        return written

    def _write(self, requests: list[dict[str, Any]]) -> None:
        """BatchWriteItem, retrying UnprocessedItems with the shared backoff."""
        delays = self._policy.delays()
        pending = requests
        while pending:
            try:
                answer = self._db.batch_write_item(RequestItems={self._table: pending})
            except ClientError as exc:
                raise StorageError(f"BatchWriteItem on {self._table} failed: {exc}") from exc
            pending = answer.get("UnprocessedItems", {}).get(self._table, [])
            if pending:
                delay = next(delays, None)
                if delay is None:
                    raise StorageError(
                        f"{len(pending)} results stayed unprocessed in {self._table}"
                    )
                self._sleep(delay)

    def job_rows(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every results item of a job, in row order, one page at a time (a Query, never a scan)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "job_id = :j",
            "ExpressionAttributeValues": {":j": {"S": job_id}},
        }
        while True:
            try:
                page = self._db.query(**kwargs)
            except ClientError as exc:
                raise StorageError(f"Query on {self._table} failed: {exc}") from exc
            for item in page.get("Items", []):
                yield {k: _de.deserialize(v) for k, v in item.items()}
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_row(self, job_id: str, row_key: str) -> dict[str, Any] | None:
        try:
            answer = self._db.get_item(
                TableName=self._table,
                Key={"job_id": {"S": job_id}, "row_key": {"S": row_key}},
                ConsistentRead=True,
            )
        except ClientError as exc:
            raise StorageError(f"GetItem on {self._table} failed: {exc}") from exc
        item = answer.get("Item")
        return {k: _de.deserialize(v) for k, v in item.items()} if item else None
