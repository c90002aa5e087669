"""The fault plan: failed, hung and "outcome unknown" creates, failed gets, 429s, downloads."""

from __future__ import annotations

import httpx
import pytest

from syncdrop_local.emulator import FaultPlan, SyncEmulator

from .helpers import API_KEY, jsonl, lines, post_file, post_rows


def test_fail_next_creates_before_creating(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.faults.fail_next_creates(2, status=503)
    for _ in range(2):
        response = post_file(client, jsonl(lines(20)))
        assert response.status_code == 503
        assert response.json() == {"statusCode": 503, "message": "Service Unavailable"}
    assert emulator.batches == []
    assert post_file(client, jsonl(lines(20))).status_code == 201
    counts = emulator.create_counts
    assert (counts.total, counts.accepted, counts.rejected) == (3, 1, {503: 2})


def test_fail_after_create_is_the_outcome_unknown_case(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    emulator.faults.fail_next_creates(1, after_create=True)
    # Dry runs and refused creates pass through; the fault waits for a real creation.
    assert post_file(client, jsonl(lines(20)), dry_run=True).status_code == 200
    assert post_file(client, jsonl(lines(3))).status_code == 400
    response = post_rows(client, lines(20), webhook_url="https://h.example/x?job=42")
    assert response.status_code == 500
    assert response.json() == {"statusCode": 500, "message": "Internal server error"}
    (snapshot,) = emulator.batches
    assert snapshot.webhook_url == "https://h.example/x?job=42"
    # The client can find its batch again through the list endpoint.
    listed = client.get("/v2/batch", params={"created_after": snapshot.created_at}).json()
    assert [item["webhookUrl"] for item in listed] == ["https://h.example/x?job=42"]
    counts = emulator.create_counts
    assert (counts.total, counts.accepted, counts.dry_run) == (3, 1, 1)
    assert counts.rejected == {400: 1, 500: 1}
    assert emulator.faults.pending["creates"] == 0


def test_hang_after_create_times_the_client_out_but_creates(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    emulator.faults.hang_next_creates(1, seconds=1.0)
    files = {"input": ("input.jsonl", jsonl(lines(20)), "application/jsonl")}
    with pytest.raises(httpx.ReadTimeout):
        client.post("/v2/batch", files=files, timeout=0.2)
    assert len(emulator.batches) == 1
    assert emulator.create_counts.accepted == 1
    # The late answer is the normal 201 (seen by a patient client).
    emulator.faults.hang_next_creates(1, seconds=0.2)
    assert post_file(client, jsonl(lines(20))).status_code == 201


def test_hang_without_create_answers_504_late(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.faults.hang_next_creates(1, seconds=0.2, after_create=False)
    response = post_file(client, jsonl(lines(20)))
    assert response.status_code == 504
    assert response.elapsed.total_seconds() >= 0.2
    assert emulator.batches == []


def test_fail_next_gets(emulator: SyncEmulator, client: httpx.Client) -> None:
    batch_id = post_file(client, jsonl(lines(20))).json()["id"]
    emulator.faults.fail_next_gets(2, status=502)
    assert client.get(f"/v2/batch/{batch_id}").status_code == 502
    assert client.get("/v2/batch").status_code == 502
    assert client.get(f"/v2/batch/{batch_id}").status_code == 200


def test_rate_limit_next(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.faults.rate_limit_next(2)
    first = post_file(client, jsonl(lines(20)))
    assert first.status_code == 429
    assert first.json() == {
        "statusCode": 429,
        "errorCode": "rate_limit_exceeded",
        "message": "Rate limit exceeded. Please try again later.",
        "error": "Too Many Requests",
    }
    assert client.get("/v2/batch").status_code == 429
    assert client.get("/v2/batch").status_code == 200
    # Unauthenticated requests are refused before the rate limiter counts them.
    emulator.faults.rate_limit_next(1)
    assert httpx.get(emulator.url + "/v2/batch").status_code == 401
    assert client.get("/v2/batch").status_code == 429
    counts = emulator.create_counts
    assert (counts.total, counts.rejected) == (1, {429: 1})


def test_fail_next_result_downloads(emulator: SyncEmulator, client: httpx.Client) -> None:
    batch_id = post_file(client, jsonl(lines(20))).json()["id"]
    emulator.clock.advance(1000)
    output_url = client.get(f"/v2/batch/{batch_id}").json()["outputUrl"]
    emulator.faults.fail_next_result_downloads(1, status=503)
    assert httpx.get(output_url, follow_redirects=True).status_code == 503
    assert httpx.get(output_url, follow_redirects=True).status_code == 200


def test_seeded_random_faults_are_reproducible() -> None:
    def pattern(seed: int) -> list[bool]:
        plan = FaultPlan(seed=seed)
        plan.create_error_rate = 0.5
        return [plan.take_create_fault(created=False) is not None for _ in range(40)]

    assert pattern(3) == pattern(3)
    assert pattern(3) != pattern(4)
    assert 5 < sum(pattern(3)) < 35


def test_random_create_errors_over_http() -> None:
    with SyncEmulator(api_key=API_KEY, webhook_secret=None, time_scale=0, seed=1) as emu:
        emu.faults.create_error_rate = 1.0
        with httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}) as http:
            assert post_file(http, jsonl(lines(20))).status_code == 500
        emu.faults.clear()
        with httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}) as http:
            assert post_file(http, jsonl(lines(20))).status_code == 201


def test_clear_disarms_everything(emulator: SyncEmulator, client: httpx.Client) -> None:
    faults = emulator.faults
    faults.fail_next_creates(3)
    faults.fail_next_gets(2)
    faults.rate_limit_next(4)
    faults.fail_next_result_downloads(1)
    faults.drop_webhooks = True
    assert faults.pending == {"creates": 3, "gets": 2, "result_downloads": 1, "rate_limited": 4}
    faults.clear()
    assert faults.pending == {"creates": 0, "gets": 0, "result_downloads": 0, "rate_limited": 0}
    assert not faults.drop_webhooks
    assert post_file(client, jsonl(lines(20))).status_code == 201
