"""The deterministic rule that decides which batch lines (or whole batches) the emulator fails.

Rule, applied when a batch is created:

1. **Whole batch** — if any input ``url`` of any line contains ``sync-batch-fail``, the batch ends
   ``FAILED``: every line is ``FAILED`` with error code ``BATCH_FAILED``.
2. **One line** — otherwise a line whose payload has an input ``url`` containing ``sync-fail``
   fails. ``sync-fail=<CODE>`` (``CODE`` made of letters, digits and ``_``) picks the error code,
   e.g. ``https://cdn.example/v.mp4?sync-fail=INVALID_INPUT``; plain ``sync-fail`` means
   ``GENERATION_FAILED``. The message is human readable (see :data:`ERROR_MESSAGES`).
3. **Random** — otherwise, with ``failure_rate > 0``, a line fails with ``GENERATION_FAILED`` when
   ``random.Random(f"{seed}:{batch_ordinal}:{request_id}").random() < failure_rate``, where
   ``batch_ordinal`` counts created batches from 1. The same seed and the same sequence of creates
   give the same failures.
4. Every other line is ``COMPLETED``.

Only ``url`` fields of ``payload.input`` items are inspected (not ``assetId`` or TTS scripts).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

BATCH_FAIL_MARKER = "sync-batch-fail"
LINE_FAIL_MARKER = "sync-fail"
DEFAULT_LINE_ERROR = "GENERATION_FAILED"
BATCH_ERROR = "BATCH_FAILED"

_LINE_FAIL = re.compile(r"sync-fail(?:=([A-Za-z0-9_]+))?")

ERROR_MESSAGES: dict[str, str] = {
    "GENERATION_FAILED": "The generation failed while rendering the output video.",
    "INVALID_INPUT": "The input media could not be processed. Check that the URLs are reachable.",
    "BATCH_FAILED": "Batch processing failed; no generation in this batch was completed.",
    "NO_FACE_DETECTED": "No face was detected in the input video.",
    "INPUT_TOO_LONG": "Batch generations support inputs of up to 30 seconds.",
    "TIMED_OUT": "The generation timed out.",
}


@dataclass(frozen=True)
class LineOutcome:
    """What happens to one line: ``COMPLETED``, or ``FAILED`` with a code and message."""

    status: str
    error_code: str | None = None
    error_message: str | None = None

    @property
    def failed(self) -> bool:
        return self.status == "FAILED"


COMPLETED = LineOutcome("COMPLETED")


def failure(code: str) -> LineOutcome:
    message = ERROR_MESSAGES.get(code, f"The generation failed ({code}).")
    return LineOutcome("FAILED", code, message)


def input_urls(record: dict[str, Any]) -> list[str]:
    """All ``url`` strings of the record's ``payload.input`` items."""
    payload = record.get("payload")
    items = payload.get("input") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return []
    return [
        item["url"] for item in items if isinstance(item, dict) and isinstance(item.get("url"), str)
    ]


def batch_fails(records: list[dict[str, Any]]) -> bool:
    """Rule 1: does any url of any line ask for the whole batch to fail?"""
    return any(BATCH_FAIL_MARKER in url for record in records for url in input_urls(record))


def line_outcome(
    record: dict[str, Any], *, seed: int, batch_ordinal: int, failure_rate: float
) -> LineOutcome:
    """Rules 2-4 for one line of a batch that is not failing as a whole."""
    for url in input_urls(record):
        match = _LINE_FAIL.search(url)
        if match is not None:
            return failure(match.group(1) or DEFAULT_LINE_ERROR)
    if failure_rate > 0:
        roll = random.Random(f"{seed}:{batch_ordinal}:{record.get('request_id')}").random()  # nosec B311 # seeded
        if roll < failure_rate:
            return failure(DEFAULT_LINE_ERROR)
    return COMPLETED
