"""CSV file rules: the encodings and dialects spreadsheets export, and whole-file refusals."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc

import pytest

from syncdrop.intake import AcceptedRow, FileRejected, IntakeRules, RowRejection, UploadReader
from tests.unit.intake.uploads import AUDIO, RULES, VIDEO, csv_text, payload, read


def rejected_file(data: bytes | str, rules: IntakeRules = RULES) -> str:
    with pytest.raises(FileRejected) as caught:
        read(data, rules=rules)
    assert caught.value.message == str(caught.value)
    return caught.value.message


def test_an_excel_export_with_semicolons_bom_crlf_and_quoted_newlines_is_read() -> None:
    # What Excel (European locale) writes for "CSV UTF-8": BOM, ';', CRLF, a cell with a
    # line break in quotes, decimal commas, and blank trailing rows as ';;;'.
    text = (
        "\ufeffrequest_id;video_url;audio_url;Notes;temperature\r\n"
        f'intro;{VIDEO};{AUDIO};"Line one\r\nline two; with ""quotes""";0,8\r\n'
        f"outro;{VIDEO};{AUDIO};plain;\r\n"
        ";;;;\r\n"
        ";;;;\r\n"
    )

    reader = UploadReader(io.BytesIO(text.encode("utf-8")), kind="csv", rules=RULES)
    rows = list(reader)

    assert reader.columns == ["request_id", "video_url", "audio_url", "Notes", "temperature"]
    assert [type(row) for row in rows] == [AcceptedRow, AcceptedRow]
    assert [row.row_number for row in rows] == [2, 3]  # the quoted newline does not shift rows
    assert rows[0].columns["Notes"] == 'Line one\r\nline two; with "quotes"'
    first = rows[0]
    assert isinstance(first, AcceptedRow)
    assert payload(first)["options"] == {"temperature": 0.8}
    assert rows[1].request_id == "outro"


def test_excel_unicode_text_export_utf16_with_tabs_is_read() -> None:
    text = f"video_url\taudio_url\tname\r\n{VIDEO}\t{AUDIO}\tZoë\r\n"

    rows = read(text.encode("utf-16"))  # BOM + UTF-16LE, as Excel writes it

    assert len(rows) == 1
    assert isinstance(rows[0], AcceptedRow)
    assert rows[0].columns == {"video_url": VIDEO, "audio_url": AUDIO, "name": "Zoë"}


def test_utf16_big_endian_with_bom_is_read() -> None:
    text = f"video_url,audio_url\n{VIDEO},{AUDIO}\n"

    rows = read(b"\xfe\xff" + text.encode("utf-16-be"))

    assert [row.row_number for row in rows] == [2]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_delimiter_and_line_ending_are_detected(delimiter: str, newline: str) -> None:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator=newline)
    writer.writerow(["video_url", "audio_url", "title"])
    writer.writerow([VIDEO, AUDIO, "a, b; c"])

    rows = read(out.getvalue())

    assert isinstance(rows[0], AcceptedRow)
    assert rows[0].columns["title"] == "a, b; c"


def test_delimiter_is_the_one_that_makes_video_url_a_column() -> None:
    # More commas than semicolons, but only ';' splits out video_url.
    text = 'video_url;audio_url;"notes, with, commas"\n' + f"{VIDEO};{AUDIO};x\n"

    rows = read(text)

    assert isinstance(rows[0], AcceptedRow)


def test_excels_sep_line_names_the_delimiter_and_is_not_a_row() -> None:
    text = f"sep=;\nvideo_url;audio_url\n{VIDEO};{AUDIO}\n"

    rows = read(text)

    assert isinstance(rows[0], AcceptedRow)
    assert rows[0].row_number == 2


def test_windows_1252_bytes_reject_the_file_naming_the_row() -> None:
    text = csv_text("video_url,audio_url,name", f"{VIDEO},{AUDIO},Ann", f"{VIDEO},{AUDIO},José")

    message = rejected_file(text.encode("cp1252"))

    assert "row 3" in message
    assert "not UTF-8" in message
    assert "Save it from Excel as 'CSV UTF-8 (Comma delimited)'" in message


def test_the_row_named_for_bad_bytes_is_the_spreadsheet_row_after_quoted_newlines() -> None:
    text = f'video_url,audio_url,notes\n{VIDEO},{AUDIO},"two\nlines"\n{VIDEO},{AUDIO},Caf\xe9\n'

    message = rejected_file(text.encode("latin-1"))

    assert "row 3" in message


def test_bad_bytes_inside_a_multiline_cell_name_the_row_the_cell_starts_in() -> None:
    text = csv_text("video_url,audio_url,notes", f'{VIDEO},{AUDIO},"first\nsecond \xe9 line"')

    message = rejected_file(text.encode("latin-1"))

    assert "row 2" in message


def test_nul_bytes_reject_the_file_as_binary() -> None:
    message = rejected_file(csv_text("video_url,audio_url", f"{VIDEO},{AUDIO}\x00"))

    assert "binary" in message
    assert "row 2" in message


def test_utf16_without_bom_is_refused_as_binary_not_misread() -> None:
    message = rejected_file(f"video_url,audio_url\n{VIDEO},{AUDIO}\n".encode("utf-16-le"))

    assert "row 1" in message
    assert "CSV UTF-8" in message


def test_a_truncated_utf16_file_is_refused() -> None:
    data = f"video_url,audio_url\n{VIDEO},{AUDIO}".encode("utf-16")[:-1]

    assert "UTF-16" in rejected_file(data)


def test_an_excel_workbook_saved_as_csv_is_refused_with_export_advice() -> None:
    message = rejected_file(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64)

    assert "workbook" in message
    assert "CSV UTF-8" in message


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n\r\n", b";;;\r\n;;;\r\n"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    assert "empty" in rejected_file(data)


def test_a_file_whose_first_row_is_data_is_refused_as_missing_its_header() -> None:
    message = rejected_file(f"{VIDEO},{AUDIO}\n{VIDEO},{AUDIO}\n")

    assert "header" in message
    assert "holds data" in message


def test_a_header_without_video_url_is_refused_listing_what_it_found() -> None:
    message = rejected_file("Video URL,audio_url\nx,y\n")

    assert "no video_url column" in message
    assert "'Video URL'" in message


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("video_url,name", ["no audio column", "audio_url", "tts_voice_id and tts_script"]),
        ("video_url,tts_voice_id", ["tts_voice_id but no tts_script"]),
        ("video_url,tts_script", ["tts_script but no tts_voice_id"]),
    ],
)
def test_a_header_without_an_audio_source_is_refused(header: str, words: list[str]) -> None:
    message = rejected_file(csv_text(header, "x,y"))

    for word in words:
        assert word in message


def test_a_header_with_only_tts_columns_is_fine() -> None:
    rows = read(csv_text("video_url,tts_voice_id,tts_script", f"{VIDEO},v,Hello"))

    assert isinstance(rows[0], AcceptedRow)


def test_duplicate_header_names_are_refused_naming_both_columns() -> None:
    message = rejected_file(csv_text("video_url,audio_url,Notes,notes ", "a,b,c,d"))

    assert "'notes' twice" in message or "'Notes' twice" in message
    assert "columns 3 and 4" in message


def test_unnamed_columns_are_kept_under_their_position() -> None:
    rows = read(csv_text("video_url,audio_url,", f"{VIDEO},{AUDIO},extra"))

    assert isinstance(rows[0], AcceptedRow)
    assert rows[0].columns == {"video_url": VIDEO, "audio_url": AUDIO, "column 3": "extra"}


def test_a_cell_larger_than_the_csv_module_allows_refuses_the_file() -> None:
    # An opened, never-closed quote swallows the rest of the file into one cell.
    rows = "\n".join(f"{VIDEO},{AUDIO}" for _ in range(3000))
    message = rejected_file(f'video_url,audio_url\n{VIDEO},"{AUDIO}\n{rows}\n')

    assert message.startswith("Row 2 has a cell longer than 131,072 characters")
    assert "double quote" in message


def test_an_endless_line_refuses_the_file_without_reading_it_whole() -> None:
    message = rejected_file("video_url,audio_url\n" + "x" * (3 << 20))

    assert "row 2" in message
    assert "without a line break" in message


def test_blank_records_are_skipped_but_keep_spreadsheet_row_numbers() -> None:
    text = f"video_url,audio_url\n\n{VIDEO},{AUDIO}\n,\n , \n{VIDEO},{AUDIO}\n"

    rows = read(text)

    assert [row.row_number for row in rows] == [3, 6]


def test_more_rows_than_allowed_refuse_the_file_after_reading_just_past_the_limit() -> None:
    class CountingStream(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            self.read_bytes += len(data)
            return data

    body = "".join(f"{VIDEO},{AUDIO}\n" for _ in range(20_000))
    stream = CountingStream(("video_url,audio_url\n" + body).encode())
    reader = UploadReader(stream, kind="csv", rules=IntakeRules(max_rows=10))

    with pytest.raises(FileRejected, match="more than 10 rows"):
        for _ in reader:
            pass
    assert stream.read_bytes < len(stream.getvalue()) / 4


def test_max_rows_counts_data_rows_only() -> None:
    text = csv_text("video_url,audio_url", *[f"{VIDEO},{AUDIO}"] * 3, ",", ",")

    rows = read(text, rules=IntakeRules(max_rows=3))

    assert len(rows) == 3


def test_columns_are_known_once_iteration_starts_and_the_reader_reads_once() -> None:
    reader = UploadReader(
        io.BytesIO(csv_text("video_url,audio_url", f"{VIDEO},{AUDIO}").encode()),
        kind="csv",
        rules=RULES,
    )
    assert reader.columns == []

    iterator = iter(reader)
    next(iterator)

    assert reader.columns == ["video_url", "audio_url"]
    with pytest.raises(RuntimeError):
        iter(reader)


def test_the_callers_stream_is_left_open() -> None:
    stream = io.BytesIO(csv_text("video_url,audio_url", f"{VIDEO},{AUDIO}").encode())

    list(UploadReader(stream, kind="csv", rules=RULES))

    assert not stream.closed


def test_a_stream_that_returns_short_reads_is_read_whole() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = data

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1) -> bytes:
            piece, self._data = self._data[:3], self._data[3:]
            return piece

    text = "\ufeff" + csv_text("video_url;audio_url", *[f"{VIDEO};{AUDIO}"] * 5)

    rows = list(UploadReader(Trickle(text.encode()), kind="csv", rules=RULES))  # type: ignore[arg-type]

    assert [row.row_number for row in rows] == [2, 3, 4, 5, 6]
    assert all(isinstance(row, AcceptedRow) for row in rows)


def test_rejections_and_acceptances_keep_file_order() -> None:
    text = csv_text("video_url,audio_url", f"{VIDEO},{AUDIO}", f"x,{AUDIO}", f"{VIDEO},{AUDIO}")

    rows = read(text)

    assert [type(row) for row in rows] == [AcceptedRow, RowRejection, AcceptedRow]
    assert json.loads(rows[2].line)["request_id"] == "row-4"  # type: ignore[union-attr]


def test_memory_stays_flat_while_a_large_file_streams_through() -> None:
    class GeneratedUpload(io.RawIOBase):
        """20 MB of rows made on demand, so only the reader can hold them."""

        def __init__(self, rows: int) -> None:
            self._rows = iter(range(rows))
            self._pending = b"video_url,audio_url,notes\n"

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
            while len(self._pending) < len(buffer):
                number = next(self._rows, None)
                if number is None:
                    break
                self._pending += f"{VIDEO},{AUDIO},{'n' * 2000}{number}\n".encode()
            size = min(len(buffer), len(self._pending))
            buffer[:size] = self._pending[:size]
            self._pending = self._pending[size:]
            return size

    tracemalloc.start()
    try:
        accepted = sum(
            isinstance(row, AcceptedRow)
            for row in UploadReader(GeneratedUpload(10_000), kind="csv", rules=RULES)  # type: ignore[arg-type]
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert accepted == 10_000
    assert peak < 5 * 1024 * 1024
