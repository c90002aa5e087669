"""Turns the bytes of an upload into lines of text, or says in plain words why they are not text."""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

from syncdrop.intake.outcomes import FileRejected

# One physical line longer than this is not a spreadsheet row; reading stops there so
# memory stays flat whatever the file holds.
MAX_TEXT_LINE = 1 << 20

# Undecodable bytes come back as lone surrogates (surrogateescape / surrogatepass), which
# real text can never contain, so finding one names the exact line that is not text.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

_EXPORT_ADVICE = (
    "Save it from Excel as 'CSV UTF-8 (Comma delimited)', or use File > Download > "
    "Comma-separated values in Google Sheets, or File > Export To > CSV in Numbers, "
    "and upload it again."
)

_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")


class TextProblem(Exception):
    """Why a line could not be read as text; the reader knows which row it was."""

    def __init__(self, describe: str) -> None:
        super().__init__(describe)
        self.describe = describe

    def message(self, where: str) -> str:
        """The person-facing message, with ``where`` such as "row 7" or "line 7"."""
        return self.describe.format(where=where)


def not_text(encoding: str) -> TextProblem:
    if encoding.startswith("utf-16"):
        return TextProblem(
            "The file starts like UTF-16 text, but {where} holds bytes that are not valid "
            "UTF-16. " + _EXPORT_ADVICE
        )
    return TextProblem(
        "The file is not UTF-8 text: {where} has characters saved in another encoding "
        "(often Windows-1252, from Excel's plain 'CSV (Comma delimited)' or an older "
        "program). " + _EXPORT_ADVICE
    )


def binary_content() -> TextProblem:
    return TextProblem(
        "The file holds binary data (NUL bytes) in {where}, so it is not a CSV text file. "
        + _EXPORT_ADVICE
    )


def line_too_long(limit: int) -> TextProblem:
    return TextProblem(
        "The file has a line at {where} that runs for more than "
        + f"{limit:,} characters without a line break, which no row of video links "
        "needs; the file is probably not a CSV export. " + _EXPORT_ADVICE
    )


def problem_in(line: str, encoding: str) -> TextProblem | None:
    """The reason ``line`` is not usable text, or None when it is."""
    if "\x00" in line:
        return binary_content()
    if not line.isascii() and _LONE_SURROGATE.search(line):
        return not_text(encoding)
    return None


class _PrefixedStream(io.RawIOBase):
    """The caller's stream with the bytes already peeked at put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        super().__init__()
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer)) or b""
        buffer[: len(data)] = data
        return len(data)


def _peek(stream: BinaryIO, size: int) -> bytes:
    head = b""
    while len(head) < size:
        more = stream.read(size - len(head))
        if not more:
            break
        head += more
    return head


class TextSource:
    """The upload decoded incrementally: UTF-8 with or without BOM, or UTF-16 with BOM."""

    def __init__(self, stream: BinaryIO) -> None:
        head = _peek(stream, 4)
        if head.startswith(_WORKBOOK_MAGIC):
            raise FileRejected(
                "This is a spreadsheet workbook (Excel or Numbers), not a CSV file. "
                + _EXPORT_ADVICE
            )
        if head.startswith(codecs.BOM_UTF8):
            encoding, errors, skip = "utf-8", "surrogateescape", 3
        elif head.startswith(codecs.BOM_UTF16_LE):
            encoding, errors, skip = "utf-16-le", "surrogatepass", 2
        elif head.startswith(codecs.BOM_UTF16_BE):
            encoding, errors, skip = "utf-16-be", "surrogatepass", 2
        else:
            encoding, errors, skip = "utf-8", "surrogateescape", 0
        self.encoding = encoding
        raw = _PrefixedStream(head[skip:], stream)
        # newline="" keeps "\r\n" inside quoted cells intact for the csv module.
        self._text = io.TextIOWrapper(
            io.BufferedReader(raw, buffer_size=1 << 16),
            encoding=encoding,
            errors=errors,
            newline="",
        )

    def readline(self, limit: int) -> str:
        """The next physical line (with its line break), at most ``limit`` characters."""
        try:
            return self._text.readline(limit)
        except UnicodeDecodeError:
            # Only a truncated last character gets here; the error handlers catch the rest.
            raise not_text(self.encoding) from None

    def checked_lines(self, limit: int = MAX_TEXT_LINE) -> Iterator[str]:
        """Every physical line; raises TextProblem at the first one that is not text."""
        readline = self._text.readline
        lone_surrogate = _LONE_SURROGATE.search
        try:
            while line := readline(limit):
                if "\x00" in line or (not line.isascii() and lone_surrogate(line)):
                    problem = problem_in(line, self.encoding)
                    assert problem is not None  # nosec B101 # narrows a type; the line was just found bad
                    raise problem
                if len(line) >= limit and line[-1] not in "\r\n":
                    raise line_too_long(limit)
                yield line
        except UnicodeDecodeError:
            raise not_text(self.encoding) from None
