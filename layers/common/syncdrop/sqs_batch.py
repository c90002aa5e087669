"""SQS batches with partial failures: each record handled alone, the failed ones reported back."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypedDict

_log = logging.getLogger(__name__)


class PartialBatchResponse(TypedDict):
    batchItemFailures: list[dict[str, str]]


def process_sqs_batch(
    event: dict[str, Any], handle: Callable[[dict[str, Any]], object]
) -> PartialBatchResponse:
    """Run ``handle`` on every record of an SQS event; report the records that raised.

    SQS deletes the others and redelivers the reported ones (their DLQ takes them in the
    end). When every record fails, the invocation fails with Powertools'
    BatchProcessingError. This is what Powertools' BatchProcessor with
    process_partial_response does, without the ~90 ms its imports add to a cold start.
    """
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("Invalid event format: an SQS event has a list of Records.")
    failed: list[dict[str, str]] = []
    errors: list[tuple[type[BaseException] | None, BaseException | None, TracebackType | None]]
    errors = []
    for record in records:
        try:
            handle(record)
        except Exception as exc:
            # Error level, with the message id: what explains a redelivery, and in the end the DLQ.
            _log.error(
                "SQS record failed",
                extra={"message_id": record.get("messageId"), "error": type(exc).__name__},
                exc_info=True,
            )
            errors.append(sys.exc_info())
            failed.append({"itemIdentifier": record["messageId"]})
    if errors and len(errors) == len(records):
        from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

        raise BatchProcessingError(
            msg=f"All records failed processing. {len(errors)} individual errors logged "
            "separately below.",
            child_exceptions=errors,
        )
    return {"batchItemFailures": failed}
