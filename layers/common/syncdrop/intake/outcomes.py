"""What reading an upload produces: a Sync batch line per good row, a reason per bad one."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AcceptedRow:
    """A row that became one Sync batch line."""

    # CSV: the spreadsheet row (header = 1); JSONL: the 1-based line number.
    row_number: int
    request_id: str
    # Compact JSON of {"request_id", "endpoint", "payload"}, without the trailing newline.
    line: bytes
    # The row as the person wrote it, every column in header order.
    columns: dict[str, str]


@dataclass(frozen=True, slots=True)
class RowRejection:
    """A row that cannot be sent, with a reason written for the person who made the file."""

    row_number: int
    # The row's id when it is well-formed and not already used by an earlier row, else None,
    # so the ids of accepted and rejected rows of one file never collide.
    request_id: str | None
    reason: str
    columns: dict[str, str]


class FileRejected(Exception):
    """The upload as a whole cannot be used; ``message`` tells the person what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
