"""Batch lifecycle on the emulated clock, result download and the deterministic failure rule."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.emulator.media import iter_boxes

from .helpers import API_KEY, jsonl, line, lines, post_file


def create(client: httpx.Client, records: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    response = post_file(client, jsonl(records), **kwargs)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def get(client: httpx.Client, batch_id: str) -> dict[str, Any]:
    response = client.get(f"/v2/batch/{batch_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def download(url: str) -> list[dict[str, Any]]:
    response = httpx.get(url, follow_redirects=True)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [json.loads(row) for row in response.text.splitlines()]


def test_status_and_metrics_follow_the_clock(emulator: SyncEmulator, client: httpx.Client) -> None:
    batch_id = create(client, lines(20))["id"]
    assert get(client, batch_id)["status"] == "PENDING"
    emulator.clock.advance(9.9)
    assert get(client, batch_id)["status"] == "PENDING"
    emulator.clock.advance(0.1)
    body = get(client, batch_id)
    assert body["status"] == "PROCESSING"
    assert body["metrics"]["pending_count"] == 20
    emulator.clock.advance(5)
    assert get(client, batch_id)["metrics"] == {
        "total_generations": 20,
        "success_count": 5,
        "failed_count": 0,
        "pending_count": 15,
    }
    assert get(client, batch_id)["outputUrl"] == ""
    emulator.clock.advance(15)
    body = get(client, batch_id)
    assert body["status"] == "COMPLETED"
    assert body["metrics"]["success_count"] == 20
    assert body["metrics"]["pending_count"] == 0
    assert body["outputUrl"] == f"{emulator.url}/v2/batches/{batch_id}/result"
    assert emulator.batch(batch_id).status == "COMPLETED"


def test_jobs_created_phase_is_optional(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.settings.jobs_created_seconds = 5
    batch_id = create(client, lines(20))["id"]
    emulator.clock.advance(10)
    assert get(client, batch_id)["status"] == "JOBS_CREATED"
    emulator.clock.advance(5)
    assert get(client, batch_id)["status"] == "PROCESSING"
    assert emulator.open_batches == 1


def test_line_parallelism_shortens_processing(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.settings.line_parallelism = 10
    batch_id = create(client, lines(20))["id"]
    emulator.clock.advance(11)
    assert get(client, batch_id)["metrics"]["success_count"] == 10
    emulator.clock.advance(1)
    assert get(client, batch_id)["status"] == "COMPLETED"


def test_output_url_redirects_to_signed_jsonl(emulator: SyncEmulator, client: httpx.Client) -> None:
    records = lines(20)
    records[3] = line(4, video="https://cdn.example.com/v.mp4?sync-fail")
    records[7] = line(8, audio="https://cdn.example.com/a.wav?sync-fail=NO_FACE_DETECTED")
    batch_id = create(client, records)["id"]
    emulator.clock.advance(1000)
    body = get(client, batch_id)
    assert body["status"] == "COMPLETED"
    assert body["metrics"] == {
        "total_generations": 20,
        "success_count": 18,
        "failed_count": 2,
        "pending_count": 0,
    }

    redirect = httpx.get(body["outputUrl"])  # no API key, as in Sync's example
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(f"{emulator.url}/signed/{batch_id}/result.jsonl?expires=")
    assert "signature=" in location

    result = download(body["outputUrl"])
    assert [row["request_id"] for row in result] == [r["request_id"] for r in records]
    for row, record in zip(result, records, strict=True):
        assert set(row) == {
            "request_id",
            "endpoint",
            "payload",
            "status",
            "error",
            "response",
            "updated_at",
        }
        assert row["endpoint"] == "/v2/generate"
        assert row["payload"] == record["payload"]
        assert row["updated_at"].endswith("Z")
    failed = {row["request_id"]: row for row in result if row["status"] == "FAILED"}
    assert set(failed) == {"request-4", "request-8"}
    assert failed["request-4"]["error"]["code"] == "GENERATION_FAILED"
    assert failed["request-8"]["error"]["code"] == "NO_FACE_DETECTED"
    assert all(row["error"]["message"] for row in failed.values())
    assert all(row["response"] is None for row in failed.values())

    ok = next(row for row in result if row["status"] == "COMPLETED")
    assert ok["error"] is None
    generation = ok["response"]
    assert generation["status"] == "COMPLETED"
    assert generation["model"] == "lipsync-2"
    assert generation["input"] == ok["payload"]["input"]
    assert generation["outputUrl"] == f"{emulator.url}/media/{generation['id']}.mp4"
    assert generation["outputDuration"] > 0
    assert generation["createdAt"].endswith("Z")

    media = httpx.get(generation["outputUrl"])
    assert media.status_code == 200
    assert media.headers["content-type"] == "video/mp4"
    assert 1000 < len(media.content) < 10_000
    assert [kind for kind, _ in iter_boxes(media.content)] == [b"ftyp", b"moov", b"mdat"]
    assert emulator.batch(batch_id).outcomes["request-4"] == "FAILED"


def test_media_for_unknown_generation_is_404(emulator: SyncEmulator) -> None:
    assert httpx.get(f"{emulator.url}/media/nope.mp4").status_code == 404


def test_result_before_completion_is_404(emulator: SyncEmulator, client: httpx.Client) -> None:
    batch_id = create(client, lines(20))["id"]
    assert httpx.get(f"{emulator.url}/v2/batches/{batch_id}/result").status_code == 404
    assert httpx.get(f"{emulator.url}/v2/batches/batch_nope/result").status_code == 404


def test_signed_url_expires_and_checks_its_signature(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    emulator.settings.result_url_ttl = 60
    batch_id = create(client, lines(20))["id"]
    emulator.clock.advance(1000)
    location = httpx.get(get(client, batch_id)["outputUrl"]).headers["location"]
    assert httpx.get(location).status_code == 200

    tampered = httpx.get(location.replace("expires=", "expires=9"))
    assert tampered.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    unsigned = httpx.get(location.split("?")[0])
    assert unsigned.status_code == 403
    assert "<Code>AccessDenied</Code>" in unsigned.text

    emulator.clock.advance(61)
    expired = httpx.get(location)
    assert expired.status_code == 403
    assert expired.headers["content-type"] == "application/xml"
    assert "Request has expired" in expired.text
    fresh = httpx.get(get(client, batch_id)["outputUrl"], follow_redirects=True)
    assert fresh.status_code == 200


def test_signed_base_can_be_another_host(client: httpx.Client, emulator: SyncEmulator) -> None:
    port = emulator.url.rsplit(":", 1)[1]
    emulator.settings.signed_base = f"http://localhost:{port}"
    batch_id = create(client, lines(20))["id"]
    emulator.clock.advance(1000)
    output_url = get(client, batch_id)["outputUrl"]
    assert output_url.startswith(emulator.url)
    location = httpx.get(output_url).headers["location"]
    assert location.startswith(f"http://localhost:{port}/signed/")


def test_whole_batch_failure(emulator: SyncEmulator, client: httpx.Client) -> None:
    records = lines(20)
    records[12] = line(13, video="https://cdn.example.com/sync-batch-fail.mp4")
    batch_id = create(client, records)["id"]
    emulator.clock.advance(10.5)
    assert get(client, batch_id)["status"] == "PROCESSING"
    assert get(client, batch_id)["metrics"]["pending_count"] == 20
    emulator.clock.advance(1)
    body = get(client, batch_id)
    assert body["status"] == "FAILED"
    assert body["metrics"] == {
        "total_generations": 20,
        "success_count": 0,
        "failed_count": 20,
        "pending_count": 0,
    }
    result = download(body["outputUrl"])
    assert len(result) == 20
    assert {row["status"] for row in result} == {"FAILED"}
    assert {row["error"]["code"] for row in result} == {"BATCH_FAILED"}
    assert emulator.open_batches == 0


def test_seeded_failure_rate_is_reproducible() -> None:
    def failed_ids(seed: int) -> list[str]:
        with (
            SyncEmulator(
                api_key=API_KEY, webhook_secret=None, failure_rate=0.3, seed=seed, time_scale=0
            ) as emu,
            httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}) as http,
        ):
            batch_id = create(http, lines(40))["id"]
            emu.clock.advance(10_000)
            return sorted(
                row["request_id"] for row in emu.result_lines(batch_id) if row["status"] == "FAILED"
            )

    first = failed_ids(7)
    assert first == failed_ids(7)
    assert 0 < len(first) < 40
    assert first != failed_ids(8)


@pytest.mark.parametrize("scale", [600.0])
def test_time_scale_runs_the_clock(scale: float, client: httpx.Client) -> None:
    with (
        SyncEmulator(
            api_key=API_KEY,
            webhook_secret=None,
            time_scale=scale,
            pending_seconds=30,
            processing_seconds_per_line=6,
        ) as emu,
        httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}) as http,
    ):
        batch_id = create(http, lines(20))["id"]
        # 150 emulated seconds at 600x take a quarter of a real second.
        assert emu.wait_until(lambda: emu.batch(batch_id).status == "COMPLETED", timeout=5)
