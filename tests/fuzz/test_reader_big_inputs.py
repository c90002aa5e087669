"""UploadReader on huge uploads: giant fields, a million blank lines, 200k rows, 10,000 columns."""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Iterable, Iterator

import pytest

from syncdrop.intake import AcceptedRow, FileRejected, RowRejection, UploadReader
from tests.fuzz.uploads import (
    AUDIO,
    RULES,
    VIDEO,
    Kind,
    LazyUpload,
    assert_all_sound,
    batched,
    drain,
    peak_memory,
    read,
)

MB = 1 << 20
HEADER = b"video_url,audio_url\n"
ROW = f"{VIDEO},{AUDIO}\n".encode()
JSON_ROW = (
    b'{"payload":{"input":[{"type":"video","url":"' + VIDEO.encode() + b'"},'
    b'{"type":"audio","url":"' + AUDIO.encode() + b'"}]}}\n'
)
TEN_MB = 10 * MB
# Generous for a slow shared machine; a quadratic or per-byte Python loop would blow it.
QUICK_SECONDS = 15.0


def upload(*parts: bytes | Iterable[bytes]) -> LazyUpload:
    """A lazily streamed upload: bytes as they are, iterables of lines in 32 KB pieces."""
    pieces: list[Iterable[bytes]] = [
        [part] if isinstance(part, bytes) else batched(part) for part in parts
    ]
    return LazyUpload(itertools.chain.from_iterable(pieces))


def megabytes_of(filler: bytes, size: int = TEN_MB) -> Iterator[bytes]:
    return itertools.repeat(filler, size // len(filler))


def refusal(stream: LazyUpload, kind: Kind = "csv") -> str:
    with pytest.raises(FileRejected) as refused:
        drain(stream, kind)
    return refused.value.message


# --- one giant field --------------------------------------------------------------------
def test_a_10_mb_unquoted_cell_is_refused_by_its_row_within_bounded_memory() -> None:
    messages: list[str] = []

    def run() -> None:
        stream = upload(HEADER, megabytes_of(b"x" * 4096), b"," + AUDIO.encode() + b"\n")
        messages.append(refusal(stream))

    assert peak_memory(run) < 8 * MB
    assert "row 2" in messages[0]


def test_a_10_mb_quoted_cell_with_line_breaks_is_refused_by_its_row() -> None:
    messages: list[str] = []

    def run() -> None:
        body = megabytes_of(b"more text\r\n")
        stream = upload(HEADER, ROW, b'"', body, b'",' + AUDIO.encode() + b"\n", ROW)
        messages.append(refusal(stream))

    assert peak_memory(run) < 8 * MB
    assert messages[0].startswith("Row 3 has a cell longer than")


def test_a_10_mb_jsonl_line_is_one_rejected_row_and_the_next_line_still_counts() -> None:
    counts: list[tuple[int, int, int]] = []

    def run() -> None:
        stream = upload(
            b'{"request_id":"', megabytes_of(b"y" * 4096), b'"}\n', JSON_ROW, b"\n", JSON_ROW
        )
        counts.append(drain(stream, "jsonl"))

    assert peak_memory(run) < 8 * MB
    assert counts == [(2, 1, 4)]  # line 1 rejected, lines 2 and 4 accepted


def test_a_tts_script_too_big_for_one_sync_request_rejects_only_its_row() -> None:
    script = "€" * 100_000  # within the cell limit in characters, 300 KB as UTF-8
    data = f"video_url,tts_voice_id,tts_script\n{VIDEO},voice,{script}\n{VIDEO},voice,hi\n"
    outcome = read(data.encode(), "csv")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    first, second = outcome
    assert isinstance(first, RowRejection)
    assert "becomes a Sync request of 300," in first.reason
    assert isinstance(second, AcceptedRow)


# --- a million blank lines ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "head", "blank", "tail", "last_row"),
    [
        ("csv", HEADER, b"\n", ROW, 1_000_002),
        ("csv", HEADER, b"\r", ROW, 1_000_002),
        ("csv", HEADER, b"\r\n", ROW, 1_000_002),
        ("csv", b"video_url;audio_url\r\n", b";;\r\n", ROW.replace(b",", b";"), 1_000_002),
        ("csv", b"", b"\n", HEADER + ROW, 1_000_002),  # the blank lines come before the header
        ("jsonl", b"", b" \t\r\n", JSON_ROW, 1_000_001),
    ],
    ids=["lf", "cr", "crlf", "semicolons", "before-header", "jsonl-whitespace"],
)
def test_a_million_blank_lines_are_skipped_quickly_and_counted(
    kind: Kind, head: bytes, blank: bytes, tail: bytes, last_row: int
) -> None:
    started = time.perf_counter()
    counts = drain(upload(head, itertools.repeat(blank, 1_000_000), tail), kind)
    assert time.perf_counter() - started < QUICK_SECONDS
    assert counts == (1, 0, last_row)


def test_a_million_blank_lines_take_no_memory_to_skip() -> None:
    counts: list[tuple[int, int, int]] = []

    def run() -> None:
        stream = upload(itertools.repeat(b"\r\n", 1_000_000), JSON_ROW)
        counts.append(drain(stream, "jsonl"))

    assert peak_memory(run) < 2 * MB
    assert counts == [(1, 0, 1_000_001)]


def test_only_blank_lines_are_an_empty_file() -> None:
    assert "empty" in refusal(upload(itertools.repeat(b"\r\n", 1_000_000)))
    assert "empty" in refusal(upload(itertools.repeat(b"\n", 1_000_000)), "jsonl")


# --- memory over many rows ----------------------------------------------------------------
def mixed_rows(count: int) -> Iterator[bytes]:
    """Every kind of record a big export holds, cycling: rows with options, blank records,
    a cell with line breaks, rows with mistakes. Request ids repeat, so the one index the
    reader keeps (ids already used) stays small and anything else that grows shows."""
    shapes = [
        f"{VIDEO},{AUDIO},clip-a,loop,0.5,Anna\r\n".encode(),
        b",,,,,\r\n",
        f'{VIDEO},{AUDIO},clip-b,bounce,0,"two\nlines"\r\n'.encode(),
        f"http://x.example.com/v.mp4,{AUDIO},clip-c,nope,2,Bo\r\n".encode(),
        b"\r\n",
        f"{VIDEO},,clip-d,,,Cy\n".encode(),
    ]
    for number in range(count):
        yield shapes[number % len(shapes)]


def rows_upload(count: int) -> LazyUpload:
    header = b"video_url,audio_url,request_id,sync_mode,temperature,name\r\n"
    return upload(header, mixed_rows(count))


def test_memory_stays_flat_from_10k_to_100k_rows() -> None:
    """100k records is a whole file at the default MaxRowsPerFile; 10x the records must not
    mean more memory."""
    counts: dict[int, tuple[int, int, int]] = {}

    def reading(rows: int) -> int:
        return peak_memory(lambda: counts.setdefault(rows, drain(rows_upload(rows), "csv")))

    small, large = reading(10_000), reading(100_000)

    accepted, rejected, last_row = counts[100_000]
    assert accepted == 2  # clip-a and clip-b once; every repeat is a duplicate
    assert accepted + rejected == sum(1 for n in range(100_000) if n % 6 not in (1, 4))
    assert last_row == 100_001
    assert large < 4 * MB
    assert large < 1.5 * small + 512 * 1024, (small, large)


def test_accepted_rows_cost_only_their_request_id_index() -> None:
    """Unique ids are the one thing the reader must remember; nothing else may pile up."""
    counts: dict[int, tuple[int, int, int]] = {}

    def reading(rows: int) -> int:
        stream = upload(HEADER, itertools.repeat(ROW, rows))
        return peak_memory(lambda: counts.setdefault(rows, drain(stream, "csv")))

    small, large = reading(4_000), reading(24_000)

    assert (large - small) / 20_000 < 256, (small, large)  # bytes per extra row
    assert counts[24_000] == (24_000, 0, 24_001)  # every default id is new: all accepted


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_request_ids_repeated_across_a_big_file_are_caught_exactly(kind: Kind) -> None:
    count, distinct = 60_000, 40_000
    if kind == "csv":
        head = b"video_url,audio_url,request_id\n"
        lines = (f"{VIDEO},{AUDIO},id-{n % distinct}\n".encode() for n in range(count))
        first_row = 2  # the header is row 1
    else:
        head = b""
        lines = (
            JSON_ROW.replace(b"{", b'{"request_id":"id-%d",' % (n % distinct), 1)
            for n in range(count)
        )
        first_row = 1
    outcomes = list(UploadReader(upload(head, lines), kind=kind, rules=RULES))
    assert len(outcomes) == count
    assert all(isinstance(outcome, AcceptedRow) for outcome in outcomes[:distinct])
    for number, outcome in enumerate(outcomes[distinct:], start=distinct):
        assert isinstance(outcome, RowRejection)
        assert outcome.request_id is None
        first = number % distinct
        assert f"'id-{first}' is already used by {kind_noun(kind)} {first_row + first};" in (
            outcome.reason
        )


def kind_noun(kind: Kind) -> str:
    return "row" if kind == "csv" else "line"


# --- wide rows ----------------------------------------------------------------------------
def test_a_10000_column_header_keeps_every_column_of_every_row() -> None:
    names = [f"c{n}" for n in range(9_998)]
    header = ",".join(["video_url", "audio_url", *names])
    rows = [",".join([VIDEO, AUDIO, *(f"v{r}-{n}" for n in range(9_998))]) for r in range(3)]
    outcome = read((header + "\n" + "\n".join(rows) + "\n").encode(), "csv")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    assert [type(row) for row in outcome] == [AcceptedRow] * 3
    assert all(len(row.columns) == 10_000 for row in outcome)
    assert outcome[2].columns["c9997"] == "v2-9997"


def test_10000_cells_under_a_two_column_header_reject_only_that_row() -> None:
    wide = ",".join([VIDEO, AUDIO, *(f"extra{n}" for n in range(9_998))])
    data = HEADER + wide.encode() + b"\n" + ROW
    outcome = read(data, "csv")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    first, second = outcome
    assert isinstance(first, RowRejection)
    assert "more cells than the header has columns (2)" in first.reason
    assert "extra0" in first.reason
    assert isinstance(second, AcceptedRow)


def test_10000_trailing_empty_cells_are_harmless() -> None:
    data = HEADER + ROW.rstrip(b"\n") + b"," * 10_000 + b"\n"
    outcome = read(data, "csv")
    assert not isinstance(outcome, FileRejected)
    assert [type(row) for row in outcome] == [AcceptedRow]


def test_a_header_naming_one_column_twice_among_10000_is_refused_with_both_positions() -> None:
    names = [f"c{n}" for n in range(9_998)]
    names[7_000] = "c12"
    header = ",".join(["video_url", "audio_url", *names])
    outcome = read((header + "\n").encode() + ROW, "csv")
    assert isinstance(outcome, FileRejected)
    assert "columns 15 and 7003" in outcome.message


# --- a header and nothing else ------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        b"video_url,audio_url",
        b"video_url,audio_url\r\n",
        b"\xef\xbb\xbfvideo_url;audio_url\r\n;\r\n\r\n",
        "video_url\taudio_url\n".encode("utf-16"),
        b"sep=;\nvideo_url;audio_url\n",
    ],
)
def test_a_csv_with_only_a_header_yields_no_rows_and_keeps_the_header(data: bytes) -> None:
    reader = UploadReader(io.BytesIO(data), kind="csv", rules=RULES)
    assert list(reader) == []
    assert reader.columns == ["video_url", "audio_url"]
