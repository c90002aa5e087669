"""s3:// links in payloads and chunk lines: found with their kind, replaced by asset ids."""

from __future__ import annotations

import json

import pytest

from syncdrop.domain.media_assets import media_uris, substitute_asset_lines, substitute_assets

VIDEO = "s3://uploads/media/a.mp4"
AUDIO = "s3://uploads/media/a.wav"
HTTPS = "https://cdn.example.com/b.mp4"
IDS = {VIDEO: "asset-video", AUDIO: "asset-audio"}


def payload(video: str = VIDEO, audio: str = AUDIO) -> dict[str, object]:
    return {
        "model": "lipsync-2",
        "input": [{"type": "video", "url": video}, {"type": "audio", "url": audio}],
        "options": {"sync_mode": "loop"},
    }


def line(n: int, video: str = VIDEO, audio: str = AUDIO) -> dict[str, object]:
    return {"request_id": f"row-{n}", "endpoint": "/v2/generate", "payload": payload(video, audio)}


def test_media_uris_of_a_payload_a_line_and_jsonl() -> None:
    assert media_uris(payload()) == {VIDEO: "VIDEO", AUDIO: "AUDIO"}
    assert media_uris(line(1, audio=HTTPS)) == {VIDEO: "VIDEO"}
    jsonl = b"".join(json.dumps(line(n)).encode() + b"\n" for n in range(3))
    jsonl += json.dumps(line(9, HTTPS, HTTPS)).encode() + b"\n"
    assert media_uris(jsonl) == {VIDEO: "VIDEO", AUDIO: "AUDIO"}
    assert media_uris([line(1, HTTPS, HTTPS)]) == {}
    # The same file as video and as audio is one VIDEO asset, whichever comes first.
    assert media_uris([line(1, AUDIO, VIDEO), line(2, VIDEO, VIDEO)]) == {
        AUDIO: "VIDEO",
        VIDEO: "VIDEO",
    }


def test_substitute_assets_replaces_only_s3_links_and_copies() -> None:
    original = payload(audio=HTTPS)
    changed = substitute_assets(original, IDS)
    assert changed["input"] == [
        {"type": "video", "assetId": "asset-video"},
        {"type": "audio", "url": HTTPS},
    ]
    assert changed["options"] == {"sync_mode": "loop"}
    assert original == payload(audio=HTTPS)  # the caller's payload is untouched
    with pytest.raises(ValueError, match=VIDEO):
        substitute_assets(payload(), {AUDIO: "asset-audio"})


def test_substitute_asset_lines_rewrites_lines_with_s3_links_only() -> None:
    untouched = json.dumps(line(2, HTTPS, HTTPS)).encode()
    jsonl = json.dumps(line(1)).encode() + b"\n" + untouched + b"\n"
    out = substitute_asset_lines(jsonl, IDS)
    first, second = out.splitlines()
    assert json.loads(first)["payload"]["input"] == [
        {"type": "video", "assetId": "asset-video"},
        {"type": "audio", "assetId": "asset-audio"},
    ]
    assert json.loads(first)["request_id"] == "row-1"
    assert second == untouched
    assert out.endswith(b"\n")
    assert substitute_asset_lines(untouched + b"\n", {}) == untouched + b"\n"
