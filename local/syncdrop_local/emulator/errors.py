"""Sync-style JSON error bodies: ``statusCode``, ``message`` and an optional ``errorCode``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

CONCURRENCY_LIMIT_MESSAGE = (
    "Batch concurrency limit reached. Please wait for an existing batch to complete or "
    "upgrade your plan."
)
RATE_LIMIT_MESSAGE = "Rate limit exceeded. Please try again later."
BATCH_ACCESS_MESSAGE = (
    "Batch processing is only available on the Scale and Enterprise plans. "
    "Please upgrade your plan to use the Batch API."
)

_DEFAULT_MESSAGES = {
    500: "Internal server error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def error_body(status: int, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """Build ``{"statusCode", "message", ...extra}``; the message defaults to the status phrase."""
    if message is None:
        message = _DEFAULT_MESSAGES.get(status)
    if message is None:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = "Error"
    body: dict[str, Any] = {"statusCode": status}
    body.update({key: value for key, value in extra.items() if value is not None})
    body["message"] = message
    return body


def unauthorized() -> dict[str, Any]:
    return error_body(401, "Unauthorized")


def not_found(message: str = "Batch not found") -> dict[str, Any]:
    return error_body(404, message)


def concurrency_limit() -> dict[str, Any]:
    return error_body(429, CONCURRENCY_LIMIT_MESSAGE, errorCode="concurrency_limit_reached")


def rate_limited() -> dict[str, Any]:
    return {
        "statusCode": 429,
        "errorCode": "rate_limit_exceeded",
        "message": RATE_LIMIT_MESSAGE,
        "error": "Too Many Requests",
    }


def payment_required() -> dict[str, Any]:
    return error_body(402, BATCH_ACCESS_MESSAGE)


GENERATION_CONCURRENCY_MESSAGE = (
    "Generation concurrency limit reached. Please wait for an existing generation to complete "
    "or upgrade your plan."
)


def generation_concurrency_limit() -> dict[str, Any]:
    return error_body(429, GENERATION_CONCURRENCY_MESSAGE, errorCode="concurrency_limit_reached")


def generation_not_found() -> dict[str, Any]:
    return error_body(404, "Generation not found")


def idempotency_key_reused() -> dict[str, Any]:
    # Sync's idempotency guide mentions payload conflicts, but the stored copies of it do not
    # show the status or code; 422 IDEMPOTENCY_KEY_REUSED is the emulator's choice.
    return error_body(
        422,
        "This Idempotency-Key was already used with a different request body. Retry with the "
        "original body, or use a new key for a new generation.",
        errorCode="IDEMPOTENCY_KEY_REUSED",
    )


def idempotency_outcome_unknown(generation_id: str | None) -> dict[str, Any]:
    return error_body(
        503,
        "The outcome of this request is unknown. Retry with the same Idempotency-Key and body, "
        "or poll the generation when an id is given.",
        errorCode="IDEMPOTENCY_OUTCOME_UNKNOWN",
        generationId=generation_id,
    )
