"""Sync's input rules for batch creation: JSONL/rows size, record count and per-line checks.

Rules (sync-api.md §2.2, §2.3, §3.1, §4): the file is at most ``max_bytes`` (rows: their size once
serialised as JSONL, one compact JSON object per line); it holds ``min_lines``..``max_lines``
non-empty lines (blank lines are skipped but still counted for line numbers); every line is a JSON
object with a non-empty string ``request_id`` (unique in the batch), ``endpoint`` exactly
``/v2/generate`` and a ``payload`` object whose ``model`` is one of the five public models and
whose ``input`` holds exactly one video item (``url`` or ``assetId``) plus at least one audio item
(``url`` or ``assetId``) or text-to-speech item
(``{"type": "text", "provider": {"name": "elevenlabs", "voiceId", "script"}}``).

Every failure raises :class:`BatchInputError`; line errors start with ``Line <n>:`` where ``n`` is
the 1-based physical line in the file (for rows, line ``n`` is ``rows[n-1]``). The ``errorCode``
values attached here are the emulator's own (Sync documents none for these 400s).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

SUPPORTED_MODELS: tuple[str, ...] = (
    "sync-3",
    "lipsync-2",
    "lipsync-2-pro",
    "lipsync-1.9.0-beta",
    "react-1",
)
GENERATE_ENDPOINT = "/v2/generate"
TTS_PROVIDER = "elevenlabs"

CODE_INVALID_REQUEST = "invalid_request"
CODE_INPUT_MISSING = "batch_input_missing"
CODE_INPUT_TOO_LARGE = "batch_input_too_large"
CODE_INPUT_NOT_JSONL = "batch_input_not_jsonl"
CODE_TOO_FEW_RECORDS = "batch_too_few_records"
CODE_TOO_MANY_RECORDS = "batch_too_many_records"
CODE_INVALID_RECORD = "batch_invalid_record"
CODE_DUPLICATE_REQUEST_ID = "batch_duplicate_request_id"


class BatchInputError(Exception):
    """A create request that Sync would refuse; carries the HTTP status and Sync-style fields."""

    def __init__(self, message: str, *, error_code: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code
        self.status = status


@dataclass(frozen=True)
class Limits:
    """Per-request limits; Sync's defaults are 20..500 records and 5 MB."""

    min_lines: int = 20
    max_lines: int = 500
    max_bytes: int = 5 * 1024 * 1024


@dataclass(frozen=True)
class InputLine:
    """One accepted record and the line it came from."""

    line_number: int
    record: dict[str, Any]

    @property
    def request_id(self) -> str:
        return str(self.record["request_id"])


def _size_text(num_bytes: int) -> str:
    megabytes = num_bytes / (1024 * 1024)
    return f"{megabytes:g} MB" if megabytes >= 1 else f"{num_bytes} bytes"


def _check_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise BatchInputError(
            f"Input file is too large ({size} bytes); the maximum size is "
            f"{_size_text(limits.max_bytes)}",
            error_code=CODE_INPUT_TOO_LARGE,
        )


def _check_count(count: int, limits: Limits) -> None:
    if count < limits.min_lines:
        raise BatchInputError(
            f"Batch must contain at least {limits.min_lines} records; found {count}",
            error_code=CODE_TOO_FEW_RECORDS,
        )
    if count > limits.max_lines:
        raise BatchInputError(
            f"Batch must contain at most {limits.max_lines} records; found {count}",
            error_code=CODE_TOO_MANY_RECORDS,
        )


def _line_error(line_number: int, detail: str) -> BatchInputError:
    return BatchInputError(f"Line {line_number}: {detail}", error_code=CODE_INVALID_RECORD)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _check_media_item(item: dict[str, Any], where: str, line_number: int) -> None:
    url = item.get("url")
    asset_id = item.get("assetId")
    if url is None and asset_id is None:
        raise _line_error(line_number, f'{where} ({item["type"]}) needs a "url" or an "assetId"')
    if url is not None and not (_is_text(url) and str(url).startswith(("http://", "https://"))):
        raise _line_error(line_number, f"{where}.url must be an http(s) URL")
    if asset_id is not None and not _is_text(asset_id):
        raise _line_error(line_number, f"{where}.assetId must be a non-empty string")


def _check_tts_item(item: dict[str, Any], where: str, line_number: int) -> None:
    provider = item.get("provider")
    if not isinstance(provider, dict):
        raise _line_error(line_number, f"{where}.provider must be an object")
    if provider.get("name") != TTS_PROVIDER:
        raise _line_error(line_number, f'{where}.provider.name must be "{TTS_PROVIDER}"')
    for key in ("voiceId", "script"):
        if not _is_text(provider.get(key)):
            raise _line_error(line_number, f"{where}.provider.{key} must be a non-empty string")


def _check_inputs(inputs: object, line_number: int) -> None:
    if not isinstance(inputs, list) or not inputs:
        raise _line_error(line_number, "payload.input must be a non-empty array")
    videos = 0
    voices = 0
    for index, item in enumerate(inputs):
        where = f"payload.input[{index}]"
        if not isinstance(item, dict):
            raise _line_error(line_number, f"{where} must be an object")
        kind = item.get("type")
        if kind in ("video", "audio"):
            _check_media_item(item, where, line_number)
            if kind == "video":
                videos += 1
            else:
                voices += 1
        elif kind == "text":
            _check_tts_item(item, where, line_number)
            voices += 1
        else:
            raise _line_error(line_number, f'{where}.type must be "video", "audio" or "text"')
    if videos != 1:
        raise _line_error(
            line_number, f"payload.input must contain exactly one video item (found {videos})"
        )
    if voices == 0:
        raise _line_error(
            line_number, "payload.input must contain at least one audio or text (TTS) item"
        )


def validate_record(record: object, line_number: int) -> dict[str, Any]:
    """Check one batch record; returns it unchanged or raises :class:`BatchInputError`."""
    if not isinstance(record, dict):
        raise _line_error(line_number, "each line must be a JSON object")
    for key in ("request_id", "endpoint", "payload"):
        if key not in record:
            raise _line_error(line_number, f'missing required field "{key}"')
    if not _is_text(record["request_id"]):
        raise _line_error(line_number, '"request_id" must be a non-empty string')
    endpoint = record["endpoint"]
    if endpoint != GENERATE_ENDPOINT:
        raise _line_error(
            line_number,
            f"unsupported endpoint {json.dumps(endpoint)}; "
            f'"endpoint" must be "{GENERATE_ENDPOINT}"',
        )
    payload = record["payload"]
    if not isinstance(payload, dict):
        raise _line_error(line_number, '"payload" must be an object')
    model = payload.get("model")
    if model is None:
        raise _line_error(line_number, "payload.model is required")
    if model not in SUPPORTED_MODELS:
        raise _line_error(
            line_number,
            f"payload.model {json.dumps(model)} is not supported; use one of "
            + ", ".join(SUPPORTED_MODELS),
        )
    _check_inputs(payload.get("input"), line_number)
    if "options" in payload and not isinstance(payload["options"], dict):
        raise _line_error(line_number, "payload.options must be an object")
    if "segments" in payload and not isinstance(payload["segments"], list):
        raise _line_error(line_number, "payload.segments must be an array")
    return record


def _accept(numbered: Iterable[tuple[int, object]]) -> list[InputLine]:
    """Validate records in line order so the first offending line is the one reported."""
    first_seen: dict[str, int] = {}
    lines: list[InputLine] = []
    for number, record in numbered:
        line = InputLine(number, validate_record(record, number))
        earlier = first_seen.setdefault(line.request_id, number)
        if earlier != number:
            raise BatchInputError(
                f"Line {number}: duplicate request_id {json.dumps(line.request_id)} "
                f"(first used on line {earlier})",
                error_code=CODE_DUPLICATE_REQUEST_ID,
            )
        lines.append(line)
    return lines


def parse_jsonl(data: bytes, limits: Limits) -> list[InputLine]:
    """Validate an uploaded JSONL file and return its records with their line numbers."""
    _check_size(len(data), limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchInputError(
            "Input file must be UTF-8 encoded JSON Lines", error_code=CODE_INPUT_NOT_JSONL
        ) from exc
    # Split on "\n" only: JSON strings may legally hold U+2028 and friends unescaped.
    numbered = [
        (number, raw.rstrip("\r"))
        for number, raw in enumerate(text.split("\n"), start=1)
        if raw.strip()
    ]
    _check_count(len(numbered), limits)

    def decoded() -> Iterator[tuple[int, object]]:
        for number, raw in numbered:
            try:
                record = json.loads(raw)
            except json.JSONDecodeError as exc:
                detail = f"{exc.msg} at column {exc.colno}"
                raise _line_error(number, f"invalid JSON ({detail})") from exc
            yield number, record

    return _accept(decoded())


def serialise_rows(rows: list[Any]) -> bytes:
    """The JSONL form of rows whose size counts against the limit: one compact object per line."""
    return "".join(
        json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n" for row in rows
    ).encode()


def parse_rows(rows: object, limits: Limits) -> list[InputLine]:
    """Validate the ``rows`` of the JSON create form; row ``i`` is reported as line ``i + 1``."""
    if not isinstance(rows, list):
        raise BatchInputError('"rows" must be an array of objects', error_code=CODE_INPUT_MISSING)
    _check_size(len(serialise_rows(rows)), limits)
    _check_count(len(rows), limits)
    return _accept(enumerate(rows, start=1))
