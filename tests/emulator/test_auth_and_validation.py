"""Authentication and Sync's input rules for POST /v2/batch, over real HTTP."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from syncdrop_local.emulator import SyncEmulator

from .helpers import API_KEY, jsonl, line, lines, post_file, post_rows


def assert_400(response: httpx.Response, *fragments: str) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert body["statusCode"] == 400
    for fragment in fragments:
        assert fragment in body["message"], body["message"]
    return body


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v2/batch"), ("GET", "/v2/batch"), ("GET", "/v2/batch/batch_x"), ("GET", "/v2/x")],
)
@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_v2_routes_need_the_api_key(
    emulator: SyncEmulator, method: str, path: str, key: str | None
) -> None:
    headers = {} if key is None else {"x-api-key": key}
    response = httpx.request(method, emulator.url + path, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"statusCode": 401, "message": "Unauthorized"}
    assert emulator.requests[-1].status == 401
    assert emulator.requests[-1].api_key_present is bool(key)
    assert emulator.batches == []


def test_unknown_route_with_key_is_404(client: httpx.Client) -> None:
    response = client.delete("/v2/batch/batch_x")
    assert response.status_code == 404
    assert response.json()["message"] == "Cannot DELETE /v2/batch/batch_x"


def test_multipart_create_returns_a_pending_batch_response(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    response = post_file(client, jsonl(lines(20)), webhook_url="https://hooks.example/x?job=1")
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "created_at", "status", "metrics", "outputUrl", "webhookUrl"}
    assert body["id"].startswith("batch_")
    assert body["created_at"].endswith("Z")
    assert body["status"] == "PENDING"
    assert body["metrics"] == {
        "total_generations": 20,
        "success_count": 0,
        "failed_count": 0,
        "pending_count": 20,
    }
    assert body["outputUrl"] == ""
    assert body["webhookUrl"] == "https://hooks.example/x?job=1"
    (snapshot,) = emulator.batches
    assert snapshot.id == body["id"]
    assert snapshot.webhook_url == "https://hooks.example/x?job=1"
    assert len(snapshot.lines) == 20
    assert emulator.create_counts.total == 1
    assert emulator.create_counts.accepted == 1


def test_file_alias_and_no_webhook_echoes_null(client: httpx.Client) -> None:
    response = post_file(client, jsonl(lines(20)), field_name="file")
    assert response.status_code == 201
    assert response.json()["webhookUrl"] is None


def test_rows_json_form(emulator: SyncEmulator, client: httpx.Client) -> None:
    response = post_rows(client, lines(25), webhook_url="https://hooks.example/y")
    assert response.status_code == 201
    assert response.json()["metrics"]["total_generations"] == 25
    assert response.json()["webhookUrl"] == "https://hooks.example/y"
    assert [snap.lines[0]["request_id"] for snap in emulator.batches] == ["request-1"]


def test_blank_lines_are_tolerated_and_do_not_count(client: httpx.Client) -> None:
    data = b"\n" + jsonl(lines(10)) + b"\r\n   \n" + jsonl(lines(20)[10:]) + b"\n\n"
    response = post_file(client, data)
    assert response.status_code == 201
    assert response.json()["metrics"]["total_generations"] == 20


def test_missing_file_is_400(client: httpx.Client) -> None:
    body = assert_400(client.post("/v2/batch", files={"other": ("x.txt", b"x")}), '"input"')
    assert body["errorCode"] == "batch_input_missing"


@pytest.mark.parametrize(("count", "fragment"), [(19, "at least 20"), (501, "at most 500")])
def test_record_count_limits(client: httpx.Client, count: int, fragment: str) -> None:
    body = assert_400(post_file(client, jsonl(lines(count))), fragment, f"found {count}")
    assert body["errorCode"] in {"batch_too_few_records", "batch_too_many_records"}
    assert_400(post_rows(client, lines(count)), fragment)


def test_boundaries_20_and_500_are_accepted(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.settings.batch_concurrency = 10
    assert post_file(client, jsonl(lines(20))).status_code == 201
    assert post_file(client, jsonl(lines(500))).status_code == 201


def test_file_over_5_mb_is_400(client: httpx.Client) -> None:
    records = lines(20)
    records[0]["payload"]["padding"] = "x" * (5 * 1024 * 1024)
    data = jsonl(records)
    assert len(data) > 5 * 1024 * 1024
    body = assert_400(post_file(client, data), "too large", "5 MB")
    assert body["errorCode"] == "batch_input_too_large"
    assert_400(post_rows(client, records), "too large")


def test_rows_size_counts_their_jsonl_serialisation(emulator: SyncEmulator) -> None:
    emulator.settings.max_bytes = len(jsonl(lines(20)).replace(b", ", b",").replace(b": ", b":"))
    with httpx.Client(base_url=emulator.url, headers={"x-api-key": API_KEY}) as http:
        assert post_rows(http, lines(20), dry_run=True).status_code == 200
        emulator.settings.max_bytes -= 1
        assert_400(post_rows(http, lines(20), dry_run=True), "too large")


def broken(line_number: int, record: Any, count: int = 20) -> list[Any]:
    records: list[Any] = lines(count)
    records[line_number - 1] = record
    return records


def _without(key: str) -> dict[str, Any]:
    record = line(7)
    del record[key]
    return record


BAD_LINES = [
    pytest.param(line(7, endpoint="/v2/lipsync"), "endpoint", id="wrong-endpoint"),
    pytest.param(line(7, model="lipsync-9"), "payload.model", id="unknown-model"),
    pytest.param(line(7, audio=None), "audio or text", id="no-audio-or-tts"),
    pytest.param(line(7, video="ftp://x/v.mp4"), "http(s) URL", id="non-http-url"),
    pytest.param(line(7, request_id=""), "request_id", id="empty-request-id"),
    pytest.param({**line(7), "request_id": 7}, "request_id", id="numeric-request-id"),
    pytest.param(_without("request_id"), '"request_id"', id="missing-request-id"),
    pytest.param(_without("payload"), '"payload"', id="missing-payload"),
    pytest.param(["not", "an", "object"], "JSON object", id="array-line"),
    pytest.param(
        {
            **line(7),
            "payload": {"model": "lipsync-2", "input": [{"type": "audio", "url": "https://a/b"}]},
        },
        "exactly one video",
        id="no-video",
    ),
    pytest.param(
        {
            **line(7),
            "payload": {
                "model": "lipsync-2",
                "input": [
                    {"type": "video", "url": "https://a/v.mp4"},
                    {"type": "video", "url": "https://a/w.mp4"},
                    {"type": "audio", "url": "https://a/b.wav"},
                ],
            },
        },
        "exactly one video",
        id="two-videos",
    ),
    pytest.param(
        {
            **line(7),
            "payload": {
                "model": "lipsync-2",
                "input": [
                    {"type": "video", "url": "https://a/v.mp4"},
                    {"type": "text", "provider": {"name": "elevenlabs", "voiceId": "v1"}},
                ],
            },
        },
        "provider.script",
        id="tts-without-script",
    ),
    pytest.param(
        {
            **line(7),
            "payload": {"model": "lipsync-2", "input": [{"type": "image", "url": "https://a"}]},
        },
        "type",
        id="unknown-input-type",
    ),
]


@pytest.mark.parametrize(("record", "fragment"), BAD_LINES)
def test_bad_line_is_named_in_the_message(
    emulator: SyncEmulator, client: httpx.Client, record: Any, fragment: str
) -> None:
    body = assert_400(post_file(client, jsonl(broken(7, record))), "Line 7:", fragment)
    assert body["errorCode"] == "batch_invalid_record"
    assert_400(post_rows(client, broken(7, record)), "Line 7:", fragment)
    assert emulator.batches == []


def test_invalid_json_line_is_named(client: httpx.Client) -> None:
    data = jsonl(lines(20)).split(b"\n")
    data[4] = b'{"request_id": "request-5", '
    assert_400(post_file(client, b"\n".join(data)), "Line 5:", "invalid JSON")


def test_line_numbers_count_blank_lines(client: httpx.Client) -> None:
    data = b"\n\n" + jsonl(broken(3, line(3, model="nope")))
    assert_400(post_file(client, data), "Line 5:")


def test_first_bad_line_wins(client: httpx.Client) -> None:
    records: list[Any] = lines(20)
    records[2] = line(3, model="nope")
    records[10] = ["bad"]
    assert_400(post_file(client, jsonl(records)), "Line 3:")


def test_duplicate_request_id(client: httpx.Client) -> None:
    records = broken(9, line(9, request_id="request-3"))
    body = assert_400(post_file(client, jsonl(records)), "Line 9:", "request-3", "line 3")
    assert body["errorCode"] == "batch_duplicate_request_id"


def test_tts_line_and_every_public_model_are_accepted(client: httpx.Client) -> None:
    records = lines(20)
    records[0]["payload"]["input"][1] = {
        "type": "text",
        "provider": {"name": "elevenlabs", "voiceId": "voice-1", "script": "Hello there"},
    }
    for index, model in enumerate(
        ["sync-3", "lipsync-2", "lipsync-2-pro", "lipsync-1.9.0-beta", "react-1"], start=1
    ):
        records[index]["payload"]["model"] = model
    assert post_file(client, jsonl(records), dry_run=True).json() == {"status": "VALIDATED"}


@pytest.mark.parametrize(
    ("form", "fragment"),
    [({"webhook_url": "not a url"}, "webhook_url"), ({"dry_run": "maybe"}, "dry_run")],
)
def test_bad_form_fields(client: httpx.Client, form: dict[str, str], fragment: str) -> None:
    files = {"input": ("input.jsonl", jsonl(lines(20)), "application/jsonl")}
    assert_400(client.post("/v2/batch", data=form, files=files), fragment)


def test_bad_bodies(client: httpx.Client) -> None:
    assert_400(client.post("/v2/batch", content=b"{", headers={"content-type": "application/json"}))
    assert_400(client.post("/v2/batch", json=[1, 2]))
    assert_400(client.post("/v2/batch", json={"webhook_url": None}), '"rows"')
    assert_400(client.post("/v2/batch", json={"rows": "nope"}), '"rows"')
    assert_400(client.post("/v2/batch", content=b"x", headers={"content-type": "text/plain"}))
    assert_400(post_file(client, "\u00e9".encode("latin-1") * 30), "UTF-8")


def test_dry_run_validates_and_creates_nothing(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    response = post_file(client, jsonl(lines(20)), dry_run=True, webhook_url="https://h.x/y")
    assert response.status_code == 200
    assert response.json() == {"status": "VALIDATED"}
    assert post_rows(client, lines(20), dry_run=True).json() == {"status": "VALIDATED"}
    assert post_rows(client, lines(20), dry_run="true").json() == {"status": "VALIDATED"}
    assert_400(post_file(client, jsonl(lines(3)), dry_run=True), "at least 20")
    assert emulator.batches == []
    counts = emulator.create_counts
    assert (counts.total, counts.accepted, counts.dry_run, counts.rejected) == (4, 0, 3, {400: 1})


def test_dry_run_false_creates(emulator: SyncEmulator, client: httpx.Client) -> None:
    assert post_file(client, jsonl(lines(20)), dry_run=False).status_code == 201
    assert len(emulator.batches) == 1


def test_no_batch_access_is_402(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.settings.batch_access = False
    response = post_file(client, jsonl(lines(20)))
    assert response.status_code == 402
    assert response.json()["statusCode"] == 402
    assert "Scale" in response.json()["message"]
    assert post_file(client, jsonl(lines(20)), dry_run=True).status_code == 402
    assert emulator.create_counts.rejected == {402: 2}
    assert emulator.batches == []


def test_request_log_records_method_path_status_and_key(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    post_file(client, jsonl(lines(20)))
    client.get("/v2/batch", params={"status": "PENDING"})
    httpx.get(emulator.url + "/v2/batch")
    records = [(r.method, r.path, r.status, r.api_key_present) for r in emulator.requests]
    assert records == [
        ("POST", "/v2/batch", 201, True),
        ("GET", "/v2/batch", 200, True),
        ("GET", "/v2/batch", 401, False),
    ]
    assert emulator.requests[1].query == "status=PENDING"
    json.dumps([r.at for r in emulator.requests])
