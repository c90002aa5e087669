"""The capacity sets: one item naming the chunks that hold a Sync batch slot, one naming the
single generations that hold a generation slot."""

from __future__ import annotations

from typing import Any

from syncdrop.adapters.dynamo_table import DynamoTable
from syncdrop.keys import CAPACITY_KEY, capacity_key


def take_slot(table: str, holder: str, *, limit: int, generation: bool = False) -> dict[str, Any]:
    """The transaction item that adds ``holder`` to the set while fewer than ``limit`` hold a
    slot (its condition fails when the set is full or ``holder`` is in it already)."""
    return {
        "Update": {
            "TableName": table,
            "Key": capacity_key(generation),
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


def release_slot(table: str, holder: str, *, generation: bool = False) -> dict[str, Any]:
    """The transaction item that frees ``holder``'s slot (unconditional: freeing twice is fine)."""
    return {
        "Update": {
            "TableName": table,
            "Key": capacity_key(generation),
            "UpdateExpression": "DELETE holders :h",
            "ExpressionAttributeValues": {":h": {"SS": [holder]}},
        }
    }


class BatchCapacity(DynamoTable):
    def open_batch_holders(self) -> set[str]:
        return self._holders(CAPACITY_KEY)

    def open_generation_holders(self) -> set[str]:
        return self._holders(capacity_key(True))

    def _holders(self, key: dict[str, Any]) -> set[str]:
        answer = self._call("get_item", Key=key, ConsistentRead=True)
        holders = answer.get("Item", {}).get("holders", {}).get("SS", [])
        return set(holders)
