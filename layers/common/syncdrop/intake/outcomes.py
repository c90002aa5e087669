"""What reading an upload produces: a Sync batch line per good row, a reason per bad one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


# Not frozen: one of these is built per row, and a frozen dataclass's __init__ costs 2.5x.
@dataclass(slots=True)
class AcceptedRow:
    """A row that became one Sync batch line."""

    # CSV: the spreadsheet row (header = 1); JSONL: the 1-based line number.
    row_number: int
    request_id: str
    # Compact JSON of {"request_id", "endpoint", "payload"}, without the trailing newline.
    line: bytes
    # The row as the person wrote it: the header's names and the row's cells, in header
    # order (cells beyond the names mean nothing). Kept apart, not as a dict, because most
    # rows are only ever serialised.
    names: Sequence[str]
    cells: Sequence[str]

    @property
    def columns(self) -> dict[str, str]:
        """Every column of the row by its header name, in header order."""
        return dict(zip(self.names, self.cells))  # noqa: B905 - cells may hold a spare one


@dataclass(slots=True)
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
