"""UploadReader on NUL bytes, mixed line breaks, and JSONL lines with hostile numbers or escapes."""

from __future__ import annotations

import codecs
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop.intake import AcceptedRow, FileRejected, RowRejection
from tests.fuzz.uploads import AUDIO, VIDEO, Kind, assert_all_sound, read, utf8_safe

HEADER = b"video_url,audio_url\n"
ROW = f"{VIDEO},{AUDIO}\n".encode()


def jsonl_line(**fields: object) -> str:
    line: dict[str, object] = {
        "request_id": "clip-1",
        "endpoint": "/v2/generate",
        "payload": {
            "model": "lipsync-2",
            "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
        },
    }
    line.update(fields)
    return json.dumps(line)


GOOD_LINE = jsonl_line(request_id="good").encode() + b"\n"


# --- NUL bytes ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "data", "where"),
    [
        ("csv", b"\x00" + HEADER + ROW, "row 1"),
        ("csv", b"video_url,\x00audio_url\n" + ROW, "row 1"),
        ("csv", HEADER + ROW + b"https://x.example.com/\x00,y\n", "row 3"),
        ("csv", HEADER + ROW + b'"half\x00\ncell",y\n' + ROW, "row 3"),
        ("csv", HEADER + ROW + ROW + b"\x00", "row 4"),
        (
            "csv",
            codecs.BOM_UTF16_LE + (HEADER + b"\x00" + ROW).decode().encode("utf-16-le"),
            "row 2",
        ),
        ("csv", codecs.BOM_UTF8 + HEADER + b"\n" * 1000 + b"\x00\n", "row 1002"),
        ("jsonl", GOOD_LINE + b"\x00\n" + GOOD_LINE, "line 2"),
        ("jsonl", GOOD_LINE.replace(b"clip.mp4", b"cl\x00ip.mp4"), "line 1"),
        ("jsonl", b"\n\n" + GOOD_LINE + b"   \x00", "line 4"),
    ],
)
def test_a_nul_byte_anywhere_refuses_the_file_naming_where(kind: Kind, data: bytes, where: str):
    outcome = read(data, kind)
    assert isinstance(outcome, FileRejected)
    assert f"binary data (NUL bytes) in {where}," in outcome.message


# --- line breaks --------------------------------------------------------------------------
NOTE_CELLS = st.text(
    alphabet=st.sampled_from(list("ab ,;\t\"'\r\n\u2028\u0085é")), min_size=0, max_size=12
)
BREAKS = st.sampled_from(["\n", "\r\n", "\r"])


@settings(max_examples=150, deadline=None)
@given(
    notes=st.lists(NOTE_CELLS, min_size=1, max_size=15),
    breaks=st.lists(BREAKS, min_size=16, max_size=16),
    last_break=st.booleans(),
)
def test_mixed_line_breaks_and_quoted_breaks_keep_rows_and_cells(
    notes: list[str], breaks: list[str], last_break: bool
) -> None:
    """CR, LF and CRLF, mixed from one record to the next and inside quoted cells: one row per
    record, numbered as a spreadsheet shows, each cell back as written (trimmed)."""
    lines = ["video_url,audio_url,note" + breaks[0]]
    for index, note in enumerate(notes, start=1):
        cell = '"' + note.replace('"', '""') + '"'
        lines.append(f"{VIDEO},{AUDIO},{cell}{breaks[index]}")
    text = "".join(lines)
    if not last_break:
        text = text.rstrip("\r\n")
    outcome = read(text.encode(), "csv")
    assert not isinstance(outcome, FileRejected), outcome.message
    assert_all_sound(outcome)
    assert [row.row_number for row in outcome] == list(range(2, len(notes) + 2))
    assert [row.columns["note"] for row in outcome] == [note.strip() for note in notes]
    assert all(isinstance(row, AcceptedRow) for row in outcome)


# --- JSONL: numbers and escapes Sync could not take -------------------------------------
def with_payload_field(value: str) -> str:
    return jsonl_line()[:-2] + f', "extra": {value}}}}}'


@pytest.mark.parametrize(
    "line",
    [
        jsonl_line()[:-1] + ', "note": 1e999}',
        jsonl_line()[:-1] + ', "note": -1e400}',
        jsonl_line()[:-1] + ', "note": 1' + "0" * 400 + ".5}",
        with_payload_field("1e999"),
        jsonl_line().replace('"lipsync-2"', "1e999"),
        jsonl_line().replace('"clip-1"', "1e999"),
        jsonl_line().replace(f'"{AUDIO}"', "-1E+999"),
    ],
    ids=["top-level", "negative", "long-decimal", "payload", "model", "request-id", "url"],
)
def test_a_number_beyond_a_float_rejects_its_line_and_the_rest_still_reads(line: str) -> None:
    outcome = read(line.encode() + b"\n" + GOOD_LINE, "jsonl")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    rejected, accepted = outcome
    assert isinstance(rejected, RowRejection)
    assert "out of range" in rejected.reason
    assert isinstance(accepted, AcceptedRow)
    assert accepted.request_id == "good"


@pytest.mark.parametrize(
    "line",
    [
        jsonl_line(request_id="\ud800"),
        jsonl_line(note="tail \udfff"),
        jsonl_line().replace(VIDEO, VIDEO + "\\ud83d"),
        with_payload_field('"\\udc00"'),
        jsonl_line(
            payload={
                "input": [
                    {"type": "video", "url": VIDEO},
                    {
                        "type": "text",
                        "provider": {"name": "elevenlabs", "voiceId": "v", "script": "hi \ud83d"},
                    },
                ]
            }
        ),
        json.dumps("\ud800"),
    ],
    ids=["request-id", "top-level", "url", "payload", "script", "bare-string"],
)
def test_an_escaped_lone_surrogate_rejects_its_line_in_words_that_can_be_written(
    line: str,
) -> None:
    assert line.isascii()  # json.dumps escapes the surrogate: the file itself is clean text
    outcome = read(line.encode() + b"\n" + GOOD_LINE, "jsonl")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    rejected, accepted = outcome
    assert isinstance(rejected, RowRejection)
    assert "lone surrogate" in rejected.reason
    assert isinstance(accepted, AcceptedRow)


def test_an_escaped_surrogate_pair_is_one_real_character_and_is_kept() -> None:
    sound = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v", "script": "hi 😀"}}
    line = jsonl_line(payload={"input": [{"type": "video", "url": VIDEO}, sound]})
    assert "\\ud83d\\ude00" in line  # json.dumps writes the emoji as two escapes
    outcome = read(line.encode() + b"\n", "jsonl")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    (row,) = outcome
    assert isinstance(row, AcceptedRow)
    assert row.columns["tts_script"] == "hi 😀"
    assert "😀".encode() in row.line


@pytest.mark.parametrize(
    "line",
    [
        jsonl_line()[:-1] + ', "deep": ' + "[" * 100_000 + "]" * 100_000 + "}",
        jsonl_line()[:-1] + ', "deep": ' + '{"a":' * 50_000 + "1" + "}" * 50_000 + "}",
        "[" * 200_000 + "]" * 200_000,
    ],
    ids=["lists", "objects", "bare"],
)
def test_deeply_nested_json_rejects_its_line(line: str) -> None:
    outcome = read(line.encode() + b"\n" + GOOD_LINE, "jsonl")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    rejected, accepted = outcome
    assert isinstance(rejected, RowRejection)
    assert isinstance(accepted, AcceptedRow)


def test_a_4301_digit_integer_rejects_its_line_and_4000_digits_go_through() -> None:
    too_long = jsonl_line()[:-1] + ', "note": ' + "7" * 4301 + "}"
    long = with_payload_field("7" * 4000).replace('"clip-1"', '"clip-2"')
    outcome = read(f"{too_long}\n{long}\n".encode(), "jsonl")
    assert not isinstance(outcome, FileRejected)
    assert_all_sound(outcome)
    rejected, accepted = outcome
    assert isinstance(rejected, RowRejection)
    assert isinstance(accepted, AcceptedRow)
    assert json.loads(accepted.line)["payload"]["extra"] == int("7" * 4000)


@pytest.mark.parametrize(
    ("bad", "line"),
    [
        (b"\xff", 2),
        (b"\xc3(", 2),
        (b"\xed\xa0\x80", 2),  # a UTF-8-encoded surrogate
        (b"\xe2\x82", 2),  # a character cut short
    ],
)
def test_invalid_utf8_in_one_jsonl_line_refuses_the_file_naming_that_line(
    bad: bytes, line: int
) -> None:
    broken = jsonl_line(request_id="b").encode().replace(b"clip.mp4", b"clip" + bad + b".mp4")
    outcome = read(GOOD_LINE + broken + b"\n" + GOOD_LINE, "jsonl")
    assert isinstance(outcome, FileRejected)
    assert f"line {line} has characters saved in another encoding" in outcome.message
    assert utf8_safe(outcome.message)


def test_invalid_utf8_cut_at_the_very_end_of_a_jsonl_file_is_refused() -> None:
    outcome = read(GOOD_LINE + b'{"request_id": "\xe2\x82', "jsonl")
    assert isinstance(outcome, FileRejected)
    assert "line 2" in outcome.message
