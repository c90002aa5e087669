"""One line of Sync's batch output file becomes the outcome of one generation, whatever its form."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RowStatus(StrEnum):
    COMPLETED = "COMPLETED"  # Sync produced a video
    FAILED = "FAILED"  # sent to Sync, no video came back
    REJECTED = "REJECTED"  # syncdrop's own validation kept the row from Sync
    TIMED_OUT = "TIMED_OUT"  # Sync had not finished it when the job's deadline passed
    CANCELLED = "CANCELLED"  # never sent: its job was cancelled while the row waited


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """What one output line says about one request; unusable lines have no request_id."""

    request_id: str | None
    status: RowStatus
    generation_id: str | None
    output_url: str | None
    output_duration: float | None
    error_code: str | None
    error_message: str | None


# Sync's messages land in a CSV cell and an email; a runaway one must not swamp either.
MAX_MESSAGE_CHARS = 1000
# Enough to name any real status; a longer "status" is garbage and is only quoted in part.
MAX_STATUS_CHARS = 40

NO_OUTPUT_URL = "Sync reported success but no output URL"
NO_REQUEST_ID = "Sync's result line has no request_id, so it cannot be matched to a row"
# Statuses Sync documents that are not success, and what each means for the person.
STATUS_MESSAGES = {
    "FAILED": "Sync reported the generation as FAILED without a reason",
    "REJECTED": "Sync REJECTED the generation",
    "CANCELED": "Sync CANCELED the generation",
    "CANCELLED": "Sync CANCELLED the generation",
    "TIMED_OUT": "Sync reported the generation as TIMED_OUT",
    "PENDING": "The batch finished with the generation still PENDING at Sync",
    "PROCESSING": "The batch finished with the generation still PROCESSING at Sync",
}


def parse_result_line(line: bytes) -> GenerationResult:
    """Read one output line; never raises, and only a clear success counts as COMPLETED."""
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _unusable("Sync's result line is not valid UTF-8 text")
    if not text.strip():
        return _unusable("Sync's result file has a blank line")
    try:
        record: object = json.loads(text)
    except (ValueError, RecursionError):
        # ValueError covers bad JSON and over-long integers; RecursionError, absurd nesting.
        return _unusable("Sync's result line is not valid JSON")
    if not isinstance(record, dict):
        return _unusable("Sync's result line is not a JSON object")
    return _from_record(record)


def _from_record(record: Mapping[str, Any]) -> GenerationResult:
    response = record.get("response")
    if not isinstance(response, Mapping):
        response = {}
    request_id = _text(record.get("request_id"))
    generation_id = _text(response.get("id"))
    output_url = _first_text(response, "outputUrl", "output_url", "outputMediaUrl")
    duration = _seconds(response.get("outputDuration", response.get("output_duration")))
    error_code, sync_message = _error(record.get("error"), response)

    # The line's own status is the batch's verdict; the generation's is the fallback.
    raw_status = record.get("status")
    if raw_status is None:
        raw_status = response.get("status")
    status_text = _text(raw_status)
    status = status_text.upper() if status_text else None

    if request_id is None:
        return GenerationResult(
            None, RowStatus.FAILED, generation_id, output_url, duration, error_code, NO_REQUEST_ID
        )
    if status == "COMPLETED" and output_url:
        return GenerationResult(
            request_id, RowStatus.COMPLETED, generation_id, output_url, duration, None, None
        )
    if status == "COMPLETED":
        message = NO_OUTPUT_URL
    elif status == "FAILED":
        message = sync_message or STATUS_MESSAGES["FAILED"]
    else:
        # Any other status is a failure; keep Sync's reason but say which status it came with.
        named = _failure_message(status, raw_status)
        message = f"{named}: {sync_message}" if sync_message else named
    return GenerationResult(
        request_id,
        RowStatus.FAILED,
        generation_id,
        output_url,
        duration,
        error_code,
        _clip(message, MAX_MESSAGE_CHARS),
    )


def _failure_message(status: str | None, raw_status: object) -> str:
    if status is None:
        if raw_status is None:
            return "Sync's result line has no status"
        return "Sync's result line has a status that is not text"
    known = STATUS_MESSAGES.get(status)
    if known is not None:
        return known
    return f"Sync reported an unknown status {_clip(status, MAX_STATUS_CHARS)!r}"


def _error(error: object, response: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(code, message) from the line's error (object or string), else the generation's own."""
    code: str | None = None
    message: str | None = None
    if isinstance(error, Mapping):
        code = _text(error.get("code"))
        message = _text(error.get("message"))
    else:
        message = _text(error)
    if code is None:
        code = _text(response.get("error_code", response.get("errorCode")))
    if message is None:
        generation_error = response.get("error")
        if isinstance(generation_error, Mapping):
            generation_error = generation_error.get("message")
        message = _text(generation_error)
    return code, message


def _first_text(mapping: Mapping[str, Any], *keys: str) -> str | None:
    """The first non-blank string among ``keys``: a link is text, never a number."""
    for key in keys:
        value = mapping.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _text(value: object) -> str | None:
    """A non-blank string as given, an integer as its digits; anything else is absent."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:  # an integer too large for a float
        return None
    # A duration is a finite, non-negative number of seconds or nothing.
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _unusable(message: str) -> GenerationResult:
    return GenerationResult(None, RowStatus.FAILED, None, None, None, None, message)
