"""The batch concurrency cap, GET /v2/batch/{id} and the list endpoint's filters and order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.emulator.errors import CONCURRENCY_LIMIT_MESSAGE

from .helpers import jsonl, lines, post_file, post_rows


def test_concurrency_cap_is_429_and_a_finished_batch_frees_capacity(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    ids = [post_file(client, jsonl(lines(20))).json()["id"] for _ in range(3)]
    refused = post_file(client, jsonl(lines(20)))
    assert refused.status_code == 429
    assert refused.json() == {
        "statusCode": 429,
        "errorCode": "concurrency_limit_reached",
        "message": CONCURRENCY_LIMIT_MESSAGE,
    }
    assert post_rows(client, lines(20)).status_code == 429
    # A dry run does not count against (or check) the cap.
    assert post_file(client, jsonl(lines(20)), dry_run=True).status_code == 200
    assert emulator.open_batches == 3

    emulator.clock.advance(30)  # 10 s pending + 20 lines x 1 s: all three complete
    assert {client.get(f"/v2/batch/{i}").json()["status"] for i in ids} == {"COMPLETED"}
    assert emulator.open_batches == 0
    assert post_file(client, jsonl(lines(20))).status_code == 201

    counts = emulator.create_counts
    assert (counts.total, counts.accepted, counts.dry_run) == (7, 4, 1)
    assert counts.rejected == {429: 2}
    assert emulator.max_concurrent_open == 3


def test_failed_batch_also_frees_capacity(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.settings.batch_concurrency = 1
    records = lines(20)
    records[0]["payload"]["input"][0]["url"] = "https://x.example/sync-batch-fail.mp4"
    post_file(client, jsonl(records))
    assert post_file(client, jsonl(lines(20))).status_code == 429
    emulator.clock.advance(11)
    assert post_file(client, jsonl(lines(20))).status_code == 201
    assert emulator.max_concurrent_open == 1


def test_get_unknown_batch_is_404(client: httpx.Client) -> None:
    response = client.get("/v2/batch/batch_does_not_exist")
    assert response.status_code == 404
    assert response.json() == {"statusCode": 404, "message": "Batch not found"}


def test_list_is_a_bare_array_newest_first(emulator: SyncEmulator, client: httpx.Client) -> None:
    assert client.get("/v2/batch").json() == []
    ids = []
    for _ in range(3):
        ids.append(post_file(client, jsonl(lines(20))).json()["id"])
        emulator.clock.advance(1)
    listed = client.get("/v2/batch").json()
    assert [item["id"] for item in listed] == ids[::-1]
    assert set(listed[0]) == {"id", "created_at", "status", "metrics", "outputUrl", "webhookUrl"}


def test_list_filters(emulator: SyncEmulator, client: httpx.Client) -> None:
    emulator.settings.batch_concurrency = 10
    first = post_file(client, jsonl(lines(20))).json()
    emulator.clock.advance(100)  # first is COMPLETED
    second = post_file(client, jsonl(lines(20))).json()
    emulator.clock.advance(100)
    third = post_file(client, jsonl(lines(20))).json()  # PENDING

    def ids(**params: str) -> list[str]:
        response = client.get("/v2/batch", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()]

    assert ids(status="COMPLETED") == [second["id"], first["id"]]
    assert ids(status="PENDING") == [third["id"]]
    assert ids(status="FAILED") == []
    assert ids(created_after=second["created_at"]) == [third["id"], second["id"]]
    assert ids(created_before=second["created_at"]) == [second["id"], first["id"]]
    created = datetime.fromisoformat(second["created_at"])
    assert ids(
        created_after=(created - timedelta(seconds=1)).isoformat(),
        created_before=(created + timedelta(seconds=1)).astimezone(UTC).isoformat(),
    ) == [second["id"]]
    assert ids(created_after=(created + timedelta(days=1)).isoformat()) == []


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"status": "DONE"}, "status must be one of"),
        ({"status": "completed"}, "status must be one of"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_before": "2024-13-45T00:00:00Z"}, "created_before"),
    ],
)
def test_list_rejects_bad_filters(
    client: httpx.Client, params: dict[str, str], fragment: str
) -> None:
    response = client.get("/v2/batch", params=params)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400
    assert fragment in response.json()["message"]
