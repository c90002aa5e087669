"""What Sync accepts on ``POST /v2/generate``: the ``Idempotency-Key`` header and the JSON
CreateGenerationDto body (sync-api.md §4.2, §6.3).

The body's ``model``, ``input``, ``options`` and ``segments`` go through the batch line checks
of :mod:`.validation` (so every rule about input items, ``assetId`` included, applies to
generations too); ``webhookUrl`` and ``outputFileName`` are checked here.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from .server import Request
from .validation import CODE_INVALID_REQUEST, GENERATE_ENDPOINT, BatchInputError, validate_record

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._~-]{1,128}")
CODE_INVALID_IDEMPOTENCY_KEY = "INVALID_IDEMPOTENCY_KEY"
OUTPUT_FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
_LINE_PREFIX = "Line 1: "


def idempotency_key(request: Request) -> str | None:
    """The request's key, ``None`` without one; ``BatchInputError`` for an empty, malformed or
    repeated header (the server joins repeated headers with ", ", which no key may hold)."""
    raw = request.header("idempotency-key")
    if raw is None:
        return None
    if IDEMPOTENCY_KEY.fullmatch(raw) is None:
        raise BatchInputError(
            "Idempotency-Key must be one header of 1-128 characters from [A-Za-z0-9._~-]",
            error_code=CODE_INVALID_IDEMPOTENCY_KEY,
        )
    return raw


def read_body(request: Request) -> Any:
    """The parsed JSON body; multipart and other types are refused with a clear 415."""
    if request.content_type != "application/json":
        raise BatchInputError(
            "Content-Type must be application/json; this emulator does not accept "
            "Create Generation with Files (multipart/form-data)",
            error_code=CODE_INVALID_REQUEST,
            status=415,
        )
    try:
        return json.loads(request.body)
    except ValueError as exc:
        raise BatchInputError(
            "Request body must be valid JSON", error_code=CODE_INVALID_REQUEST
        ) from exc


def check_generate_body(body: object) -> dict[str, Any]:
    """The body if Sync would accept it, else ``BatchInputError`` (400)."""
    if not isinstance(body, dict):
        raise BatchInputError("Request body must be a JSON object", error_code=CODE_INVALID_REQUEST)
    record = {"request_id": "generate", "endpoint": GENERATE_ENDPOINT, "payload": body}
    try:
        validate_record(record, 1)
    except BatchInputError as exc:
        # The line checks speak of "Line 1"; a single generation has no lines.
        message = exc.message.removeprefix(_LINE_PREFIX)
        raise BatchInputError(message, error_code=exc.error_code, status=exc.status) from exc
    webhook_url = body.get("webhookUrl")
    if webhook_url is not None:
        parts = urlsplit(webhook_url) if isinstance(webhook_url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise BatchInputError(
                '"webhookUrl" must be a valid http(s) URL', error_code=CODE_INVALID_REQUEST
            )
    name = body.get("outputFileName")
    if name is not None and not (isinstance(name, str) and OUTPUT_FILE_NAME.fullmatch(name)):
        raise BatchInputError(
            '"outputFileName" may hold only letters, digits, "_" and "-" (at most 255)',
            error_code=CODE_INVALID_REQUEST,
        )
    return body
