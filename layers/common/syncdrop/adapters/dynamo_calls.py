"""Every DynamoDB call of the adapters, answered as AWS answers it.

Three kinds of failure, told apart in one place:

- a failed condition (ConditionalCheckFailedException, or a cancelled transaction with a
  ConditionalCheckFailed reason): the state moved on. Never retried; the caller decides
  (usually ``False``).
- contention: a transaction cancelled only by TransactionConflict (or throttling) reasons, a
  write refused because a transaction holds its item, and throttling that outlived botocore's
  own retries. botocore does not retry a TransactionConflict; here every one is retried with
  the shared full-jitter backoff (``DYNAMODB_POLICY``) before it becomes ``StorageError``.
- anything else: ``StorageError`` at once (a ``TransientError``: the queue redelivers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from syncdrop.adapters.policy import DYNAMODB_POLICY, RetryPolicy, call_with_retries
from syncdrop.errors import StorageError

CONDITION_FAILED = "ConditionalCheckFailedException"
# Error codes worth another try a moment later. botocore retries the throttling ones itself
# first; the two transaction ones it does not retry at all.
CONTENTION_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)
# CancellationReasons of a cancelled transaction that another try can clear.
CONTENTION_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def cancellation_reasons(exc: ClientError) -> list[str]:
    """One code per item of a cancelled transaction, in request order ("None" for the rest)."""
    return [str(r.get("Code", "None")) for r in exc.response.get("CancellationReasons", [])]


def condition_failed(exc: BaseException) -> bool:
    """The write's condition did not hold: the state moved on (never a conflict)."""
    if not isinstance(exc, ClientError):
        return False
    code = error_code(exc)
    if code == CONDITION_FAILED:
        return True
    return code == "TransactionCanceledException" and (
        "ConditionalCheckFailed" in cancellation_reasons(exc)
    )


def contention(exc: BaseException) -> bool:
    """Another try a moment later can succeed: a conflict or throttling, no failed condition."""
    if not isinstance(exc, ClientError) or condition_failed(exc):
        return False
    code = error_code(exc)
    if code in CONTENTION_CODES:
        return True
    return code == "TransactionCanceledException" and bool(
        CONTENTION_REASONS.intersection(cancellation_reasons(exc))
    )


class DynamoCalls:
    """Calls one DynamoDB client with contention retried and errors made syncdrop's own."""

    def __init__(
        self,
        client: Any,
        *,
        policy: RetryPolicy = DYNAMODB_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._db = client
        self._policy = policy
        self._sleep = sleep

    def call(self, operation: str, **kwargs: Any) -> Any:
        """The answer of ``operation``. A failed condition is raised as the ClientError DynamoDB
        answered; contention past the policy's budget, and every other error, as StorageError."""
        method = getattr(self._db, operation)
        try:
            return call_with_retries(
                lambda: method(**kwargs),
                retry_on=contention,
                policy=self._policy,
                sleep=self._sleep,
            )
        except ClientError as exc:
            if condition_failed(exc):
                raise
            raise StorageError(f"DynamoDB {operation} failed: {_describe(exc)}") from exc
        except BotoCoreError as exc:  # no answer at all: connection refused, timed out
            raise StorageError(f"DynamoDB {operation} failed: {exc}") from exc

    def conditional(self, operation: str, **kwargs: Any) -> bool:
        """A conditional write: True when it took effect, False when its condition failed."""
        try:
            self.call(operation, **kwargs)
        except ClientError:  # only a failed condition gets here; the rest is StorageError
            return False
        return True


def _describe(exc: ClientError) -> str:
    reasons = cancellation_reasons(exc)
    return f"{exc} {reasons}" if reasons else str(exc)
