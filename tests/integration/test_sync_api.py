"""syncdrop's Sync client against the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
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
    SyncUnavailable,
)
from syncdrop.sync_models import Batch, BatchStatus, Validated
from syncdrop_local.emulator import SyncEmulator
from tests.support.sync_lines import batch_lines

API_KEY = "sk-test-0123"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.02, connect_timeout=1, read_timeout=1)


@pytest.fixture
def emulator() -> Iterator[SyncEmulator]:
    with SyncEmulator(api_key=API_KEY, webhook_secret="whsec_t", batch_concurrency=2) as emu:
        yield emu


@pytest.fixture
def client(emulator: SyncEmulator) -> Iterator[SyncBatchApi]:
    api = SyncBatchApi(base_url=emulator.url, api_key=lambda: API_KEY, policy=FAST)
    yield api
    api.close()


def test_create_get_and_list(client, emulator):
    created = client.create_batch(
        batch_lines(20), webhook_url="https://hook.example/w?job=j&chunk=1"
    )
    assert isinstance(created, Batch)
    assert created.status is BatchStatus.PENDING
    assert created.webhook_url == "https://hook.example/w?job=j&chunk=1"
    fetched = client.get_batch(created.id)
    assert fetched.id == created.id
    assert fetched.metrics.total_generations == 20
    listed = client.list_batches()
    assert [b.id for b in listed] == [created.id]
    assert emulator.create_counts.accepted == 1


def test_dry_run_creates_nothing(client, emulator):
    answer = client.create_batch(batch_lines(20), webhook_url=None, dry_run=True)
    assert isinstance(answer, Validated)
    assert answer.status == "VALIDATED"
    assert emulator.batches == []


def test_400_carries_syncs_message(client):
    with pytest.raises(SyncRejected) as err:
        client.create_batch(batch_lines(19), webhook_url=None)
    assert err.value.status == 400
    assert "20" in err.value.message


def test_concurrency_429_is_back_pressure(client):
    client.create_batch(batch_lines(20, prefix="a"), webhook_url=None)
    client.create_batch(batch_lines(20, prefix="b"), webhook_url=None)
    with pytest.raises(SyncBackPressure) as err:
        client.create_batch(batch_lines(20, prefix="c"), webhook_url=None)
    assert err.value.error_code == "concurrency_limit_reached"


def test_rate_limit_429_is_transient(client, emulator):
    emulator.faults.rate_limit_next(1)
    with pytest.raises(SyncRateLimited):
        client.create_batch(batch_lines(20), webhook_url=None)
    assert emulator.batches == []


def test_402_says_the_plan_lacks_batch_access(emulator):
    with SyncEmulator(api_key=API_KEY, webhook_secret=None, batch_access=False) as no_batch:
        api = SyncBatchApi(base_url=no_batch.url, api_key=lambda: API_KEY, policy=FAST)
        with pytest.raises(SyncRejected) as err:
            api.create_batch(batch_lines(20), webhook_url=None)
        assert err.value.status == 402
        assert "Batch API" in err.value.message


def test_wrong_key_is_an_auth_error(emulator):
    api = SyncBatchApi(base_url=emulator.url, api_key=lambda: "wrong", policy=FAST)
    with pytest.raises(SyncAuthError):
        api.get_batch("batch_x")


def test_unknown_batch_is_not_found(client):
    with pytest.raises(SyncNotFound):
        client.get_batch("batch_does_not_exist")


def test_5xx_on_create_is_an_unknown_outcome_and_not_retried(client, emulator):
    emulator.faults.fail_next_creates(1, status=502, after_create=True)
    with pytest.raises(SyncOutcomeUnknown):
        client.create_batch(batch_lines(20), webhook_url=None)
    counts = emulator.create_counts
    assert counts.total == 1  # one POST, no blind retry
    assert counts.accepted == 1  # and the batch exists at Sync


def test_timeout_on_create_is_an_unknown_outcome(client, emulator):
    emulator.faults.hang_next_creates(1, seconds=3, after_create=True)
    with pytest.raises(SyncOutcomeUnknown):
        client.create_batch(batch_lines(20), webhook_url=None)
    assert emulator.create_counts.total == 1


def test_connection_refused_is_not_sent():
    api = SyncBatchApi(base_url="http://127.0.0.1:9", api_key=lambda: API_KEY, policy=FAST)
    with pytest.raises(SyncNotSent):
        api.create_batch(batch_lines(20), webhook_url=None)


def test_gets_retry_5xx_with_backoff(client, emulator):
    created = client.create_batch(batch_lines(20), webhook_url=None)
    emulator.faults.fail_next_gets(2, status=503)
    assert client.get_batch(created.id).id == created.id


def test_gets_give_up_after_the_policy(client, emulator):
    created = client.create_batch(batch_lines(20), webhook_url=None)
    emulator.faults.fail_next_gets(5, status=500)
    with pytest.raises(SyncUnavailable):
        client.get_batch(created.id)


def test_api_key_only_goes_to_the_api_host(emulator):
    seen: list[tuple[str, str | None]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.host, request.headers.get("x-api-key")))
        return httpx.Response(302, headers={"location": "https://elsewhere.example/x"})

    api = SyncBatchApi(
        base_url="https://api.sync.so",
        api_key=lambda: API_KEY,
        transport=httpx.MockTransport(record),
    )
    with pytest.raises(SyncUnavailable):
        api.get_batch("batch_1")  # a redirect is not followed, so the key never leaves
    assert {host for host, _ in seen} == {"api.sync.so"}
