"""Sync's output lines, well-formed or not, each become one generation outcome."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop.report import GenerationResult, RowStatus, parse_result_line
from syncdrop.report.result_lines import MAX_MESSAGE_CHARS, NO_OUTPUT_URL

# The two example lines of Sync's batch guide, with a Generation object where it shows {...}.
GUIDE_COMPLETED = (
    b'{"request_id": "request-1", "endpoint": "/v2/generate", "payload": {"model": "lipsync-2"}, '
    b'"status": "COMPLETED", "error": null, "response": {"id": "gen-1", "status": "COMPLETED", '
    b'"outputUrl": "https://output.sync.so/gen-1.mp4", "outputDuration": 12.48}, '
    b'"updated_at": "2024-01-15T10:35:00Z"}'
)
GUIDE_FAILED = (
    b'{"request_id": "request-2", "endpoint": "/v2/generate", "payload": {"model": "lipsync-2"}, '
    b'"status": "FAILED", "error": {"code": "INVALID_INPUT", "message": "Video unreadable"}, '
    b'"response": null, "updated_at": "2024-01-15T10:35:00Z"}'
)


def line(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_guide_completed_line() -> None:
    assert parse_result_line(GUIDE_COMPLETED) == GenerationResult(
        request_id="request-1",
        status=RowStatus.COMPLETED,
        generation_id="gen-1",
        output_url="https://output.sync.so/gen-1.mp4",
        output_duration=12.48,
        error_code=None,
        error_message=None,
    )


def test_guide_failed_line() -> None:
    assert parse_result_line(GUIDE_FAILED) == GenerationResult(
        request_id="request-2",
        status=RowStatus.FAILED,
        generation_id=None,
        output_url=None,
        output_duration=None,
        error_code="INVALID_INPUT",
        error_message="Video unreadable",
    )


def test_trailing_newline_bom_and_extra_keys_are_fine() -> None:
    raw = b"\xef\xbb\xbf" + GUIDE_COMPLETED[:-1] + b', "new_field": [1, 2]}\r\n'
    result = parse_result_line(raw)
    assert result.status is RowStatus.COMPLETED
    assert result.request_id == "request-1"


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        (b"", "blank line"),
        (b"   \r\n", "blank line"),
        (b"\xff\xfe{", "not valid UTF-8"),
        (b'{"request_id": "a", "status": ', "not valid JSON"),
        (b"{'request_id': 'a'}", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
        (b"1" * 5000, "not valid JSON"),
        (b'["request-1", "COMPLETED"]', "not a JSON object"),
        (b'"request-1"', "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"status": "COMPLETED", "response": {"outputUrl": "https://x/v.mp4"}}', "request_id"),
        (b'{"request_id": null, "status": "COMPLETED"}', "request_id"),
        (b'{"request_id": "   ", "status": "COMPLETED"}', "request_id"),
        (b'{"request_id": ["a"], "status": "COMPLETED"}', "request_id"),
        (b'{"request_id": true, "status": "COMPLETED"}', "request_id"),
    ],
)
def test_unusable_lines_fail_with_a_reason(raw: bytes, says: str) -> None:
    result = parse_result_line(raw)
    assert result.request_id is None
    assert result.status is RowStatus.FAILED
    assert result.error_message is not None
    assert says in result.error_message


def test_line_without_request_id_keeps_what_support_can_use() -> None:
    result = parse_result_line(line(status="FAILED", response={"id": "gen-9"}))
    assert (result.request_id, result.generation_id) == (None, "gen-9")


def test_completed_without_output_url_is_failed() -> None:
    for response in ({"id": "g"}, {"id": "g", "outputUrl": ""}, {"outputUrl": "  "}, None, 7):
        result = parse_result_line(line(request_id="r", status="COMPLETED", response=response))
        assert result.status is RowStatus.FAILED
        assert result.error_message == NO_OUTPUT_URL


def test_output_url_aliases() -> None:
    for key in ("outputUrl", "output_url", "outputMediaUrl"):
        result = parse_result_line(
            line(request_id="r", status="COMPLETED", response={key: "https://x/v.mp4"})
        )
        assert result.status is RowStatus.COMPLETED
        assert result.output_url == "https://x/v.mp4"


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "REJECTED", "CANCELED", "TIMED_OUT"])
def test_other_statuses_fail_naming_the_status(status: str) -> None:
    result = parse_result_line(
        line(request_id="r", status=status, response={"id": "g", "outputUrl": "https://x/v.mp4"})
    )
    assert result.status is RowStatus.FAILED
    assert result.error_message is not None
    assert status in result.error_message
    assert result.generation_id == "g"


def test_other_status_keeps_syncs_reason() -> None:
    result = parse_result_line(line(request_id="r", status="REJECTED", error="Face not found"))
    assert result.error_message == "Sync REJECTED the generation: Face not found"


def test_unknown_missing_and_odd_statuses() -> None:
    assert "'EXPLODED'" in str(
        parse_result_line(line(request_id="r", status="EXPLODED")).error_message
    )
    assert "no status" in str(parse_result_line(line(request_id="r")).error_message)
    odd = parse_result_line(line(request_id="r", status={"state": "COMPLETED"}))
    assert odd.status is RowStatus.FAILED
    assert "not text" in str(odd.error_message)
    long = parse_result_line(line(request_id="r", status="X" * 10_000))
    assert len(str(long.error_message)) < 100


def test_status_falls_back_to_the_generation_and_ignores_case() -> None:
    result = parse_result_line(
        line(request_id="r", response={"status": "completed", "outputUrl": "https://x/v.mp4"})
    )
    assert result.status is RowStatus.COMPLETED


def test_error_as_string_and_generation_error_fields() -> None:
    as_string = parse_result_line(line(request_id="r", status="FAILED", error="Audio too long"))
    assert (as_string.error_code, as_string.error_message) == (None, "Audio too long")
    from_generation = parse_result_line(
        line(
            request_id="r",
            status="FAILED",
            error=None,
            response={
                "error": "ElevenLabs is down",
                "error_code": "elevenlabs_service_unavailable",
            },
        )
    )
    assert from_generation.error_code == "elevenlabs_service_unavailable"
    assert from_generation.error_message == "ElevenLabs is down"
    partial = parse_result_line(
        line(request_id="r", status="FAILED", error={"code": 42}, response={"error": "why"})
    )
    assert (partial.error_code, partial.error_message) == ("42", "why")


def test_failed_without_any_reason_says_so() -> None:
    result = parse_result_line(line(request_id="r", status="FAILED", error={}, response={}))
    assert result.error_message == "Sync reported the generation as FAILED without a reason"


def test_long_messages_are_clipped() -> None:
    result = parse_result_line(line(request_id="r", status="FAILED", error="x" * 50_000))
    assert result.error_message is not None
    assert len(result.error_message) == MAX_MESSAGE_CHARS


@pytest.mark.parametrize(
    ("duration", "seconds"),
    [
        (12, 12.0),
        (12.5, 12.5),
        ("12.5", 12.5),
        (" 3 ", 3.0),
        ("abc", None),
        ("", None),
        (None, None),
        (True, None),
        (-1, None),
        ("NaN", None),
        ("inf", None),
        (10**400, None),
        ([1], None),
    ],
)
def test_duration(duration: object, seconds: float | None) -> None:
    response = {"outputUrl": "https://x/v.mp4", "outputDuration": duration}
    raw = json.dumps({"request_id": "r", "status": "COMPLETED", "response": response}).encode()
    assert parse_result_line(raw).output_duration == seconds


def test_nan_literal_in_json_is_not_a_duration() -> None:
    raw = (
        b'{"request_id": "r", "status": "COMPLETED", '
        b'"response": {"outputUrl": "u", "outputDuration": NaN}}'
    )
    assert parse_result_line(raw).output_duration is None


def test_numeric_request_id_is_kept_as_text() -> None:
    assert parse_result_line(line(request_id=17, status="FAILED")).request_id == "17"


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    result = parse_result_line(raw)
    assert result.status in (RowStatus.COMPLETED, RowStatus.FAILED)
    assert (result.status is RowStatus.COMPLETED) == (result.error_message is None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
keys = st.sampled_from(
    ["request_id", "status", "error", "response", "id", "outputUrl", "outputDuration", "code"]
)


@settings(max_examples=400, deadline=None)
@given(
    st.dictionaries(keys, json_values, max_size=5),
    st.dictionaries(keys, json_values, max_size=5),
)
def test_arbitrary_json_objects_never_raise(
    record: dict[str, object], response: dict[str, object]
) -> None:
    raw = json.dumps({**record, "response": response}).encode()
    result = parse_result_line(raw)
    if result.status is RowStatus.COMPLETED:
        assert result.request_id
        assert result.output_url
    else:
        assert result.error_message
