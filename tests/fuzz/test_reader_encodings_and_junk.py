"""UploadReader on hostile bytes: any encoding, spliced junk, quote soup, hostile JSON values."""

from __future__ import annotations

import codecs
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncdrop.intake import FileRejected
from tests.fuzz.uploads import (
    AUDIO,
    VIDEO,
    Kind,
    as_utf8,
    assert_all_sound,
    documented_text,
    read,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COLUMNS = [
    "video_url",
    "audio_url",
    "tts_voice_id",
    "tts_script",
    "request_id",
    "model",
    "temperature",
    "name",
    "名前",
    "",
]
CELLS = [
    VIDEO,
    AUDIO,
    "s3://media-bucket/clips/a b.mp4",
    "http://plain.example.com/v.mp4",
    "https://",
    "clip-1",
    "clip-1",
    "react-1",
    "LIPSYNC-2",
    "0,5",
    "",
    " ",
    "こんにちは、世界",
    "Grüße ½ €",
    "😀 emoji",
    "\ufeff",
    'say "hi"',
    "a,b;c\td",
    "line\nbreak",
    "cr\ronly",
    "crlf\r\nbreak",
]
NEWLINES = ["\n", "\r\n", "\r"]
# (codec, BOM) pairs an upload may arrive in; only UTF-8 and UTF-16 with a BOM are documented.
ENCODINGS = [
    ("utf-8", b""),
    ("utf-8", codecs.BOM_UTF8),
    ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE),
    ("utf-16-le", b""),
    ("utf-16-be", b""),
    ("utf-32-le", codecs.BOM_UTF32_LE),
    ("utf-32-be", codecs.BOM_UTF32_BE),
    ("utf-32-le", b""),
    ("latin-1", b""),
    ("cp1252", b""),
    ("shift_jis", b""),
    ("gb18030", b""),
]
JUNK = [b"\x00", b"\xff", b"\xfe\xff", b"\x80", b"\xed\xa0\x80", b"\xc3", b"\r", b'"', b"\x1a"]


def quoted(cell: str, delimiter: str) -> str:
    if any(ch in cell for ch in f'"\r\n{delimiter}'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """A spreadsheet export as text: a header of known and odd columns, rows of odd cells,
    each record ending in its own kind of line break."""
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=6))
    if draw(st.booleans()):
        header = ["video_url", "audio_url", *header]
    cell = st.sampled_from(CELLS) | st.text(max_size=8)
    records = draw(st.lists(st.lists(cell, max_size=len(header) + 2), max_size=12))
    lines = [header, *records]
    breaks = draw(st.lists(st.sampled_from(NEWLINES), min_size=len(lines), max_size=len(lines)))
    text = "".join(
        delimiter.join(quoted(c, delimiter) for c in line) + end
        for line, end in zip(lines, breaks, strict=True)
    )
    if draw(st.booleans()):
        text = text.rstrip("\r\n")  # no line break after the last record
    return text


# Fragments of JSON that are legal text but hostile values: out-of-range and over-long
# numbers, escaped lone surrogates, escaped NUL, deep nesting, wrong types.
JSON_FRAGMENTS = [
    "1e999",
    "-1e999",
    "1" + "0" * 400 + ".0",
    "9" * 4301,
    "-0.0",
    "1e-999",
    '"\\ud800"',
    '"\\udc00tail"',
    '"a\\ud83d"',
    '"\\ud83d\\ude00"',
    '"\\u0000"',
    '"\\u202e"',
    '"https://cdn.example.com/v\\u0000.mp4"',
    '"https://cdn.example.com/\\ud800.mp4"',
    "[" * 3000 + "]" * 3000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    "null",
    "true",
    "[]",
    "{}",
    '""',
    '"' + "x" * 300 + '"',
]
JSON_SLOTS = [
    '{{"request_id":{v},"endpoint":"/v2/generate","payload":{{"model":"lipsync-2","input":'
    '[{{"type":"video","url":"{video}"}},{{"type":"audio","url":"{audio}"}}]}}}}',
    '{{"request_id":"r","endpoint":"/v2/generate","payload":{{"model":{v},"input":'
    '[{{"type":"video","url":"{video}"}},{{"type":"audio","url":"{audio}"}}]}}}}',
    '{{"request_id":"r","payload":{{"model":"lipsync-2","input":'
    '[{{"type":"video","url":{v}}},{{"type":"audio","url":"{audio}"}}]}}}}',
    '{{"request_id":"r","payload":{{"input":'
    '[{{"type":"video","url":"{video}"}},{{"type":{v},"url":"{audio}"}}]}}}}',
    '{{"request_id":"r","payload":{{"input":'
    '[{{"type":"video","url":"{video}"}},{{"type":"text","provider":{{"name":"elevenlabs",'
    '"voiceId":"v","script":{v}}}}}]}}}}',
    '{{"request_id":"r","payload":{{"input":[{{"type":"video","url":"{video}"}},'
    '{{"type":"audio","url":"{audio}"}}],"options":{{"temperature":{v}}}}}}}',
    '{{"request_id":"r","payload":{{"input":[{{"type":"video","url":"{video}"}},'
    '{{"type":"audio","url":"{audio}"}}],"extra":{v}}},"note":{v}}}',
    '{{"endpoint":{v},"payload":{{"input":[{{"type":"video","url":"{video}"}},'
    '{{"type":"audio","url":"{audio}"}}]}}}}',
    "{v}",
]


@st.composite
def jsonl_texts(draw: st.DrawFn) -> str:
    """Lines in Sync's batch format, each with one hostile value in one place, among blank,
    truncated and plain-text lines, with mixed line breaks."""
    value = st.sampled_from(JSON_FRAGMENTS) | st.integers().map(str) | st.text(max_size=6)
    slot_line = st.builds(
        lambda slot, v: slot.format(v=v, video=VIDEO, audio=AUDIO),
        st.sampled_from(JSON_SLOTS),
        value,
    )
    line = slot_line | st.sampled_from(["", "   ", "{", '{"a":1', "[1,2]", "NaN"]) | st.text()
    lines = draw(st.lists(line, min_size=1, max_size=8))
    breaks = draw(st.lists(st.sampled_from(NEWLINES), min_size=len(lines), max_size=len(lines)))
    return "".join(text + end for text, end in zip(lines, breaks, strict=True))


def encode(text: str, encoding: str, bom: bytes) -> bytes:
    return bom + text.encode(encoding, errors="replace")


def assert_read_like_its_text(data: bytes, kind: Kind) -> None:
    """The oracle: bytes that are not documented text are refused as a whole; documented text
    reads exactly like the same text in UTF-8; and whatever comes out is sound."""
    outcome = read(data, kind)
    if not isinstance(outcome, FileRejected):
        assert_all_sound(outcome)
    text = documented_text(data)
    if text is None:
        assert isinstance(outcome, FileRejected), "bytes that are not text were read as rows"
        return
    reference = read(as_utf8(text), kind)
    if isinstance(reference, FileRejected):
        assert isinstance(outcome, FileRejected)
    else:
        assert outcome == reference


@FUZZ
@given(text=csv_texts(), encoding=st.sampled_from(ENCODINGS))
def test_a_csv_in_any_encoding_is_read_as_its_text_or_refused(
    text: str, encoding: tuple[str, bytes]
) -> None:
    assert_read_like_its_text(encode(text, *encoding), "csv")


@FUZZ
@given(text=jsonl_texts(), encoding=st.sampled_from(ENCODINGS))
def test_a_jsonl_in_any_encoding_is_read_as_its_text_or_refused(
    text: str, encoding: tuple[str, bytes]
) -> None:
    assert_read_like_its_text(encode(text, *encoding), "jsonl")


@FUZZ
@given(
    text=csv_texts(),
    pieces=st.lists(st.sampled_from(ENCODINGS), min_size=2, max_size=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_file_whose_lines_use_different_encodings_is_never_misread(
    text: str, pieces: list[tuple[str, bytes]], seed: int
) -> None:
    lines = text.splitlines(keepends=True) or [text]
    chooser = random.Random(seed)
    data = b"".join(encode(line, *chooser.choice(pieces)) for line in lines)
    assert_read_like_its_text(data, "csv")


@FUZZ
@given(
    text=csv_texts() | jsonl_texts(),
    encoding=st.sampled_from(ENCODINGS[:4]),
    splices=st.lists(
        st.tuples(
            st.integers(0, 10_000), st.sampled_from(JUNK) | st.binary(min_size=1, max_size=4)
        ),
        min_size=1,
        max_size=4,
    ),
    kind=st.sampled_from(["csv", "jsonl"]),
)
def test_junk_bytes_spliced_anywhere_into_a_good_file_never_escape(
    text: str, encoding: tuple[str, bytes], splices: list[tuple[int, bytes]], kind: Kind
) -> None:
    data = encode(text, *encoding)
    for position, junk in splices:
        at = position % (len(data) + 1)
        data = data[:at] + junk + data[at:]
    assert_read_like_its_text(data, kind)


@FUZZ
@given(
    prefix=st.sampled_from(
        [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"PK\x03\x04", b"sep=;\n"]
    ),
    data=st.binary(max_size=2000),
    kind=st.sampled_from(["csv", "jsonl"]),
)
def test_random_bytes_are_refused_unless_they_are_text(
    prefix: bytes, data: bytes, kind: Kind
) -> None:
    assert_read_like_its_text(prefix + data, kind)


@FUZZ
@given(
    soup=st.text(alphabet=st.sampled_from(list('"""",,;\t\r\n a\\')), max_size=400),
    header=st.sampled_from(["video_url,audio_url\n", '"video_url","audio_url"\r\n']),
)
def test_quote_soup_after_a_header_is_rows_or_a_refusal(soup: str, header: str) -> None:
    outcome = read((header + soup).encode(), "csv")
    if isinstance(outcome, FileRejected):
        assert outcome.message.strip()
    else:
        assert_all_sound(outcome)
        assert all(row.row_number >= 2 for row in outcome)


def test_a_quote_opened_and_never_closed_is_named_by_its_row() -> None:
    rows = "".join(f"{VIDEO},{AUDIO}\n" for _ in range(3))
    data = f'video_url,audio_url\n{rows}"{VIDEO},{AUDIO}\n' + f"{VIDEO},{AUDIO}\n" * 20_000
    outcome = read(data.encode(), "csv")
    assert isinstance(outcome, FileRejected)
    assert "Row 5 " in outcome.message


def test_deeply_nested_quotes_in_one_cell_stay_one_cell() -> None:
    cell = '"' * 5001 + "x" + '"' * 5001  # quotes inside quotes, doubled
    data = f"video_url,audio_url,note\n{VIDEO},{AUDIO},{cell}\n"
    outcome = read(data.encode(), "csv")
    assert not isinstance(outcome, FileRejected)
    (row,) = outcome
    assert_all_sound(outcome)
    assert row.columns["note"].count('"') == 5000
