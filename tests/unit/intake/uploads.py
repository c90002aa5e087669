"""Builders for uploads in the shapes spreadsheets export, and a reader that collects outcomes."""

from __future__ import annotations

import io
import json
from typing import Literal

from syncdrop.intake import AcceptedRow, IntakeRules, RowRejection, UploadReader

VIDEO = "https://cdn.example.com/v/clip.mp4"
AUDIO = "https://cdn.example.com/a/voice.wav"


def presign(bucket: str, key: str) -> str:
    return f"https://{bucket}.s3.example.com/{key}?signed=1"


RULES = IntakeRules(presign_s3=presign)


def read(
    data: bytes | str,
    *,
    kind: Literal["csv", "jsonl"] = "csv",
    rules: IntakeRules = RULES,
) -> list[AcceptedRow | RowRejection]:
    raw = data.encode() if isinstance(data, str) else data
    return list(UploadReader(io.BytesIO(raw), kind=kind, rules=rules))


def csv_text(header: str, *rows: str) -> str:
    return "\n".join((header, *rows)) + "\n"


def one(data: bytes | str, **kwargs: object) -> AcceptedRow | RowRejection:
    outcomes = read(data, **kwargs)  # type: ignore[arg-type]
    assert len(outcomes) == 1, outcomes
    return outcomes[0]


def accepted(data: bytes | str, **kwargs: object) -> AcceptedRow:
    outcome = one(data, **kwargs)
    assert isinstance(outcome, AcceptedRow), outcome
    return outcome


def rejected(data: bytes | str, **kwargs: object) -> RowRejection:
    outcome = one(data, **kwargs)
    assert isinstance(outcome, RowRejection), outcome
    return outcome


def payload(row: AcceptedRow) -> dict[str, object]:
    line = json.loads(row.line)
    assert line["endpoint"] == "/v2/generate"
    assert line["request_id"] == row.request_id
    result: dict[str, object] = line["payload"]
    return result
