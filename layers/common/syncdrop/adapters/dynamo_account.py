"""What syncdrop keeps about the Sync account as a whole: the pace of POST /v2/generate across
every function, and whether Sync refused this account batches (402)."""

from __future__ import annotations

from datetime import datetime, timedelta

from syncdrop import keys
from syncdrop.adapters.dynamo_items import _iso, _when
from syncdrop.adapters.dynamo_table import DynamoTable

# A refusal is believed this long; then the next big file tries batches again (plans change).
BATCH_REFUSAL_MEMORY = timedelta(hours=24)
# Turns lost to another function writing at the same moment, before giving this one a wait.
PACE_RACES = 5


class SyncAccount(DynamoTable):
    def take_generate_turn(self, *, now: datetime, interval: float) -> float:
        """The generic cell rate algorithm on one item: 0 when this caller may POST now
        (its turn is taken), else the seconds until the next free turn.

        Turns are at least ``interval`` apart across every function, so Sync never sees more
        than 60 / ``interval`` creates in any minute, however many functions submit.
        """
        at = now.timestamp()
        for _ in range(PACE_RACES):
            answer = self._call("get_item", Key=keys.GENERATE_PACE_KEY, ConsistentRead=True)
            stored = answer.get("Item", {}).get("next_turn", {}).get("N")
            next_turn = float(stored) if stored is not None else 0.0
            if next_turn > at:
                return next_turn - at
            condition = "attribute_not_exists(next_turn)"
            values = {":next": {"N": repr(at + interval)}}
            if stored is not None:
                condition = "next_turn = :seen"
                values[":seen"] = {"N": stored}
            if self.update_if(
                keys.GENERATE_PACE_KEY,
                UpdateExpression="SET next_turn = :next",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            ):
                return 0.0
        return interval  # lost every race: others are submitting, so wait one turn

    def record_batch_refusal(self, reason: str, *, now: datetime) -> None:
        # UpdateItem: the functions that meet a 402 may update items but not put them.
        self._call(
            "update_item",
            Key=keys.BATCH_ACCESS_KEY,
            UpdateExpression="SET refused_at = :at, reason = :why",
            ExpressionAttributeValues={":at": {"S": _iso(now)}, ":why": {"S": reason[:1000]}},
        )

    def batch_refusal(self, *, now: datetime) -> str | None:
        """Why Sync refused this account batches, if it did within BATCH_REFUSAL_MEMORY."""
        answer = self._call("get_item", Key=keys.BATCH_ACCESS_KEY, ConsistentRead=True)
        item = answer.get("Item")
        if not item:
            return None
        refused_at = _when(item.get("refused_at", {}).get("S"))
        if refused_at is None or now - refused_at > BATCH_REFUSAL_MEMORY:
            return None
        return str(item.get("reason", {}).get("S", ""))
