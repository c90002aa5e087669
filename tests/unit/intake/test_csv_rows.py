"""Row rules of the CSV upload: what becomes a Sync line, and what a person is told otherwise."""

from __future__ import annotations

import json

import pytest

from syncdrop.intake import AcceptedRow, IntakeRules, RowRejection
from tests.unit.intake.uploads import (
    AUDIO,
    VIDEO,
    accepted,
    csv_text,
    payload,
    read,
    rejected,
)

HEADER = "video_url,audio_url"


def test_a_minimal_row_becomes_syncs_wire_format() -> None:
    row = accepted(csv_text(HEADER, f"{VIDEO},{AUDIO}"))

    assert row.row_number == 2
    assert row.request_id == "row-2"
    assert json.loads(row.line) == {
        "request_id": "row-2",
        "endpoint": "/v2/generate",
        "payload": {
            "model": "lipsync-2",
            "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
        },
    }
    assert b"\n" not in row.line
    assert row.line == json.dumps(json.loads(row.line), separators=(",", ":")).encode()
    assert row.columns == {"video_url": VIDEO, "audio_url": AUDIO}


def test_text_to_speech_row_uses_the_elevenlabs_provider() -> None:
    text = csv_text("video_url,tts_voice_id,tts_script", f'{VIDEO},voice-1,"Hello, world"')

    assert payload(accepted(text))["input"] == [
        {"type": "video", "url": VIDEO},
        {
            "type": "text",
            "provider": {"name": "elevenlabs", "voiceId": "voice-1", "script": "Hello, world"},
        },
    ]


def test_cells_are_stripped_and_every_column_is_kept_as_written() -> None:
    text = csv_text(
        " Video_URL , AUDIO_url ,Campaign,Email",
        f"  {VIDEO}  ,\t{AUDIO} , spring , ann@example.com",
    )

    row = accepted(text)

    assert payload(row)["input"] == [
        {"type": "video", "url": VIDEO},
        {"type": "audio", "url": AUDIO},
    ]
    assert row.columns == {
        "Video_URL": VIDEO,
        "AUDIO_url": AUDIO,
        "Campaign": "spring",
        "Email": "ann@example.com",
    }
    assert set(payload(row)) == {"model", "input"}  # other columns are not sent


@pytest.mark.parametrize(
    ("video", "words"),
    [
        ("", ["video_url is empty"]),
        ("http://cdn.example.com/v.mp4", ["video_url", "http://", "https"]),
        ("ftp://cdn.example.com/v.mp4", ["video_url", "'ftp'", "https://"]),
        ("videos/clip.mp4", ["video_url", "not a link"]),
        ("https://cdn.example.com/my clip.mp4", ["video_url", "space"]),
        ("https:///clip.mp4", ["video_url", "host"]),
        ("s3://Bad_Bucket/clip.mp4", ["video_url", "s3://bucket/key"]),
    ],
)
def test_unusable_video_urls_are_rejected_naming_column_and_value(
    video: str, words: list[str]
) -> None:
    rejection = rejected(csv_text(HEADER, f'"{video}",{AUDIO}'))

    for word in words:
        assert word in rejection.reason
    if video:
        assert f"'{video}'" in rejection.reason
    assert rejection.request_id == "row-2"
    assert rejection.columns["video_url"] == video


def test_a_long_value_is_cut_short_in_the_reason() -> None:
    video = "http://cdn.example.com/" + "x" * 500

    rejection = rejected(csv_text(HEADER, f"{video},{AUDIO}"))

    assert "…" in rejection.reason
    assert len(rejection.reason) < 400
    assert rejection.columns["video_url"] == video


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/v.mp4",
        "HTTPS://CDN.EXAMPLE.COM/v.mp4",
        "https://example.com",
        "https://cdn.example.com:8443/a/b.mp4?X-Amz-Signature=abc&x=1#t",
        "https://[2001:db8::1]/v.mp4",
        "https://cdn.example.com/vidéo.mp4",
    ],
)
def test_https_urls_with_a_host_are_sent_unchanged(url: str) -> None:
    row = accepted(csv_text(HEADER, f"{url},{AUDIO}"))

    assert payload(row)["input"] == [
        {"type": "video", "url": url},
        {"type": "audio", "url": AUDIO},
    ]


def test_s3_urls_are_presigned_for_video_and_audio() -> None:
    text = csv_text(HEADER, "s3://my-bucket/in/clip 1.mp4,s3://my-bucket/in/voice.wav")

    row = accepted(text)

    assert payload(row)["input"] == [
        {"type": "video", "url": "https://my-bucket.s3.example.com/in/clip 1.mp4?signed=1"},
        {"type": "audio", "url": "https://my-bucket.s3.example.com/in/voice.wav?signed=1"},
    ]
    assert row.columns["video_url"] == "s3://my-bucket/in/clip 1.mp4"


def test_s3_urls_are_rejected_when_no_presigner_is_configured() -> None:
    rejection = rejected(csv_text(HEADER, f"s3://my-bucket/clip.mp4,{AUDIO}"), rules=IntakeRules())

    assert "video_url 's3://my-bucket/clip.mp4'" in rejection.reason
    assert "S3 links are not enabled" in rejection.reason


@pytest.mark.parametrize(
    ("audio", "voice", "script", "words"),
    [
        (AUDIO, "voice-1", "", ["either audio_url or tts_voice_id + tts_script", "tts_voice_id"]),
        (AUDIO, "voice-1", "Hi", ["not both", "tts_voice_id and tts_script"]),
        ("", "", "", ["no audio", "audio_url", "tts_voice_id and tts_script"]),
        ("", "voice-1", "", ["tts_script is empty", "both"]),
        ("", "", "Hi there", ["tts_voice_id is empty", "both"]),
        ("http://cdn.example.com/a.wav", "", "", ["audio_url", "http://"]),
    ],
)
def test_exactly_one_audio_source_is_required(
    audio: str, voice: str, script: str, words: list[str]
) -> None:
    text = csv_text(
        "video_url,audio_url,tts_voice_id,tts_script", f"{VIDEO},{audio},{voice},{script}"
    )

    reason = rejected(text).reason

    for word in words:
        assert word in reason


def test_missing_audio_is_named_after_the_columns_the_file_has() -> None:
    assert "audio_url is empty" in rejected(csv_text(HEADER, f"{VIDEO},")).reason
    tts_only = csv_text("video_url,tts_voice_id,tts_script", f"{VIDEO},,")
    assert "tts_voice_id and tts_script are empty" in rejected(tts_only).reason


def test_request_ids_default_to_the_row_number_and_explicit_ones_are_kept() -> None:
    text = csv_text(
        "request_id,video_url,audio_url",
        f"intro.v2_A-1,{VIDEO},{AUDIO}",
        f",{VIDEO},{AUDIO}",
    )

    rows = read(text)

    assert [row.request_id for row in rows] == ["intro.v2_A-1", "row-3"]
    assert all(isinstance(row, AcceptedRow) for row in rows)


@pytest.mark.parametrize("request_id", ["has space", "semi;colon", "é", "x" * 129, "a/b"])
def test_malformed_request_ids_are_rejected(request_id: str) -> None:
    rejection = rejected(
        csv_text("request_id,video_url,audio_url", f'"{request_id}",{VIDEO},{AUDIO}')
    )

    assert rejection.reason.startswith("request_id '")
    assert "letters, digits" in rejection.reason
    assert rejection.request_id is None


def test_a_128_character_request_id_is_fine() -> None:
    row = accepted(csv_text("request_id,video_url,audio_url", f"{'x' * 128},{VIDEO},{AUDIO}"))

    assert row.request_id == "x" * 128


def test_the_later_duplicate_is_rejected_naming_the_first_row() -> None:
    text = csv_text(
        "request_id,video_url,audio_url",
        f"clip,{VIDEO},{AUDIO}",
        f"other,{VIDEO},{AUDIO}",
        f"clip,{VIDEO},{AUDIO}",
    )

    first, _, duplicate = read(text)

    assert isinstance(first, AcceptedRow)
    assert isinstance(duplicate, RowRejection)
    assert duplicate.row_number == 4
    assert "request_id 'clip' is already used by row 2" in duplicate.reason
    assert duplicate.request_id is None


def test_a_default_id_that_collides_with_an_explicit_one_is_a_duplicate() -> None:
    text = csv_text(
        "request_id,video_url,audio_url",
        f"row-3,{VIDEO},{AUDIO}",
        f",{VIDEO},{AUDIO}",
    )

    first, second = read(text)

    assert isinstance(first, AcceptedRow)
    assert isinstance(second, RowRejection)
    assert "default request_id 'row-3' is already used by row 2" in second.reason


def test_a_rejected_rows_id_still_counts_as_used() -> None:
    text = csv_text(
        "request_id,video_url,audio_url",
        f"clip,http://old.example.com/v.mp4,{AUDIO}",
        f"clip,{VIDEO},{AUDIO}",
    )

    first, second = read(text)

    assert isinstance(first, RowRejection)
    assert first.request_id == "clip"
    assert isinstance(second, RowRejection)
    assert "already used by row 2" in second.reason


def test_model_defaults_to_the_rules_and_is_matched_ignoring_case() -> None:
    text = csv_text(
        "video_url,audio_url,model",
        f"{VIDEO},{AUDIO},",
        f"{VIDEO},{AUDIO},Lipsync-2-PRO",
    )
    rules = IntakeRules(default_model="sync-3", presign_s3=None)

    models = [payload(row)["model"] for row in read(text, rules=rules)]  # type: ignore[arg-type]

    assert models == ["sync-3", "lipsync-2-pro"]


def test_an_unknown_or_disallowed_model_is_rejected_listing_the_allowed_ones() -> None:
    rules = IntakeRules(allowed_models=frozenset({"lipsync-2", "sync-3"}))
    text = csv_text("video_url,audio_url,model", f"{VIDEO},{AUDIO},react-1")

    reason = rejected(text, rules=rules).reason

    assert "model 'react-1' is not available" in reason
    assert "lipsync-2, sync-3" in reason


@pytest.mark.parametrize(
    ("column", "cell", "expected"),
    [
        ("sync_mode", "Loop", {"sync_mode": "loop"}),
        ("sync_mode", "cut_off", {"sync_mode": "cut_off"}),
        ("temperature", "0.7", {"temperature": 0.7}),
        ("temperature", "0,25", {"temperature": 0.25}),
        ("temperature", "1", {"temperature": 1.0}),
        ("active_speaker_detection", "TRUE", {"active_speaker_detection": {"auto_detect": True}}),
        ("active_speaker_detection", "no", {"active_speaker_detection": {"auto_detect": False}}),
        ("occlusion_detection_enabled", "Yes", {"occlusion_detection_enabled": True}),
        ("occlusion_detection_enabled", "0", {"occlusion_detection_enabled": False}),
    ],
)
def test_options_are_sent_in_syncs_shape(
    column: str, cell: str, expected: dict[str, object]
) -> None:
    row = accepted(csv_text(f"video_url,audio_url,{column}", f'{VIDEO},{AUDIO},"{cell}"'))

    assert payload(row)["options"] == expected


def test_react_options_are_sent_with_react_1() -> None:
    text = csv_text(
        "video_url,audio_url,model,model_mode,prompt,sync_mode",
        f"{VIDEO},{AUDIO},react-1,Head,happy,bounce",
    )

    assert payload(accepted(text))["options"] == {
        "sync_mode": "bounce",
        "model_mode": "head",
        "prompt": "happy",
    }


@pytest.mark.parametrize(
    ("column", "cell", "words"),
    [
        (
            "sync_mode",
            "pingpong",
            ["sync_mode 'pingpong'", "bounce, loop, cut_off, silence, remap"],
        ),
        ("temperature", "1.5", ["temperature '1.5'", "from 0 to 1"]),
        ("temperature", "-0.1", ["temperature '-0.1'"]),
        ("temperature", "warm", ["temperature 'warm'"]),
        ("temperature", "nan", ["temperature 'nan'"]),
        (
            "active_speaker_detection",
            "maybe",
            ["active_speaker_detection 'maybe'", "true or false"],
        ),
        ("occlusion_detection_enabled", "2", ["occlusion_detection_enabled '2'"]),
    ],
)
def test_bad_option_values_are_rejected(column: str, cell: str, words: list[str]) -> None:
    reason = rejected(csv_text(f"video_url,audio_url,{column}", f"{VIDEO},{AUDIO},{cell}")).reason

    for word in words:
        assert word in reason


@pytest.mark.parametrize(
    ("column", "cell", "words"),
    [
        ("model_mode", "face", ["model_mode works only with model react-1", "lipsync-2"]),
        ("prompt", "sad", ["prompt works only with model react-1"]),
    ],
)
def test_react_only_options_need_react_1(column: str, cell: str, words: list[str]) -> None:
    reason = rejected(csv_text(f"video_url,audio_url,{column}", f"{VIDEO},{AUDIO},{cell}")).reason

    for word in words:
        assert word in reason


@pytest.mark.parametrize(
    ("column", "cell", "words"),
    [
        ("model_mode", "mouth", ["model_mode 'mouth'", "lips, face, head"]),
        ("prompt", "bored", ["prompt 'bored'", "happy, sad, angry, disgusted, surprised, neutral"]),
    ],
)
def test_react_option_values_are_checked(column: str, cell: str, words: list[str]) -> None:
    text = csv_text(f"video_url,audio_url,model,{column}", f"{VIDEO},{AUDIO},react-1,{cell}")

    reason = rejected(text).reason

    for word in words:
        assert word in reason


def test_output_file_name_becomes_output_file_name_in_camel_case() -> None:
    row = accepted(csv_text("video_url,audio_url,output_file_name", f"{VIDEO},{AUDIO},promo_2-B"))

    assert payload(row)["outputFileName"] == "promo_2-B"
    assert "options" not in payload(row)


@pytest.mark.parametrize("name", ["promo.mp4", "my promo", "x" * 256])
def test_bad_output_file_names_are_rejected(name: str) -> None:
    reason = rejected(
        csv_text("video_url,audio_url,output_file_name", f"{VIDEO},{AUDIO},{name}")
    ).reason

    assert reason.startswith("output_file_name '")
    assert "no extension" in reason


def test_a_row_with_more_cells_than_the_header_is_rejected() -> None:
    reason = rejected(csv_text(HEADER, f"{VIDEO},{AUDIO},Smith, John")).reason

    assert "more cells than the header has columns (2)" in reason
    assert "'Smith' in column 3" in reason
    assert "double quotes" in reason


def test_trailing_empty_cells_beyond_the_header_are_harmless() -> None:
    row = accepted(csv_text(HEADER, f"{VIDEO},{AUDIO},,,"))

    assert row.columns == {"video_url": VIDEO, "audio_url": AUDIO}


def test_a_short_row_reads_missing_cells_as_empty() -> None:
    row = accepted(csv_text("video_url,audio_url,request_id,notes", f"{VIDEO},{AUDIO}"))

    assert row.columns == {"video_url": VIDEO, "audio_url": AUDIO, "request_id": "", "notes": ""}


def test_a_row_too_big_for_any_batch_is_rejected() -> None:
    script = "あ" * 100_000  # within the CSV cell limit, but 300 KB of UTF-8
    text = csv_text("video_url,tts_voice_id,tts_script", f'{VIDEO},voice-1,"{script}"')

    rejection = rejected(text)

    assert "becomes a Sync request of" in rejection.reason
    assert "262,143 bytes" in rejection.reason
    assert "tts_script" in rejection.reason


def test_the_line_size_limit_counts_the_newline() -> None:
    base = accepted(csv_text("video_url,tts_voice_id,tts_script", f"{VIDEO},v,x"))
    fits = IntakeRules(max_line_bytes=len(base.line) + 1)
    too_small = IntakeRules(max_line_bytes=len(base.line))

    text = csv_text("video_url,tts_voice_id,tts_script", f"{VIDEO},v,x")
    assert isinstance(read(text, rules=fits)[0], AcceptedRow)
    assert isinstance(read(text, rules=too_small)[0], RowRejection)


def test_every_problem_of_a_row_is_reported_at_once() -> None:
    text = csv_text(
        "request_id,video_url,audio_url,model,temperature",
        "bad id,http://x.example.com/v.mp4,,gpt,9",
    )

    reason = rejected(text).reason

    for word in (
        "request_id 'bad id'",
        "video_url",
        "audio_url is empty",
        "model 'gpt'",
        "temperature '9'",
    ):
        assert word in reason


def test_non_ascii_text_stays_readable_utf8_in_the_line() -> None:
    text = csv_text("video_url,tts_voice_id,tts_script", f'{VIDEO},voice-1,"こんにちは ""世界"""')

    row = accepted(text)

    assert "こんにちは".encode() in row.line
    assert payload(row)["input"][1]["provider"]["script"] == 'こんにちは "世界"'  # type: ignore[index]


def test_rules_refuse_a_default_model_they_do_not_allow() -> None:
    with pytest.raises(ValueError, match="default model"):
        IntakeRules(default_model="lipsync-3")
