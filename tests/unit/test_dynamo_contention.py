"""DynamoDB's own answers: conflicts and throttling retried with jitter, conditions never."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from syncdrop.adapters.dynamo_calls import DynamoCalls, condition_failed, contention
from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop.adapters.policy import DYNAMODB_POLICY, RetryPolicy
from syncdrop.errors import StorageError, TransientError
from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
from syncdrop.ports import Claim

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
POLICY = RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.04)


def dynamo_error(code: str, reasons: list[str] | None = None) -> ClientError:
    """A ClientError shaped as botocore parses DynamoDB's answer."""
    response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
    if reasons is not None:
        response["CancellationReasons"] = [
            {"Code": r, "Message": "x"} if r != "None" else {"Code": "None"} for r in reasons
        ]
    return ClientError(response, "Operation")  # type: ignore[arg-type]


def conflict(items: int = 2, at: int = 0) -> ClientError:
    reasons = ["TransactionConflict" if i == at else "None" for i in range(items)]
    return dynamo_error("TransactionCanceledException", reasons)


class BusyDynamo:
    """Answers each call with the next of ``errors`` while any are left, then succeeds;
    every call's operation and arguments are kept."""

    def __init__(self, *errors: Exception, answer: dict[str, Any] | None = None) -> None:
        self.errors = list(errors)
        self.answer = answer or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((operation, kwargs))
            if self.errors:
                raise self.errors.pop(0)
            return self.answer

        return call


class AlwaysConflicting(BusyDynamo):
    def __getattr__(self, operation: str) -> Any:
        def call(**kwargs: Any) -> dict[str, Any]:
            self.calls.append((operation, kwargs))
            raise conflict()

        return call


def store(db: Any, slept: list[float] | None = None) -> DynamoJobStore:
    sleep = slept.append if slept is not None else (lambda _s: None)
    return DynamoJobStore(db, "jobs", policy=POLICY, sleep=sleep)


def chunk(n: int = 1) -> Chunk:
    input_key, manifest_key = chunk_keys("job-1", n)
    return Chunk("job-1", n, ChunkStatus.QUEUED, 20, input_key, manifest_key, updated_at=T0)


def test_a_claim_that_conflicts_three_times_is_retried_with_jitter_and_claims():
    db, slept = BusyDynamo(conflict(), conflict(at=1), conflict()), []
    assert store(db, slept).claim_for_submission(chunk(), limit=2, now=T0) is Claim.CLAIMED
    assert [op for op, _ in db.calls] == ["transact_write_items"] * 4
    assert len(slept) == 3
    # Full jitter: each wait anywhere between 0 and the doubling cap.
    for attempt, delay in enumerate(slept):
        assert 0 <= delay <= min(POLICY.max_delay, POLICY.base_delay * 2**attempt)


def test_a_transition_that_conflicts_is_retried_and_moves_the_chunk():
    db = BusyDynamo(conflict(), conflict())
    assert store(db).mark_submitted(chunk(), "batch_1", now=T0) is True
    assert store(db).fail_chunk(chunk(), "why", now=T0) is True
    assert len(db.calls) == 4


def test_a_claim_that_always_conflicts_becomes_a_storage_error_after_the_budget():
    db, slept = AlwaysConflicting(), []
    with pytest.raises(StorageError, match="TransactionConflict") as raised:
        store(db, slept).claim_for_submission(chunk(), limit=2, now=T0)
    assert isinstance(raised.value, TransientError)  # the queue redelivers
    assert len(db.calls) == POLICY.attempts
    assert len(slept) == POLICY.attempts - 1


@pytest.mark.parametrize(
    "code",
    [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "TransactionConflictException",  # a single write to an item a transaction holds
    ],
)
def test_throttling_that_outlived_botocore_is_retried_on_every_kind_of_call(code):
    db = BusyDynamo(*[dynamo_error(code)] * 2)
    assert store(db).record_sync_status(chunk(), "PROCESSING", now=T0) is True
    db = BusyDynamo(dynamo_error(code), answer={"Item": {}})
    assert store(db).get_chunk("job-1", 1) is None
    db = BusyDynamo(dynamo_error(code))
    store(db).put_chunk(chunk())
    assert [op for op, _ in db.calls] == ["put_item", "put_item"]


def test_throttled_transaction_items_are_retried():
    db = BusyDynamo(dynamo_error("TransactionCanceledException", ["None", "ThrottlingError"]))
    assert store(db).release_to_queue(chunk(), "429", now=T0) is True
    assert len(db.calls) == 2


@pytest.mark.parametrize(
    ("reasons", "claim"),
    [
        (["ConditionalCheckFailed", "None"], Claim.NO_CAPACITY),
        (["None", "ConditionalCheckFailed"], Claim.NOT_QUEUED),
        (["ConditionalCheckFailed", "ConditionalCheckFailed"], Claim.NOT_QUEUED),
        # A failed condition is an answer even beside a conflict: the state moved on.
        (["ConditionalCheckFailed", "TransactionConflict"], Claim.NO_CAPACITY),
    ],
)
def test_a_failed_condition_is_never_retried(reasons, claim):
    db = BusyDynamo(dynamo_error("TransactionCanceledException", reasons))
    assert store(db).claim_for_submission(chunk(), limit=2, now=T0) is claim
    assert len(db.calls) == 1


def test_a_failed_single_write_condition_is_false_at_once():
    db = BusyDynamo(dynamo_error("ConditionalCheckFailedException"))
    assert store(db).touch_submitted(chunk(), now=T0) is False
    db = BusyDynamo(
        dynamo_error("TransactionCanceledException", ["None", "ConditionalCheckFailed"])
    )
    assert (
        store(db).close_chunk(chunk(), ChunkStatus.COMPLETED, completed=1, failed=0, now=T0)
        is False
    )
    assert len(db.calls) == 1


@pytest.mark.parametrize(
    "error",
    [
        dynamo_error("ValidationException"),
        dynamo_error("TransactionCanceledException", ["None", "ValidationError"]),
        dynamo_error("ResourceNotFoundException"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
    ],
)
def test_other_failures_are_storage_errors_at_once(error):
    db = BusyDynamo(error)
    with pytest.raises(StorageError):
        store(db).mark_submitted(chunk(), "batch_1", now=T0)
    assert len(db.calls) == 1


def test_the_classification_of_each_answer():
    assert condition_failed(dynamo_error("ConditionalCheckFailedException"))
    assert not contention(dynamo_error("ConditionalCheckFailedException"))
    assert contention(conflict())
    assert not condition_failed(conflict())
    both = dynamo_error(
        "TransactionCanceledException", ["ConditionalCheckFailed", "TransactionConflict"]
    )
    assert condition_failed(both)
    assert not contention(both)
    assert not contention(dynamo_error("InternalServerError"))  # botocore retried it already
    assert not contention(ValueError("not DynamoDB's"))


def test_the_dynamodb_policy_waits_little_and_often():
    delays = list(DYNAMODB_POLICY.delays())
    assert len(delays) == DYNAMODB_POLICY.attempts - 1 == 9
    assert sum(min(DYNAMODB_POLICY.max_delay, 0.05 * 2**i) for i in range(9)) < 10


def test_calls_pass_arguments_through_and_return_the_answer():
    db = BusyDynamo(conflict(), answer={"Count": 3})
    calls = DynamoCalls(db, policy=POLICY, sleep=lambda _s: None)
    assert calls.call("query", TableName="t", Limit=1) == {"Count": 3}
    assert db.calls == [("query", {"TableName": "t", "Limit": 1})] * 2


# --- the results table ---------------------------------------------------------------------
def test_the_report_reads_the_results_consistently():
    db = BusyDynamo(answer={"Items": [{"job_id": {"S": "job-1"}, "row_key": {"S": "0000000002"}}]})
    results = DynamoResultStore(db, "results", policy=POLICY, sleep=lambda _s: None)
    rows = list(results.job_rows("job-1"))
    assert rows == [{"job_id": "job-1", "row_key": "0000000002"}]
    ((operation, kwargs),) = db.calls
    assert operation == "query"
    assert kwargs["ConsistentRead"] is True


def test_the_results_table_retries_throttling_on_reads_and_writes():
    db = BusyDynamo(dynamo_error("ProvisionedThroughputExceededException"), answer={"Items": []})
    results = DynamoResultStore(db, "results", policy=POLICY, sleep=lambda _s: None)
    assert list(results.job_rows("job-1")) == []
    db = BusyDynamo(dynamo_error("ThrottlingException"), answer={"UnprocessedItems": {}})
    results = DynamoResultStore(db, "results", policy=POLICY, sleep=lambda _s: None)
    assert results.put_rows("job-1", [{"row_key": "0000000002", "status": "COMPLETED"}]) == 1
    assert [op for op, _ in db.calls] == ["batch_write_item", "batch_write_item"]
