"""The batch-capacity set: the one item naming the chunks that hold a Sync batch slot."""

from __future__ import annotations

from typing import Any

from syncdrop.adapters.dynamo_table import DynamoTable
from syncdrop.keys import CAPACITY_KEY


def take_slot(table: str, holder: str, *, limit: int) -> dict[str, Any]:
    """The transaction item that adds ``holder`` to the set while fewer than ``limit`` hold a
    slot (its condition fails when the set is full or ``holder`` is in it already)."""
    return {
        "Update": {
            "TableName": table,
            "Key": CAPACITY_KEY,
            "UpdateExpression": "ADD holders :h",
            "ConditionExpression": (
                "attribute_not_exists(holders) OR "
                "(size(holders) < :limit AND NOT contains(holders, :hv))"
            ),
            "ExpressionAttributeValues": {
                ":h": {"SS": [holder]},
                ":hv": {"S": holder},
                ":limit": {"N": str(limit)},
            },
        }
    }


def release_slot(table: str, holder: str) -> dict[str, Any]:
    """The transaction item that frees ``holder``'s slot (unconditional: freeing twice is fine)."""
    return {
        "Update": {
            "TableName": table,
            "Key": CAPACITY_KEY,
            "UpdateExpression": "DELETE holders :h",
            "ExpressionAttributeValues": {":h": {"SS": [holder]}},
        }
    }


class BatchCapacity(DynamoTable):
    def open_batch_holders(self) -> set[str]:
        answer = self._call("get_item", Key=CAPACITY_KEY, ConsistentRead=True)
        holders = answer.get("Item", {}).get("holders", {}).get("SS", [])
        return set(holders)
