"""The results table: one item per input row, written 25 at a time with BatchWriteItem."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from syncdrop.adapters.dynamo_table import DynamoTable
from syncdrop.errors import StorageError
from syncdrop.keys import result_key, row_key

BATCH_WRITE_LIMIT = 25
_ser = TypeSerializer()
_de = TypeDeserializer()
__all__ = ["BATCH_WRITE_LIMIT", "DynamoResultStore", "row_key"]  # row_key: from syncdrop.keys


class DynamoResultStore(DynamoTable):
    key_attribute = "job_id"  # this table's partition key

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
            answer = self._calls.call("batch_write_item", RequestItems={self._table: pending})
            pending = answer.get("UnprocessedItems", {}).get(self._table, [])
            if pending:
                delay = next(delays, None)
                if delay is None:
                    raise StorageError(
                        f"{len(pending)} results stayed unprocessed in {self._table}"
                    )
                self._sleep(delay)

    def job_rows(self, job_id: str) -> Iterator[dict[str, Any]]:
        """Every results item of a job, in row order, one page at a time (a Query, never a scan).

        Consistent: the report is written right after the last row's write, and an eventually
        consistent read may miss it."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "job_id = :j",
            "ExpressionAttributeValues": {":j": {"S": job_id}},
            "ConsistentRead": True,
        }
        while True:
            page = self._call("query", **kwargs)
            for item in page.get("Items", []):
                yield {k: _de.deserialize(v) for k, v in item.items()}
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_row(self, job_id: str, row_key: str) -> dict[str, Any] | None:
        answer = self._call("get_item", Key=result_key(job_id, row_key), ConsistentRead=True)
        item = answer.get("Item")
        return {k: _de.deserialize(v) for k, v in item.items()} if item else None
