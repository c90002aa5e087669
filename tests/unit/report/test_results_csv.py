"""The results CSV: Excel-ready bytes, the person's columns carried along, no live formulas."""

from __future__ import annotations

import csv
import io

from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop.report import (
    RESULT_COLUMNS,
    ReportRow,
    ResultCounts,
    RowStatus,
    spreadsheet_safe,
    write_results_csv,
)
from syncdrop.report.results_csv import FLUSH_BYTES, format_seconds, results_header

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def write(rows: list[ReportRow], input_columns: list[str]) -> tuple[bytes, ResultCounts]:
    out = io.BytesIO()
    counts = write_results_csv(rows, input_columns, out)
    return out.getvalue(), counts


def read_back(data: bytes) -> list[list[str]]:
    """Read the file the way Excel does: BOM marks UTF-8, then comma-separated with quotes."""
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), dialect="excel"))


def done(row: int, **columns: str) -> ReportRow:
    return ReportRow(
        row_number=row,
        request_id=f"row-{row}",
        status=RowStatus.COMPLETED,
        output_url=f"https://output.sync.so/{row}.mp4",
        output_duration=12.3456,
        generation_id=f"gen-{row}",
        columns=columns,
    )


def test_round_trip_with_bom_crlf_and_the_persons_columns() -> None:
    rows = [
        done(2, video_url="https://x/a.mp4", name="Zoë", campaign="Q1, spring"),
        ReportRow(
            3,
            "row-3",
            RowStatus.FAILED,
            generation_id="gen-3",
            error_code="INVALID_INPUT",
            error_message='Video "a.mp4" unreadable\nline two',
            columns={"video_url": "https://x/b.mp4", "name": "李雷 🎬"},
        ),
        ReportRow(
            4,
            "",
            RowStatus.REJECTED,
            error_message="video_url is missing",
            columns={"name": "Ana"},
        ),
    ]
    data, counts = write(rows, ["video_url", "name", "campaign"])

    assert data.startswith(b"\xef\xbb\xbfrow,request_id,status,")
    # Records end in CRLF; a line break inside a cell stays a bare LF, as Excel writes it.
    assert data.endswith(b"\r\n")
    assert data.count(b"\r\n") == 4
    assert counts == ResultCounts(completed=1, failed=1, rejected=1, total=3)
    header, *body = read_back(data)
    assert header == [*RESULT_COLUMNS, "video_url", "name", "campaign"]
    assert body == [
        [
            "2",
            "row-2",
            "COMPLETED",
            "https://output.sync.so/2.mp4",
            "12.346",
            "gen-2",
            "",
            "",
            "https://x/a.mp4",
            "Zoë",
            "Q1, spring",
        ],
        [
            "3",
            "row-3",
            "FAILED",
            "",
            "",
            "gen-3",
            "INVALID_INPUT",
            'Video "a.mp4" unreadable\nline two',
            "https://x/b.mp4",
            "李雷 🎬",
            "",
        ],
        ["4", "", "REJECTED", "", "", "", "", "video_url is missing", "", "Ana", ""],
    ]


def test_non_ascii_is_utf8_on_disk() -> None:
    data, _ = write([done(2, name="Zoë 🎬")], ["name"])
    assert "Zoë 🎬".encode() in data


def test_formula_cells_are_neutralised_everywhere() -> None:
    rows = [
        ReportRow(
            2,
            "row-2",
            RowStatus.FAILED,
            error_code="@SUM(A1)",
            error_message='=HYPERLINK("http://evil","click")',
            columns={"note": "+1", "debt": "-2", "tabbed": "\tcmd", "cr": "\rcmd", "ok": "fine"},
        )
    ]
    data, _ = write(rows, ["note", "debt", "tabbed", "cr", "ok", "=evil header"])
    header, row = read_back(data)
    assert header[-1] == "'=evil header"
    assert row[6:] == [
        "'@SUM(A1)",
        '\'=HYPERLINK("http://evil","click")',
        "'+1",
        "'-2",
        "'\tcmd",
        "'\rcmd",
        "fine",
        "",
    ]


def test_numbers_syncdrop_writes_are_left_as_numbers() -> None:
    data, _ = write([done(2)], [])
    _, row = read_back(data)
    assert (row[0], row[4]) == ("2", "12.346")


def test_duration_format() -> None:
    assert format_seconds(12.0) == "12"
    assert format_seconds(12.5) == "12.5"
    assert format_seconds(0.0004) == "0"
    assert format_seconds(1.9996) == "2"
    assert format_seconds(None) == ""
    # Never negative, so never a cell starting with "-".
    assert format_seconds(-1.0) == ""
    assert format_seconds(float("nan")) == ""


def test_input_request_id_is_kept_once_and_other_collisions_are_prefixed() -> None:
    header = [name for name, _ in results_header(["Request_ID", "status", "input_status", "Row"])]
    assert header == [*RESULT_COLUMNS, "input_status", "input_input_status", "input_Row"]
    rows = [done(2, Request_ID="mine", status="VIP", input_status="x", Row="7")]
    data, _ = write(rows, ["Request_ID", "status", "input_status", "Row"])
    names, row = read_back(data)
    assert names.count("request_id") == 1
    assert row[1] == "row-2"
    assert row[len(RESULT_COLUMNS) :] == ["VIP", "x", "7"]


def test_duplicate_input_columns_are_written_once() -> None:
    header = [name for name, _ in results_header(["name", "name"])]
    assert header == [*RESULT_COLUMNS, "name"]


def test_empty_report_still_has_a_header() -> None:
    data, counts = write([], ["name"])
    assert read_back(data) == [[*RESULT_COLUMNS, "name"]]
    assert counts == ResultCounts(0, 0, 0, 0)


def test_rows_keep_the_order_given() -> None:
    data, _ = write([done(5), done(2), done(9)], [])
    assert [row[0] for row in read_back(data)[1:]] == ["5", "2", "9"]


class CountingSink(io.BytesIO):
    """Records the size of each write, to see the CSV leave in pieces."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes.append(len(data))
        return super().write(data)


def test_large_reports_are_streamed_in_bounded_writes() -> None:
    sink = CountingSink()
    rows = (done(n, note="x" * 200) for n in range(2, 5002))
    counts = write_results_csv(rows, ["note"], sink)
    assert counts.total == counts.completed == 5000
    assert len(sink.writes) > 10
    # A single row is small, so no write exceeds the flush threshold by more than one row.
    assert max(sink.writes) < FLUSH_BYTES + 1024
    assert len(read_back(sink.getvalue())) == 5001


def test_lone_surrogate_does_not_stop_the_report() -> None:
    data, _ = write([done(2, name="bad \udcff byte")], ["name"])
    assert read_back(data)[1][-1] == "bad ? byte"


def expected_cell(text: str) -> str:
    return "'" + text if text[:1] in DANGEROUS else text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=6), st.text())
def test_any_text_round_trips_and_is_never_a_formula(cells: list[str], message: str) -> None:
    names = [f"c{n}" for n in range(len(cells))]
    row = ReportRow(
        2,
        "row-2",
        RowStatus.FAILED,
        error_message=message,
        columns=dict(zip(names, cells, strict=True)),
    )
    data, _ = write([row], names)
    _, written = read_back(data)
    assert written[7] == expected_cell(message)
    assert written[len(RESULT_COLUMNS) :] == [expected_cell(cell) for cell in cells]
    for cell in written:
        assert cell[:1] not in DANGEROUS


@given(st.text())
def test_spreadsheet_safe_only_adds_a_quote(text: str) -> None:
    safe = spreadsheet_safe(text)
    assert safe[:1] not in DANGEROUS
    assert safe in (text, "'" + text)
