"""One DynamoDB table behind the adapters: its client, its calls, and its one conditional write."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from syncdrop.adapters.dynamo_calls import DynamoCalls
from syncdrop.adapters.policy import DYNAMODB_POLICY, RetryPolicy

# The job table's index of open chunks, of jobs being reported and of jobs awaiting a deadline.
OPEN_INDEX = "OpenChunks"


class DynamoTable:
    key_attribute = "pk"  # the partition key's attribute name: an item exists when it has one

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        policy: RetryPolicy = DYNAMODB_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = client
        self._table = table
        self._policy = policy
        self._sleep = sleep
        self._calls = DynamoCalls(client, policy=policy, sleep=sleep)

    def _call(self, op: str, **kwargs: Any) -> Any:
        """``op`` on this table: contention retried; a failed condition raised as the
        ClientError DynamoDB answered; anything else StorageError (see dynamo_calls)."""
        return self._calls.call(op, TableName=self._table, **kwargs)

    def update_if(self, key: dict[str, Any], **kwargs: Any) -> bool:
        """One conditional UpdateItem; False when its condition does not hold."""
        return self.updated_if(key, **kwargs) is not None

    def updated_if(self, key: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        """DynamoDB's answer to one conditional UpdateItem (what ``ReturnValues`` asked for);
        None when its condition does not hold."""
        try:
            return dict(self._call("update_item", Key=key, **kwargs) or {})
        except ClientError:  # only a failed condition gets here; the rest is StorageError
            return None

    def put_new(self, item: dict[str, Any]) -> bool:
        """Put an item whose key is not taken yet; False when it is."""
        return self._calls.conditional(
            "put_item",
            TableName=self._table,
            Item=item,
            ConditionExpression=f"attribute_not_exists({self.key_attribute})",
        )
