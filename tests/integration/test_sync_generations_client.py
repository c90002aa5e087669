"""syncdrop's Generate API calls against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from syncdrop.adapters.policy import RetryPolicy
from syncdrop.adapters.sync_api import SyncBatchApi
from syncdrop.errors import (
    SyncAuthError,
    SyncBackPressure,
    SyncNotFound,
    SyncNotSent,
    SyncOutcomeUnknown,
    SyncRateLimited,
    SyncRejected,
)
from syncdrop.sync_models import Generation, GenerationStatus
from syncdrop_local.emulator import FaultPlan, SyncEmulator

API_KEY = "sk-test-0123"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, connect_timeout=1, read_timeout=1)
HOOK = "https://hooks.example/sync/webhook?job=job-1&chunk=4"


def payload(**extra: Any) -> dict[str, Any]:
    return {
        "model": "lipsync-2",
        "input": [
            {"type": "video", "url": "https://cdn.example.com/v.mp4"},
            {"type": "audio", "url": "https://cdn.example.com/a.wav"},
        ],
        "webhookUrl": HOOK,
        **extra,
    }


def seeded_plan(wanted: Callable[[FaultPlan], bool], **knobs: Any) -> FaultPlan:
    """A fault plan whose seed makes its first draws go the way ``wanted`` checks."""
    for seed in range(200):
        if wanted(FaultPlan(seed=seed).configure(**knobs)):
            return FaultPlan(seed=seed).configure(**knobs)
    raise AssertionError("no seed found")


def started(**options: Any) -> SyncEmulator:
    return SyncEmulator(api_key=API_KEY, webhook_secret="whsec_t", time_scale=0, **options).start()


@pytest.fixture
def emulator() -> Iterator[SyncEmulator]:
    emu = started()
    yield emu
    emu.stop()


def client_for(emu: SyncEmulator, key: str = API_KEY) -> SyncBatchApi:
    return SyncBatchApi(base_url=emu.url, api_key=lambda: key, policy=FAST)


@pytest.fixture
def client(emulator: SyncEmulator) -> Iterator[SyncBatchApi]:
    api = client_for(emulator)
    yield api
    api.close()


def posts(emu: SyncEmulator) -> int:
    return emu.request_summary().get("POST /v2/generate", 0)


def test_create_get_and_list(client: SyncBatchApi, emulator: SyncEmulator) -> None:
    created = client.create_generation(payload(), idempotency_key="job-1.row-4")
    assert isinstance(created, Generation)
    assert created.status is GenerationStatus.PENDING
    assert created.webhook_url == HOOK
    assert created.model == "lipsync-2"
    assert created.created_at is not None
    assert client.get_generation(created.id) == created
    others = [client.create_generation(payload(), idempotency_key=f"k{n}") for n in range(2)]
    ids = [created.id] + [f"unknown-{n}" for n in range(110)] + [item.id for item in others]
    listed = client.list_generations(ids)
    assert [item.id for item in listed] == [created.id] + [item.id for item in others]
    assert emulator.request_summary()["GET /v2/generations"] == 3  # 113 ids, 50 a request
    assert client.list_generations([]) == []
    emulator.advance(1000)
    done = client.get_generation(created.id)
    assert done.status is GenerationStatus.COMPLETED
    assert done.status.is_terminal
    assert done.output_url == f"{emulator.public_url}/media/{created.id}.mp4"
    assert done.output_duration is not None
    assert done.output_duration > 0


def test_a_lost_first_answer_still_makes_one_generation(
    client: SyncBatchApi, emulator: SyncEmulator
) -> None:
    emulator.faults.configure(generate_lose_first_answer=True)
    created = client.create_generation(payload(), idempotency_key="row-1")
    (only,) = emulator.generations()
    assert created.id == only.id
    assert only.idempotency_key == "row-1"
    assert posts(emulator) == 2
    assert emulator.generate_counts().replays == 1


def test_unknown_outcomes_are_resolved_with_the_same_key(
    client: SyncBatchApi, emulator: SyncEmulator
) -> None:
    emulator.faults.configure(idempotency_unknown_rate=1.0)
    made = [client.create_generation(payload(), idempotency_key=f"row-{n}") for n in range(10)]
    assert len({item.id for item in made}) == 10
    assert {item.id for item in made} == {item.id for item in emulator.generations()}
    assert emulator.faults_injected["idempotency_unknown"] == 10
    summary = emulator.request_summary()
    looked_up = summary.get("GET /v2/generate/{id}", 0)
    reposted = summary["POST /v2/generate"] - 10
    # A named generation is looked up; an unnamed one is posted again with its key.
    assert looked_up > 0
    assert reposted > 0
    assert looked_up + reposted == 10


def test_an_unknown_outcome_names_the_generation_when_retries_run_out() -> None:
    plan = seeded_plan(
        lambda p: p.take_unknown_outcome() == (True, True), idempotency_unknown_rate=1.0
    )
    emu = started(faults=plan)
    api = client_for(emu)
    try:
        emu.faults.fail_next_gets(10, status=500)
        with pytest.raises(SyncOutcomeUnknown) as err:
            api.create_generation(payload(), idempotency_key="row-9")
        (only,) = emu.generations()
        assert err.value.generation_id == only.id
        assert posts(emu) == 1  # Sync named it: looked up, never posted again
    finally:
        api.close()
        emu.stop()


def test_5xx_before_creating_is_retried_then_unknown(
    client: SyncBatchApi, emulator: SyncEmulator
) -> None:
    emulator.faults.configure(generate_5xx_rate=1.0)
    with pytest.raises(SyncOutcomeUnknown) as err:
        client.create_generation(payload(), idempotency_key="row-2")
    assert err.value.generation_id is None
    assert posts(emulator) == FAST.attempts
    assert emulator.generations() == []


def test_a_slow_answer_times_out_and_the_retry_finds_the_same_generation() -> None:
    def first_slow_then_not(plan: FaultPlan) -> bool:
        return plan.take_slow("generate") > 0 and plan.take_slow("generate") == 0

    plan = seeded_plan(first_slow_then_not, generate_slow_rate=0.5, generate_slow_seconds=2.0)
    emu = started(faults=plan)
    api = client_for(emu)
    try:
        created = api.create_generation(payload(), idempotency_key="row-3")
        (only,) = emu.generations()
        assert created.id == only.id
        # Counted on arrival: the first request's record waits for its late answer.
        counts = emu.generate_counts()
        assert (counts.received, counts.created, counts.replays) == (2, 1, 1)
        assert emu.faults_injected["slow_generate"] == 1
    finally:
        api.close()
        emu.stop()


def test_concurrency_429_is_back_pressure_without_retry() -> None:
    emu = started(plan="hobbyist")
    api = client_for(emu)
    try:
        api.create_generation(payload(), idempotency_key="a")
        with pytest.raises(SyncBackPressure) as err:
            api.create_generation(payload(), idempotency_key="b")
        assert err.value.error_code == "concurrency_limit_reached"
        assert posts(emu) == 2
    finally:
        api.close()
        emu.stop()


def test_rate_429_is_rate_limited_without_retry() -> None:
    emu = started(generate_rate_limit=1)
    api = client_for(emu)
    try:
        api.create_generation(payload(), idempotency_key="a")
        with pytest.raises(SyncRateLimited) as err:
            api.create_generation(payload(), idempotency_key="b")
        assert err.value.error_code == "rate_limit_exceeded"
        assert posts(emu) == 2
        assert len(emu.generations()) == 1
    finally:
        api.close()
        emu.stop()


def test_4xx_is_rejected_without_retry(client: SyncBatchApi, emulator: SyncEmulator) -> None:
    with pytest.raises(SyncRejected) as bad:
        client.create_generation(payload(model="lipsync-9"), idempotency_key="row-5")
    assert bad.value.status == 400
    assert "lipsync-9" in bad.value.message
    client.create_generation(payload(), idempotency_key="row-6")
    with pytest.raises(SyncRejected) as reused:
        client.create_generation(payload(model="sync-3"), idempotency_key="row-6")
    assert reused.value.status == 422
    assert posts(emulator) == 3
    wrong = client_for(emulator, key="wrong")
    with pytest.raises(SyncAuthError):
        wrong.create_generation(payload(), idempotency_key="row-7")
    wrong.close()
    with pytest.raises(SyncNotFound):
        client.get_generation("no-such-generation")


def test_an_unreachable_sync_is_not_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = SyncBatchApi(base_url=f"http://127.0.0.1:{port}", api_key=lambda: API_KEY, policy=FAST)
    try:
        with pytest.raises(SyncNotSent):
            api.create_generation(payload(), idempotency_key="row-8")
    finally:
        api.close()
