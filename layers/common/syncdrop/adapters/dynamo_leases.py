"""Leases on job-table items: one worker at a time, taken over once its holder goes quiet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syncdrop.adapters.dynamo_items import _iso
from syncdrop.adapters.dynamo_table import DynamoTable


@dataclass(frozen=True)
class Lease:
    """Who holds it (``claim``), since when (``stamp``), and what must hold for it to be taken."""

    claim: str
    stamp: str
    only_if: str


class Leases(DynamoTable):
    def _take_lease(
        self,
        key: dict[str, Any],
        lease: Lease,
        token: str,
        *,
        now: datetime,
        stale_before: datetime,
        also_set: str = "",
        values: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """Hold ``lease`` as ``token`` when it is free or was stamped before ``stale_before``:
        DynamoDB's answer, or None when another worker holds it (or ``only_if`` fails)."""
        return self.updated_if(
            key,
            UpdateExpression=f"SET {lease.claim} = :token, {lease.stamp} = :now{also_set}",
            ConditionExpression=(
                f"{lease.only_if} AND "
                f"(attribute_not_exists({lease.claim}) OR {lease.stamp} < :stale)"
            ),
            ExpressionAttributeValues={
                ":token": {"S": token},
                ":now": {"S": _iso(now)},
                ":stale": {"S": _iso(stale_before)},
                **(values or {}),
            },
            **kwargs,
        )

    def _end_lease(self, key: dict[str, Any], lease: Lease, token: str) -> bool:
        """Give ``lease`` up; False when ``token`` no longer holds it."""
        return self.update_if(
            key,
            UpdateExpression=f"REMOVE {lease.claim}, {lease.stamp}",
            ConditionExpression=f"{lease.claim} = :token",
            ExpressionAttributeValues={":token": {"S": token}},
        )
