"""Sync's cost estimate, POST /v2/analyze/cost, in the emulator and through syncdrop's client."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from syncdrop.adapters.policy import RetryPolicy
from syncdrop.adapters.sync_cost import CostEstimate, SyncCostApi, read_estimate
from syncdrop.errors import SyncAuthError, SyncRejected, SyncUnavailable
from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.emulator.routes import route_key

from .helpers import API_KEY, AUDIO, VIDEO

# Sync's billing page, per second of output at 25 fps (the upper end of each range).
LIPSYNC_2_PER_SECOND = 0.05
SYNC_3_PER_SECOND = 0.133


def body(model: str = "lipsync-2", **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
        **extra,
    }


def test_estimate_is_an_array_of_frames_and_dollars(client: httpx.Client) -> None:
    answer = client.post("/v2/analyze/cost", json=body())
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {"estimatedFrameCount": 25, "estimatedGenerationCost": pytest.approx(LIPSYNC_2_PER_SECOND)}
    ]


def test_price_follows_the_model_and_frames_follow_fps(client: httpx.Client) -> None:
    sync_3 = client.post("/v2/analyze/cost", json=body("sync-3")).json()[0]
    assert sync_3["estimatedGenerationCost"] == pytest.approx(SYNC_3_PER_SECOND)
    at_50 = client.post("/v2/analyze/cost", json=body(options={"fps": 50})).json()[0]
    assert at_50["estimatedFrameCount"] == 50
    # Billed per frame: twice the frames, twice the price.
    assert at_50["estimatedGenerationCost"] == pytest.approx(2 * LIPSYNC_2_PER_SECOND)


def test_needs_the_api_key(emulator: SyncEmulator) -> None:
    answer = httpx.post(f"{emulator.url}/v2/analyze/cost", json=body(), timeout=60)
    assert answer.status_code == 401
    assert answer.json() == {"statusCode": 401, "message": "Unauthorized"}
    wrong = httpx.post(
        f"{emulator.url}/v2/analyze/cost", json=body(), headers={"x-api-key": "nope"}, timeout=60
    )
    assert wrong.status_code == 401


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"input": body()["input"]}, "payload.model is required"),
        (body("lipsync-9"), "is not supported"),
        ({"model": "lipsync-2", "input": [{"type": "video", "url": VIDEO}]}, "audio"),
        (body(options={"fps": 0}), "options.fps"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_refuses_what_generate_refuses(client: httpx.Client, payload: Any, words: str) -> None:
    answer = client.post("/v2/analyze/cost", json=payload)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["statusCode"] == 400
    assert words in error["message"]


def test_refuses_a_body_that_is_not_json(client: httpx.Client) -> None:
    broken = client.post(
        "/v2/analyze/cost", content=b"{", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 400
    assert broken.json()["message"] == "Request body must be valid JSON"
    form = client.post("/v2/analyze/cost", data={"model": "lipsync-2"})
    assert form.status_code == 415


def test_creates_nothing_and_is_counted_by_route(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    for _ in range(3):
        assert client.post("/v2/analyze/cost", json=body()).status_code == 200
    assert client.get("/v2/generations").json() == []
    assert client.get("/v2/analyze/cost").status_code == 404
    routes = [
        route_key(r.method, r.path) for r in emulator.requests if r.path.startswith("/v2/analyze")
    ]
    assert routes == ["POST /v2/analyze/cost"] * 3 + ["GET /v2/analyze/cost"]


def test_client_reads_the_estimate(emulator: SyncEmulator) -> None:
    with SyncCostApi(base_url=emulator.url, api_key=lambda: API_KEY) as sync:
        estimate = sync.estimate(body("sync-3", options={"fps": 30}))
    assert estimate.frames == 30
    assert estimate.usd == pytest.approx(30 * SYNC_3_PER_SECOND / 25)


def test_client_maps_refusals(emulator: SyncEmulator) -> None:
    with (
        SyncCostApi(base_url=emulator.url, api_key=lambda: "wrong-key") as sync,
        pytest.raises(SyncAuthError),
    ):
        sync.estimate(body())
    with (
        SyncCostApi(base_url=emulator.url, api_key=lambda: API_KEY) as sync,
        pytest.raises(SyncRejected) as refused,
    ):
        sync.estimate(body("lipsync-9"))
    assert refused.value.status == 400


def test_client_retries_a_rate_limit_then_answers(emulator: SyncEmulator) -> None:
    emulator.faults.rate_limit_next(2)  # the next two /v2 requests answer 429
    policy = RetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)
    with SyncCostApi(
        base_url=emulator.url, api_key=lambda: API_KEY, policy=policy, sleep=lambda _: None
    ) as sync:
        assert sync.estimate(body()).frames == 25
    posts = [r.status for r in emulator.requests if r.path == "/v2/analyze/cost"]
    assert posts == [429, 429, 200]


def test_read_estimate_sums_the_array_and_refuses_other_shapes() -> None:
    two = [
        {"estimatedFrameCount": 10, "estimatedGenerationCost": 0.02},
        {"estimatedFrameCount": 5.0, "estimatedGenerationCost": 0.01},
    ]
    assert read_estimate(two) == CostEstimate(frames=15.0, usd=pytest.approx(0.03))
    for odd in ([], {}, [{"estimatedFrameCount": 1}], [{"estimatedFrameCount": True, "x": 1}]):
        with pytest.raises(SyncUnavailable):
            read_estimate(odd)
