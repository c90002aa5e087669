"""The emulator's Assets API: upload URLs, the signed PUT, registration, look-ups and faults."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sync import Sync
from sync.common.errors import NotFoundError

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.emulator.assets import asset_route_family

from .helpers import API_KEY, jsonl, line, lines, post_file, post_rows, running

VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8
OTHER_KEY = "other-account-key"


def upload_url(
    client: httpx.Client, data: bytes = VIDEO_BYTES, content_type: str = "video/mp4"
) -> dict[str, Any]:
    response = client.post(
        "/v2/assets/upload",
        json={"fileName": "speaker.mp4", "contentType": content_type, "size": len(data)},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def put(upload: dict[str, Any], data: bytes = VIDEO_BYTES, **headers: str) -> httpx.Response:
    sent = {"content-type": "video/mp4", **headers}
    return httpx.put(upload["uploadUrl"], content=data, headers=sent)


def uploaded_asset(
    client: httpx.Client, data: bytes = VIDEO_BYTES, kind: str = "VIDEO"
) -> dict[str, Any]:
    upload = upload_url(client, data)
    assert put(upload, data).status_code == 200
    response = client.post("/v2/assets", json={"url": upload["url"], "type": kind})
    assert response.status_code == 201, response.text
    asset: dict[str, Any] = response.json()
    return asset


def lookup(client: httpx.Client, data: bytes, kind: str = "VIDEO") -> httpx.Response:
    digest = hashlib.sha256(data).hexdigest()
    return client.get("/v2/assets/uploaded", params={"contentSha256": digest, "type": kind})


@pytest.fixture
def other(emulator: SyncEmulator) -> Iterator[httpx.Client]:
    emulator.settings.other_api_keys = (OTHER_KEY,)
    with httpx.Client(base_url=emulator.url, headers={"x-api-key": OTHER_KEY}) as http:
        yield http


def test_upload_put_register_then_find_by_digest(client, emulator) -> None:
    upload = upload_url(client)
    assert upload["expiresIn"] == 3600
    assert upload["uploadUrl"].startswith(f"{emulator.url}/uploads/")
    assert httpx.get(upload["url"]).status_code == 404  # nothing PUT yet
    assert lookup(client, VIDEO_BYTES).json() == {"asset": None}

    stored = put(upload)
    assert stored.status_code == 200
    assert stored.headers["etag"] == f'"{hashlib.md5(VIDEO_BYTES).hexdigest()}"'  # noqa: S324
    served = httpx.get(upload["url"])
    assert served.content == VIDEO_BYTES
    assert served.headers["content-type"] == "video/mp4"

    registered = client.post(
        "/v2/assets", json={"url": upload["url"], "type": "VIDEO", "name": "Speaker"}
    )
    assert registered.status_code == 201
    asset = registered.json()
    assert asset["type"] == "VIDEO"
    assert asset["visibility"] == "USER"
    assert asset["size"] == len(VIDEO_BYTES)
    assert asset["name"] == "Speaker"
    assert asset["url"] == upload["url"]
    assert asset["inputType"] == "UPLOAD"

    assert lookup(client, VIDEO_BYTES).json()["asset"]["id"] == asset["id"]
    assert lookup(client, VIDEO_BYTES, "AUDIO").json() == {"asset": None}
    assert client.get(f"/v2/assets/{asset['id']}").json()["id"] == asset["id"]
    (snapshot,) = emulator.assets()
    assert snapshot.sha256 == hashlib.sha256(VIDEO_BYTES).hexdigest()
    assert (snapshot.api_key, snapshot.type, snapshot.size) == (API_KEY, "VIDEO", len(VIDEO_BYTES))
    counts = emulator.asset_counts()
    assert (counts.uploads_requested, counts.puts, counts.registrations) == (1, 1, 1)
    assert (counts.assets_created, counts.lookups) == (1, 4)


def test_the_upload_url_needs_no_key_and_the_declared_content_type(client, emulator) -> None:
    upload = upload_url(client)
    for headers in ({"content-type": "video/quicktime"}, {"content-type": ""}):
        refused = httpx.put(upload["uploadUrl"], content=VIDEO_BYTES, headers=headers)
        assert refused.status_code == 403
        assert b"<Code>SignatureDoesNotMatch</Code>" in refused.content
    tampered = upload["uploadUrl"].replace("signature=", "signature=0")
    assert put({"uploadUrl": tampered}).status_code == 403
    chunked = httpx.put(
        upload["uploadUrl"], content=iter([VIDEO_BYTES]), headers={"content-type": "video/mp4"}
    )
    assert chunked.status_code == 501  # as S3: a presigned PUT needs a Content-Length
    short = put(upload, VIDEO_BYTES[:-1])
    assert short.status_code == 400
    assert b"IncompleteBody" in short.content
    assert emulator.asset_counts().puts == 0
    assert put(upload).status_code == 200
    put_records = [r for r in emulator.requests if r.method == "PUT"]
    assert len(put_records) == 6
    assert not any(r.api_key_present for r in put_records)


def test_the_upload_url_expires(client, emulator) -> None:
    emulator.settings.asset_upload_url_ttl = 60
    upload = upload_url(client)
    assert upload["expiresIn"] == 60
    emulator.clock.advance(61)
    expired = put(upload)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content


def test_register_verifies_the_upload_and_the_input(client, emulator) -> None:
    upload = upload_url(client)
    never_put = client.post("/v2/assets", json={"url": upload["url"], "type": "VIDEO"})
    assert never_put.status_code == 422
    assert never_put.json()["errorCode"] == "asset_upload_not_found"
    elsewhere = client.post("/v2/assets", json={"url": "https://x.example/a.mp4", "type": "VIDEO"})
    assert elsewhere.status_code == 422
    assert put(upload).status_code == 200
    for bad in (
        {"url": upload["url"], "type": "MOVIE"},
        {"url": upload["url"]},
        {"type": "VIDEO"},
        {"url": upload["url"], "type": "VIDEO", "visibility": "PUBLIC"},
    ):
        answer = client.post("/v2/assets", json=bad)
        assert answer.status_code == 400, bad
    project = client.post(
        "/v2/assets", json={"url": upload["url"], "type": "VIDEO", "projectId": "p-1"}
    )
    assert project.status_code == 422
    assert project.json()["errorCode"] == "project_not_found"
    emulator.settings.asset_max_bytes = len(VIDEO_BYTES) - 1
    too_big = client.post("/v2/assets", json={"url": upload["url"], "type": "VIDEO"})
    assert too_big.status_code == 413
    assert too_big.json()["errorCode"] == "asset_too_large"
    assert emulator.assets() == []


def test_bad_requests_are_400_as_sync_answers(client) -> None:
    for body in (
        {"fileName": "a.mp4", "contentType": "video/mp4"},
        {"fileName": "", "contentType": "video/mp4", "size": 3},
        {"fileName": "a.mp4", "contentType": "video/mp4", "size": 0},
        {"fileName": "a.mp4", "contentType": "video/mp4", "size": 5 * 1024**3 + 1},
    ):
        assert client.post("/v2/assets/upload", json=body).status_code == 400, body
    digest = hashlib.sha256(b"x").hexdigest()
    for params in (
        {"contentSha256": digest.upper(), "type": "VIDEO"},
        {"contentSha256": digest[:-1], "type": "VIDEO"},
        {"contentSha256": digest, "type": "FILM"},
        {"contentSha256": digest},
    ):
        answer = client.get("/v2/assets/uploaded", params=params)
        assert answer.status_code == 400, params
    assert client.get("/v2/assets/nope").status_code == 404
    assert httpx.post(f"{client.base_url}/v2/assets/upload", json={}).status_code == 401


def test_assets_of_another_api_key_never_match(client, emulator, other) -> None:
    mine = uploaded_asset(client)
    assert lookup(other, VIDEO_BYTES).json() == {"asset": None}
    assert other.get(f"/v2/assets/{mine['id']}").status_code == 404
    assert other.get("/v2/assets").json()["items"] == []
    theirs = uploaded_asset(other)
    assert lookup(client, VIDEO_BYTES).json()["asset"]["id"] == mine["id"]
    assert lookup(other, VIDEO_BYTES).json()["asset"]["id"] == theirs["id"]
    # An upload URL of one key cannot be registered by the other.
    upload = upload_url(client)
    assert put(upload).status_code == 200
    stolen = other.post("/v2/assets", json={"url": upload["url"], "type": "VIDEO"})
    assert stolen.status_code == 422


def test_the_newest_asset_with_the_digest_is_found(client) -> None:
    uploaded_asset(client)
    newer = uploaded_asset(client)
    assert lookup(client, VIDEO_BYTES).json()["asset"]["id"] == newer["id"]


def test_list_pages_filters_and_sorts(client) -> None:
    audio = uploaded_asset(client, b"RIFF-audio-bytes", "AUDIO")
    videos = [uploaded_asset(client, VIDEO_BYTES + bytes([n])) for n in range(3)]
    first = client.get("/v2/assets", params={"limit": 2}).json()
    assert first["totalCount"] == 4
    assert [a["id"] for a in first["items"]] == [videos[2]["id"], videos[1]["id"]]
    rest = client.get("/v2/assets", params={"limit": 2, "cursor": first["nextCursor"]}).json()
    assert [a["id"] for a in rest["items"]] == [videos[0]["id"], audio["id"]]
    assert rest["nextCursor"] is None
    only_audio = client.get("/v2/assets", params={"types": "AUDIO"}).json()
    assert [a["id"] for a in only_audio["items"]] == [audio["id"]]
    oldest = client.get("/v2/assets", params={"sortBy": "dateAsc", "limit": 1}).json()
    assert oldest["items"][0]["id"] == audio["id"]
    for bad in ({"limit": 0}, {"limit": 101}, {"sortBy": "best"}, {"cursor": "%%%"}):
        assert client.get("/v2/assets", params=bad).status_code == 400, bad


def test_the_sdk_gets_and_lists_assets(client, emulator) -> None:
    asset = uploaded_asset(client)
    with httpx.Client(timeout=10) as http:
        sdk = Sync(base_url=emulator.url, api_key=API_KEY, httpx_client=http)
        fetched = sdk.assets.get(asset["id"])
        assert fetched.id == asset["id"]
        assert fetched.type == "VIDEO"
        assert fetched.size == len(VIDEO_BYTES)
        assert fetched.created_at.tzinfo is not None
        listed = sdk.assets.list(types=["VIDEO", "AUDIO"], limit=10)
        assert [item.id for item in listed.items] == [asset["id"]]
        assert listed.total_count == 1
        with pytest.raises(NotFoundError):
            sdk.assets.get("no-such-asset")


def test_upload_urls_are_rate_limited_per_minute(client, emulator) -> None:
    emulator.settings.asset_upload_rate_limit = 2
    upload_url(client)
    upload_url(client)
    limited = client.post(
        "/v2/assets/upload", json={"fileName": "a.mp4", "contentType": "video/mp4", "size": 1}
    )
    assert limited.status_code == 429
    assert limited.json()["errorCode"] == "rate_limit_exceeded"
    emulator.clock.advance(60)
    upload_url(client)
    emulator.settings.asset_upload_rate_limit = 0
    for _ in range(5):
        upload_url(client)


def asset_line(index: int, video_asset: str, audio_asset: str | None = None) -> dict[str, Any]:
    record = line(index)
    record["payload"]["input"][0] = {"type": "video", "assetId": video_asset}
    if audio_asset is not None:
        record["payload"]["input"][1] = {"type": "audio", "assetId": audio_asset}
    return record


def test_batch_lines_may_name_assets_and_their_use_is_counted(client, emulator) -> None:
    video = uploaded_asset(client)
    audio = uploaded_asset(client, b"RIFF-audio", "AUDIO")
    records = [asset_line(n, video["id"], audio["id"] if n <= 5 else None) for n in range(1, 21)]
    created = post_file(client, jsonl(records))
    assert created.status_code == 201, created.text
    assert emulator.asset_usage() == {video["id"]: 20, audio["id"]: 5}


def test_an_unknown_asset_id_refuses_the_batch_naming_line_and_id(client, emulator, other) -> None:
    theirs = uploaded_asset(other)
    mine = uploaded_asset(client)
    records = lines(20)
    records[6] = asset_line(7, mine["id"])
    records[11] = asset_line(12, theirs["id"])
    refused = post_rows(client, records)
    assert refused.status_code == 400
    body = refused.json()
    assert body["errorCode"] == "asset_not_found"
    assert body["message"].startswith("Line 12: payload.input[0].assetId")
    assert theirs["id"] in body["message"]
    dry = post_rows(client, [asset_line(n, "missing-id") for n in range(1, 21)], dry_run=True)
    assert dry.status_code == 400
    assert emulator.batches == []
    assert emulator.asset_usage() == {}


def test_asset_faults_are_seeded_and_counted() -> None:
    with running(seed=3) as (emu, http):
        emu.faults.configure(asset_upload_5xx_rate=1.0)
        body = {"fileName": "a.mp4", "contentType": "video/mp4", "size": len(VIDEO_BYTES)}
        assert http.post("/v2/assets/upload", json=body).status_code == 500
        emu.faults.configure(asset_upload_5xx_rate=0.0, asset_lookup_5xx_rate=1.0)
        assert lookup(http, VIDEO_BYTES).status_code == 500
        emu.faults.configure(asset_lookup_5xx_rate=0.0, asset_put_fail_rate=1.0)
        upload = upload_url(http)
        outcomes = set()
        for _ in range(12):
            try:
                outcomes.add(put(upload).status_code)
            except httpx.TransportError:
                outcomes.add("cut")
        assert outcomes == {500, "cut"}
        assert emu.asset_counts().puts == 0
        counts = emu.faults.counts()
        assert counts["asset_upload_error"] == 1
        assert counts["asset_lookup_error"] == 1
        assert counts["asset_put_error"] + counts["asset_put_cut"] == 12


def test_a_lost_register_answer_leaves_the_asset_findable_by_digest() -> None:
    with running() as (emu, http):
        upload = upload_url(http)
        assert put(upload).status_code == 200
        emu.faults.configure(asset_register_5xx_rate=1.0, asset_register_created_share=1.0)
        lost = http.post("/v2/assets", json={"url": upload["url"], "type": "VIDEO"})
        assert lost.status_code == 503
        (asset,) = emu.assets()
        assert lookup(http, VIDEO_BYTES).json()["asset"]["id"] == asset.id
        emu.faults.configure(asset_register_created_share=0.0)
        refused = http.post("/v2/assets", json={"url": upload["url"], "type": "VIDEO"})
        assert refused.status_code == 503
        assert len(emu.assets()) == 1  # failed before creating anything
        assert emu.faults.counts()["asset_register_lost_answer"] == 1
        assert emu.faults.counts()["asset_register_error"] == 1


def test_route_families() -> None:
    assert asset_route_family("POST", "/v2/assets/upload") == "POST /v2/assets/upload"
    assert asset_route_family("PUT", "/uploads/abc_D-1") == "PUT <upload url>"
    assert asset_route_family("POST", "/v2/assets") == "POST /v2/assets"
    assert asset_route_family("GET", "/v2/assets/uploaded") == "GET /v2/assets/uploaded"
    assert asset_route_family("GET", "/v2/assets/123") == "GET /v2/assets/{id}"
    assert asset_route_family("GET", "/v2/assets") == "GET /v2/assets"
    assert asset_route_family("GET", "/v2/batch") is None


def test_cli_fault_knobs_reach_the_assets() -> None:
    from syncdrop_local.emulator.fault_knobs import parse_knob

    assert parse_knob("asset_put_fail_rate=0.25") == ("asset_put_fail_rate", 0.25)
    assert parse_knob("asset-register-created-share=1") == ("asset_register_created_share", 1.0)
    with pytest.raises(ValueError, match="between 0 and 1"):
        parse_knob("asset_lookup_5xx_rate=2")


def test_a_generation_may_name_this_accounts_assets_only(client, emulator, other) -> None:
    mine = uploaded_asset(client)
    theirs = uploaded_asset(other)
    payload = asset_line(1, mine["id"])["payload"]
    created = client.post("/v2/generate", json=payload)
    assert created.status_code == 201, created.text
    assert emulator.asset_usage() == {mine["id"]: 1}
    refused = client.post("/v2/generate", json=asset_line(1, theirs["id"])["payload"])
    assert refused.status_code == 400
    assert refused.json()["errorCode"] == "asset_not_found"
    assert theirs["id"] in refused.json()["message"]
    assert len(emulator.generations()) == 1
    summary = emulator.request_summary()
    assert summary["POST /v2/assets/upload"] == 2
    assert summary["PUT <upload url>"] == 2
    assert summary["POST /v2/assets"] == 2
    assert summary["POST /v2/generate"] == 2
