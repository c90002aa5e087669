"""Properties of the reader on generated files: no surprise exceptions, one outcome per row."""

from __future__ import annotations

import csv
import io
import json
from typing import Literal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncdrop.intake import AcceptedRow, FileRejected, IntakeRules, RowRejection, UploadReader
from tests.unit.intake.uploads import AUDIO, RULES, VIDEO

KNOWN = [
    "request_id",
    "model",
    "tts_voice_id",
    "tts_script",
    "sync_mode",
    "temperature",
    "active_speaker_detection",
    "occlusion_detection_enabled",
    "model_mode",
    "prompt",
    "output_file_name",
]
CELL_VALUES = [
    VIDEO,
    AUDIO,
    "",
    " ",
    "s3://bucket-a/key.mp4",
    "http://plain.example.com/v.mp4",
    "lipsync-2",
    "react-1",
    "nope",
    "TRUE",
    "0,5",
    "1.5",
    "loop",
    "happy",
    "lips",
    "clip-1",
    "clip-2",
    "row-3",
    "row-4",
    "voice",
    "Hello",
]
# Delimiters, quotes, line breaks, spaces and non-ASCII, so quoting is exercised.
cell_text = st.text(alphabet=st.sampled_from(list(',;\t"\r\n x.:/-_éß中\u2028')), max_size=12)
cells = st.sampled_from(CELL_VALUES) | cell_text


def read_all(
    data: bytes, kind: Literal["csv", "jsonl"], rules: IntakeRules = RULES
) -> list[AcceptedRow | RowRejection]:
    return list(UploadReader(io.BytesIO(data), kind=kind, rules=rules))


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=600), kind=st.sampled_from(["csv", "jsonl"]))
def test_random_bytes_raise_nothing_but_file_rejected(
    data: bytes, kind: Literal["csv", "jsonl"]
) -> None:
    try:
        rows = read_all(data, kind)
    except FileRejected:
        return
    assert all(isinstance(row, AcceptedRow | RowRejection) for row in rows)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(
        [b"video_url,audio_url\n", b"\xef\xbb\xbfvideo_url;audio_url\r\n", b"\xff\xfev\x00"]
    ),
    data=st.binary(max_size=400),
)
def test_random_bytes_after_a_header_raise_nothing_but_file_rejected(
    prefix: bytes, data: bytes
) -> None:
    try:
        rows = read_all(prefix + data, "csv")
    except FileRejected:
        return
    assert all(isinstance(row, AcceptedRow | RowRejection) for row in rows)


@settings(max_examples=200, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.text(max_size=60),
            st.builds(
                json.dumps,
                st.dictionaries(
                    st.sampled_from(["request_id", "endpoint", "payload", "x"]),
                    st.text(max_size=5) | st.integers() | st.none(),
                ),
            ),
        ),
        max_size=8,
    )
)
def test_random_jsonl_lines_raise_nothing_but_file_rejected(text: list[str]) -> None:
    try:
        rows = read_all("\n".join(text).encode("utf-8", "surrogatepass"), "jsonl")
    except FileRejected:
        return
    assert [row.row_number for row in rows] == sorted({row.row_number for row in rows})


@st.composite
def spreadsheets(draw: st.DrawFn) -> tuple[bytes, list[str], list[list[str]]]:
    extra = draw(st.lists(st.sampled_from(KNOWN), unique=True, max_size=5))
    own = draw(
        st.lists(st.sampled_from(["Name", "email", "campaign", "notes"]), unique=True, max_size=2)
    )
    header = ["video_url", "audio_url", *extra, *own]
    header = draw(st.permutations(header))
    width = len(header)
    records = draw(
        st.lists(
            st.lists(cells, min_size=0, max_size=width + 2),
            max_size=25,
        )
    )
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    quoting: Literal[0, 1] = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, quoting=quoting, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(records)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return out.getvalue().encode(encoding), header, records


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(upload=spreadsheets())
def test_every_non_blank_record_yields_exactly_one_outcome_in_row_order(
    upload: tuple[bytes, list[str], list[list[str]]],
) -> None:
    data, header, records = upload
    expected_rows = [
        index + 2 for index, record in enumerate(records) if any(c.strip() for c in record)
    ]

    rows = read_all(data, "csv")

    assert [row.row_number for row in rows] == expected_rows
    ids = [row.request_id for row in rows if isinstance(row, AcceptedRow)]
    assert len(ids) == len(set(ids))
    claimed = [row.request_id for row in rows if row.request_id is not None]
    assert len(claimed) == len(set(claimed))
    for row in rows:
        assert list(row.columns) == header
        if isinstance(row, AcceptedRow):
            line = json.loads(row.line)
            assert line["endpoint"] == "/v2/generate"
            assert len(row.line) < RULES.max_line_bytes
            assert line["payload"]["input"][0]["url"].startswith("https://")
        else:
            assert row.reason


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(0, 30),
    blanks=st.lists(st.integers(0, 30), max_size=5),
)
def test_accepted_rows_of_a_clean_file_are_all_its_rows(count: int, blanks: list[int]) -> None:
    records = [[VIDEO, AUDIO, f"id-{i}"] for i in range(count)]
    for position in sorted(blanks, reverse=True):
        records.insert(min(position, len(records)), ["", " ", ""])
    text = "video_url,audio_url,request_id\n" + "".join(",".join(r) + "\n" for r in records)

    rows = read_all(text.encode(), "csv")

    assert [row.request_id for row in rows] == [f"id-{i}" for i in range(count)]
    assert all(isinstance(row, AcceptedRow) for row in rows)
