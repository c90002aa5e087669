"""JSONL uploads: lines already in Sync's batch format, checked with the same rules as CSV rows."""

from __future__ import annotations

import json

import pytest

from syncdrop.intake import JSONL_COLUMNS, AcceptedRow, FileRejected, IntakeRules, RowRejection
from tests.unit.intake.uploads import AUDIO, VIDEO, read


def line(**overrides: object) -> str:
    body: dict[str, object] = {
        "request_id": "clip-1",
        "endpoint": "/v2/generate",
        "payload": {
            "model": "lipsync-2",
            "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
        },
    }
    body.update(overrides)
    return json.dumps(body, indent=None)


def jsonl(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def only(text: str, rules: IntakeRules | None = None) -> AcceptedRow | RowRejection:
    outcomes = read(text, kind="jsonl") if rules is None else read(text, kind="jsonl", rules=rules)
    assert len(outcomes) == 1
    return outcomes[0]


def test_a_sync_batch_line_is_accepted_as_is_in_compact_form() -> None:
    written = line(
        payload={
            "model": "lipsync-2",
            "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
            "options": {"sync_mode": "loop", "anything": [1, 2]},
            "outputFileName": "out_1",
        }
    )

    row = only(jsonl(written))

    assert isinstance(row, AcceptedRow)
    assert row.row_number == 1
    assert row.request_id == "clip-1"
    assert json.loads(row.line) == json.loads(written)
    assert row.line == json.dumps(json.loads(written), separators=(",", ":")).encode()
    assert row.columns == {
        "request_id": "clip-1",
        "video_url": VIDEO,
        "audio_url": AUDIO,
        "tts_voice_id": "",
        "tts_script": "",
        "model": "lipsync-2",
    }


def test_only_request_id_endpoint_and_payload_are_sent() -> None:
    row = only(jsonl(line(metadata={"owner": "ann"}, status="new")))

    assert isinstance(row, AcceptedRow)
    assert list(json.loads(row.line)) == ["request_id", "endpoint", "payload"]


def test_text_to_speech_lines_fill_the_tts_columns() -> None:
    tts = {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1", "script": "Hi"}}
    row = only(
        jsonl(line(payload={"model": "sync-3", "input": [{"type": "video", "url": VIDEO}, tts]}))
    )

    assert isinstance(row, AcceptedRow)
    assert row.columns["tts_voice_id"] == "v1"
    assert row.columns["tts_script"] == "Hi"


def test_line_numbers_count_blank_lines_and_blank_lines_are_not_rows() -> None:
    text = "\n" + line(request_id="a") + "\n   \n\r\n" + line(request_id="b") + "\n\n"

    rows = read(text, kind="jsonl")

    assert [(row.row_number, row.request_id) for row in rows] == [(2, "a"), (5, "b")]


def test_invalid_json_rejects_that_line_only() -> None:
    text = jsonl(line(request_id="a"), '{"request_id": "b", "payload": ', line(request_id="c"))

    rows = read(text, kind="jsonl")

    assert [type(row) for row in rows] == [AcceptedRow, RowRejection, AcceptedRow]
    assert rows[1].row_number == 2
    assert "not valid JSON" in rows[1].reason  # type: ignore[union-attr]
    assert rows[1].request_id is None


@pytest.mark.parametrize("text", ["[1, 2]", '"just a string"', "NaN", '{"a": Infinity}'])
def test_lines_that_are_not_json_objects_are_rejected(text: str) -> None:
    row = only(jsonl(text))

    assert isinstance(row, RowRejection)
    assert "JSON" in row.reason


def test_deeply_nested_json_rejects_that_line_only() -> None:
    rows = read(jsonl("[" * 100_000, line(request_id="after")), kind="jsonl")

    assert isinstance(rows[0], RowRejection)
    assert "too deeply" in rows[0].reason
    assert isinstance(rows[1], AcceptedRow)


def test_s3_urls_are_presigned_and_the_written_url_kept_in_columns() -> None:
    written = line(
        payload={
            "model": "lipsync-2",
            "input": [
                {"type": "video", "url": "s3://bucket-1/v.mp4"},
                {"type": "audio", "url": AUDIO},
            ],
        }
    )

    row = only(jsonl(written))

    assert isinstance(row, AcceptedRow)
    assert json.loads(row.line)["payload"]["input"][0]["url"] == (
        "https://bucket-1.s3.example.com/v.mp4?signed=1"
    )
    assert row.columns["video_url"] == "s3://bucket-1/v.mp4"


def test_missing_request_id_model_and_endpoint_get_the_same_defaults_as_csv() -> None:
    body = {
        "payload": {"input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}]}
    }

    row = only(jsonl(json.dumps(body)), IntakeRules(default_model="sync-3"))

    assert isinstance(row, AcceptedRow)
    assert json.loads(row.line) == {
        "request_id": "row-1",
        "endpoint": "/v2/generate",
        "payload": {"input": body["payload"]["input"], "model": "sync-3"},
    }
    assert row.columns["model"] == ""


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"endpoint": "/v2/lipsync"}, ["endpoint", '"/v2/generate"']),
        ({"request_id": "has space"}, ["request_id 'has space'"]),
        ({"request_id": 7}, ["request_id '7' must be a JSON string"]),
        ({"payload": "x"}, ["payload is missing or not a JSON object"]),
        (
            {
                "payload": {
                    "model": "gpt-4",
                    "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
                }
            },
            ["model 'gpt-4' is not available"],
        ),
        (
            {
                "payload": {
                    "model": "lipsync-2",
                    "input": [
                        {"type": "video", "url": "http://x.example.com/v"},
                        {"type": "audio", "url": AUDIO},
                    ],
                }
            },
            ["The video url", "http://"],
        ),
        (
            {"payload": {"model": "lipsync-2", "input": [{"type": "video", "url": VIDEO}]}},
            ["0 audio or text items"],
        ),
        (
            {"payload": {"model": "lipsync-2", "input": [{"type": "audio", "url": AUDIO}]}},
            ["0 video items"],
        ),
        (
            {
                "payload": {
                    "model": "lipsync-2",
                    "input": [{"type": "video", "assetId": "a1"}, {"type": "audio", "url": AUDIO}],
                }
            },
            ["needs a url", "assetId"],
        ),
        (
            {
                "payload": {
                    "model": "lipsync-2",
                    "input": [
                        {"type": "video", "url": VIDEO},
                        {
                            "type": "text",
                            "provider": {"name": "polly", "voiceId": "v", "script": ""},
                        },
                    ],
                }
            },
            ['"elevenlabs"', "provider.script must be a non-empty string"],
        ),
        (
            {"payload": {"model": "lipsync-2", "input": "video"}},
            ["payload.input must be a list"],
        ),
    ],
)
def test_line_rules_are_the_row_rules(overrides: dict[str, object], words: list[str]) -> None:
    row = only(jsonl(line(**overrides)))

    assert isinstance(row, RowRejection)
    for word in words:
        assert word in row.reason


def test_duplicate_request_ids_name_the_first_line() -> None:
    rows = read(jsonl(line(request_id="a"), line(request_id="a")), kind="jsonl")

    assert isinstance(rows[1], RowRejection)
    assert "already used by line 1" in rows[1].reason
    assert rows[1].request_id is None


def test_a_line_too_long_for_any_batch_is_rejected_and_reading_goes_on() -> None:
    huge = line(request_id="big", padding="x" * (2 << 20))

    rows = read(jsonl(huge, line(request_id="after")), kind="jsonl")

    assert isinstance(rows[0], RowRejection)
    assert "longer than" in rows[0].reason
    assert isinstance(rows[1], AcceptedRow)
    assert rows[1].row_number == 2


def test_a_line_over_the_line_byte_limit_is_rejected() -> None:
    tts = {
        "type": "text",
        "provider": {"name": "elevenlabs", "voiceId": "v", "script": "x" * 300_000},
    }
    row = only(
        jsonl(line(payload={"model": "sync-3", "input": [{"type": "video", "url": VIDEO}, tts]}))
    )

    assert isinstance(row, RowRejection)
    assert "one line can be at most 262,143 bytes" in row.reason


def test_an_empty_jsonl_file_is_refused() -> None:
    with pytest.raises(FileRejected, match="empty"):
        read("\n \n", kind="jsonl")


def test_invalid_utf8_refuses_the_jsonl_file_naming_the_line() -> None:
    data = (jsonl(line(), line(request_id="b")).replace("clip-1", "caf\xe9")).encode("latin-1")

    with pytest.raises(FileRejected, match="line 1"):
        read(data, kind="jsonl")


def test_more_lines_than_allowed_refuse_the_file() -> None:
    text = jsonl(*(line(request_id=f"r{i}") for i in range(4)))

    with pytest.raises(FileRejected, match="more than 3 lines"):
        read(text, kind="jsonl", rules=IntakeRules(max_rows=3))


def test_jsonl_columns_are_fixed() -> None:
    import io

    from syncdrop.intake import UploadReader

    reader = UploadReader(io.BytesIO(b""), kind="jsonl", rules=IntakeRules())

    assert (
        reader.columns
        == list(JSONL_COLUMNS)
        == [
            "request_id",
            "video_url",
            "audio_url",
            "tts_voice_id",
            "tts_script",
            "model",
        ]
    )
