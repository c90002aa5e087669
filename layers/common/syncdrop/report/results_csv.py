"""The results CSV: one line per input row, streamed out in a form Excel opens cleanly."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

from syncdrop.report.result_lines import RowStatus

RESULT_COLUMNS = (
    "row",
    "request_id",
    "status",
    "output_url",
    "output_duration_s",
    "generation_id",
    "error_code",
    "error_message",
)
# Excel reads a UTF-8 file as the local code page unless it starts with a BOM.
UTF8_BOM = b"\xef\xbb\xbf"
# A spreadsheet treats a cell starting with one of these as a formula (OWASP CSV injection).
FORMULA_TRIGGERS = frozenset("=+-@\t\r")
# The person's own request_id column holds what the result column already says.
SAME_AS_RESULT = frozenset({"request_id"})
# Rows are buffered up to this size so the output sees a few large writes, not many tiny ones.
FLUSH_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One input row's final state, with the person's own cells to carry along."""

    row_number: int
    request_id: str
    status: RowStatus
    output_url: str = ""
    output_duration: float | None = None
    generation_id: str = ""
    error_code: str = ""
    error_message: str = ""
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ResultCounts:
    completed: int
    failed: int
    rejected: int
    total: int
    timed_out: int = 0  # also counted in ``total``; not in ``failed``
    cancelled: int = 0  # never sent (the job was cancelled); in ``total``, not in ``failed``


def spreadsheet_safe(text: str) -> str:
    """The text as a spreadsheet shows it, never as a formula it would run."""
    return "'" + text if text[:1] in FORMULA_TRIGGERS else text


def results_header(input_columns: Sequence[str]) -> list[tuple[str, str | None]]:
    """(header name, input column it comes from or None) for every column of the results."""
    header: list[tuple[str, str | None]] = [(name, None) for name in RESULT_COLUMNS]
    taken = {name.lower() for name in RESULT_COLUMNS}
    seen_inputs: set[str] = set()
    for name in input_columns:
        key = name.strip().lower()
        if key in SAME_AS_RESULT or name in seen_inputs:
            continue
        seen_inputs.add(name)
        shown = name
        # A person's "status" or "row" is their data, not ours: keep it under another name.
        while shown.strip().lower() in taken:
            shown = "input_" + shown
        taken.add(shown.strip().lower())
        header.append((shown, name))
    return header


def write_results_csv(
    rows: Iterable[ReportRow], input_columns: Sequence[str], out: BinaryIO
) -> ResultCounts:
    """Write the header then each row in the order given; returns how many ended in each state."""
    header = results_header(input_columns)
    sources = [source for _, source in header[len(RESULT_COLUMNS) :] if source is not None]
    buffer = io.StringIO()
    # csv's default line ending is CRLF, which Excel expects.
    writer = csv.writer(buffer, dialect="excel", quoting=csv.QUOTE_MINIMAL)
    out.write(UTF8_BOM)
    writer.writerow([spreadsheet_safe(name) for name, _ in header])
    completed = failed = rejected = timed_out = cancelled = 0
    for row in rows:
        if row.status == RowStatus.COMPLETED:
            completed += 1
        elif row.status == RowStatus.REJECTED:
            rejected += 1
        elif row.status == RowStatus.TIMED_OUT:
            timed_out += 1
        elif row.status == RowStatus.CANCELLED:
            cancelled += 1
        else:
            failed += 1
        cells = [
            str(row.row_number),
            spreadsheet_safe(row.request_id),
            str(row.status),
            spreadsheet_safe(row.output_url),
            format_seconds(row.output_duration),
            spreadsheet_safe(row.generation_id),
            spreadsheet_safe(row.error_code),
            spreadsheet_safe(row.error_message),
        ]
        cells.extend(spreadsheet_safe(row.columns.get(source, "")) for source in sources)
        writer.writerow(cells)
        if buffer.tell() >= FLUSH_BYTES:
            _flush(buffer, out)
    _flush(buffer, out)
    total = completed + failed + rejected + timed_out + cancelled
    return ResultCounts(completed, failed, rejected, total, timed_out, cancelled)


def format_seconds(seconds: float | None) -> str:
    """Up to three decimals, no trailing zeros; blank when there is no sensible duration."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return ""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def _flush(buffer: io.StringIO, out: BinaryIO) -> None:
    # A lone surrogate cannot be UTF-8; it becomes "?" rather than stopping the report.
    out.write(buffer.getvalue().encode("utf-8", errors="replace"))
    buffer.seek(0)
    buffer.truncate()
