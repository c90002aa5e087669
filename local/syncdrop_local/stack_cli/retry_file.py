"""The file `syncdrop retry` drops: the failed rows of a job (and rows the person fixed), with
the person's own columns, named so it tells itself apart from the original."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

REQUEST_ID = "request_id"
_RETRY_SUFFIX = re.compile(r"\.retry-(\d+)$")


def retry_base(upload_key: str) -> str:
    """incoming/a/campaign.csv and incoming/a/campaign.retry-2.csv → incoming/a/campaign"""
    stem = upload_key.rsplit(".", 1)[0] if "." in upload_key.rsplit("/", 1)[-1] else upload_key
    return _RETRY_SUFFIX.sub("", stem)


def next_retry_key(upload_key: str, taken: Iterable[str]) -> str:
    """The next free incoming/<name>.retry-<n>.csv beside the original (``taken``: the keys
    that exist under that prefix)."""
    base = retry_base(upload_key)
    numbers = [0]
    for key in taken:
        rest = key.removeprefix(base)
        match = re.fullmatch(r"\.retry-(\d+)\.csv", rest) if rest != key else None
        if match:
            numbers.append(int(match.group(1)))
    return f"{base}.retry-{max(numbers) + 1}.csv"


def retry_header(columns: Sequence[str]) -> list[str]:
    """The original header, with a request_id column when it had none: every retried row
    carries its request_id, so its default (row-<n> of the original) cannot shift."""
    header = list(columns)
    if not any(name.strip().lower() == REQUEST_ID for name in header):
        header.append(REQUEST_ID)
    return header


def failed_row(header: Sequence[str], item: Mapping[str, Any]) -> list[str]:
    """One results item of a FAILED row as the person wrote it, with its request_id."""
    values: dict[str, Any] = json.loads(str(item.get("columns") or "{}"))
    cells = [str(values.get(name, "")) for name in header]
    at = next(i for i, name in enumerate(header) if name.strip().lower() == REQUEST_ID)
    cells[at] = str(item.get("request_id") or cells[at])
    return cells


def fixed_row(header: Sequence[str], columns: Mapping[str, str]) -> list[str]:
    """A fixed row's cells in the header's order (matched case-insensitively, as intake does)."""
    by_name = {name.strip().lower(): value for name, value in columns.items()}
    return [str(by_name.get(name.strip().lower(), "")) for name in header]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, dialect="excel")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")
