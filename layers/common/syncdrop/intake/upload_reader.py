"""Reads one uploaded file, CSV or JSONL, as a stream of accepted rows and row rejections."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Literal

from syncdrop.intake.csv_upload import read_csv
from syncdrop.intake.jsonl_upload import JSONL_COLUMNS, read_jsonl
from syncdrop.intake.outcomes import AcceptedRow, RowRejection
from syncdrop.intake.rules import IntakeRules


class UploadReader:
    """Iterate once to get, in file order, one AcceptedRow or RowRejection per non-blank row.

    Streaming: memory stays flat whatever the file's size, apart from the set of request
    ids already seen. Iteration raises FileRejected when the file as a whole is unusable.
    """

    def __init__(
        self, stream: BinaryIO, *, kind: Literal["csv", "jsonl"], rules: IntakeRules
    ) -> None:
        if kind not in ("csv", "jsonl"):
            raise ValueError(f"kind must be 'csv' or 'jsonl', not {kind!r}")
        self._stream = stream
        self._kind = kind
        self._rules = rules
        self._started = False
        # CSV: the header as written, known once the first row has been read.
        self.columns: list[str] = list(JSONL_COLUMNS) if kind == "jsonl" else []

    def __iter__(self) -> Iterator[AcceptedRow | RowRejection]:
        if self._started:
            raise RuntimeError("an upload is a stream and can be read only once")
        self._started = True
        if self._kind == "jsonl":
            return read_jsonl(self._stream, self._rules)
        return read_csv(self._stream, self._rules, self._set_columns)

    def _set_columns(self, names: list[str]) -> None:
        self.columns = list(names)
