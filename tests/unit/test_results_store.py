"""BatchWriteItem: 25 items a request, UnprocessedItems retried with the shared backoff."""

from __future__ import annotations

from typing import Any

import pytest

from syncdrop.adapters.dynamo_results import DynamoResultStore, row_key
from syncdrop.adapters.policy import RetryPolicy
from syncdrop.errors import StorageError


class ThrottlingDynamo:
    """Accepts every request but hands back the last ``leave`` items unprocessed ``times`` times."""

    def __init__(self, leave: int, times: int) -> None:
        self.leave, self.times = leave, times
        self.requests: list[int] = []
        self.stored: dict[str, dict[str, Any]] = {}

    def batch_write_item(self, RequestItems: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
        ((table, requests),) = RequestItems.items()
        assert len(requests) <= 25
        self.requests.append(len(requests))
        if self.times > 0:
            self.times -= 1
            done, unprocessed = requests[: -self.leave], requests[-self.leave :]
        else:
            done, unprocessed = requests, []
        for request in done:
            item = request["PutRequest"]["Item"]
            self.stored[item["row_key"]["S"]] = item
        return {"UnprocessedItems": {table: unprocessed} if unprocessed else {}}


FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002)


def items(n: int) -> list[dict[str, object]]:
    return [
        {"row_key": row_key(i), "row_number": i, "status": "COMPLETED"} for i in range(2, n + 2)
    ]


def test_500_rows_take_20_requests_when_nothing_is_throttled():
    db = ThrottlingDynamo(leave=0, times=0)
    store = DynamoResultStore(db, "results", policy=FAST, sleep=lambda _s: None)
    assert store.put_rows("job-1", items(500)) == 500
    assert db.requests == [25] * 20
    assert len(db.stored) == 500
    assert db.stored[row_key(2)]["job_id"] == {"S": "job-1"}


def test_unprocessed_items_are_retried_until_written():
    db = ThrottlingDynamo(leave=5, times=2)
    slept: list[float] = []
    store = DynamoResultStore(db, "results", policy=FAST, sleep=slept.append)
    store.put_rows("job-1", items(25))
    assert db.requests == [25, 5, 5]
    assert len(db.stored) == 25
    assert len(slept) == 2


def test_items_left_unprocessed_after_the_policy_raise():
    db = ThrottlingDynamo(leave=3, times=99)
    store = DynamoResultStore(db, "results", policy=FAST, sleep=lambda _s: None)
    with pytest.raises(StorageError, match="unprocessed"):
        store.put_rows("job-1", items(10))
