"""SQS batches: failed records are reported for redelivery, a batch that all failed fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from syncdrop.sqs_batch import process_sqs_batch


def records(*bodies: str) -> dict[str, object]:
    return {"Records": [{"messageId": f"m{n}", "body": body} for n, body in enumerate(bodies)]}


def handle(record: dict[str, object]) -> None:
    if record["body"] == "bad":
        raise ValueError("cannot handle this one")


def test_only_the_records_that_raised_are_reported() -> None:
    answer = process_sqs_batch(records("ok", "bad", "ok", "bad"), handle)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[list[logging.LogRecord]]:
    # On the module's own logger: syncdrop's JSON logger above it may not propagate to root.
    handler = Records()
    logger = logging.getLogger("syncdrop.sqs_batch")
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def test_a_failed_record_is_logged_at_error_level_with_its_message_id(
    logged: list[logging.LogRecord],
) -> None:
    process_sqs_batch(records("ok", "bad", "ok"), handle)
    (failure,) = [r for r in logged if r.levelno >= logging.ERROR]
    assert failure.levelno == logging.ERROR
    assert failure.message_id == "m1"  # type: ignore[attr-defined]
    assert failure.error == "ValueError"  # type: ignore[attr-defined]
    assert failure.exc_info is not None
    assert isinstance(failure.exc_info[1], ValueError)


def test_every_failed_record_of_a_failed_batch_is_logged(
    logged: list[logging.LogRecord],
) -> None:
    with pytest.raises(BatchProcessingError):
        process_sqs_batch(records("bad", "bad"), handle)
    ids = [r.message_id for r in logged if r.levelno == logging.ERROR]  # type: ignore[attr-defined]
    assert ids == ["m0", "m1"]


def test_a_batch_without_failures_reports_none() -> None:
    assert process_sqs_batch(records("ok", "ok"), handle) == {"batchItemFailures": []}
    assert process_sqs_batch(records(), handle) == {"batchItemFailures": []}


def test_when_every_record_fails_the_invocation_fails() -> None:
    with pytest.raises(BatchProcessingError) as failed:
        process_sqs_batch(records("bad", "bad"), handle)
    assert len(failed.value.child_exceptions) == 2


def test_a_crash_is_not_caught() -> None:
    def crash(record: dict[str, object]) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        process_sqs_batch(records("ok"), crash)


@pytest.mark.parametrize("event", [{}, {"Records": "nope"}, []])
def test_an_event_that_is_not_an_sqs_batch_is_refused(event: object) -> None:
    with pytest.raises(ValueError, match="SQS"):
        process_sqs_batch(event, handle)  # type: ignore[arg-type]
