"""The official Sync SDK (syncsdk 0.3.0) against the emulator: create, get, list and errors."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sync import Sync
from sync.common.errors import (
    BadRequestError,
    InternalServerError,
    NotFoundError,
    PaymentRequiredError,
    TooManyRequestsError,
    UnauthorizedError,
)
from sync.common.types import BatchResponse

from syncdrop_local.emulator import SyncEmulator

from .helpers import API_KEY, WebhookReceiver, jsonl, lines


@pytest.fixture
def sdk(emulator: SyncEmulator) -> Iterator[Sync]:
    http = httpx.Client(timeout=10, follow_redirects=True)
    try:
        yield Sync(base_url=emulator.url, api_key=API_KEY, httpx_client=http)
    finally:
        http.close()


def upload(count: int = 20) -> tuple[str, io.BytesIO, str]:
    return ("input.jsonl", io.BytesIO(jsonl(lines(count))), "application/jsonl")


def test_sdk_create_get_list_and_download(
    sdk: Sync, emulator: SyncEmulator, receiver: WebhookReceiver
) -> None:
    validated = sdk.batch.create(input=upload(), dry_run=True)
    assert validated.status == "VALIDATED"
    assert emulator.batches == []

    created = sdk.batch.create(input=upload(), webhook_url=receiver.url, dry_run=False)
    assert isinstance(created, BatchResponse)
    assert created.id.startswith("batch_")
    assert created.status == "PENDING"
    assert created.metrics.total_generations == 20
    assert created.webhook_url == receiver.url
    assert created.output_url == ""
    assert created.created_at.tzinfo is not None

    emulator.clock.advance(1000)
    emulator.tick()
    fetched = sdk.batch.get(created.id)
    assert fetched.status == "COMPLETED"
    assert fetched.metrics.success_count == 20
    assert fetched.output_url.endswith(f"/v2/batches/{created.id}/result")
    assert len(receiver.received) == 1

    listed = sdk.batch.list(
        status="COMPLETED", created_after=datetime.now(UTC) - timedelta(hours=1)
    )
    assert [batch.id for batch in listed] == [created.id]
    assert sdk.batch.list(status="PENDING") == []

    # The official example downloads outputUrl with a bare GET that follows the redirect.
    result = httpx.get(fetched.output_url, follow_redirects=True)
    assert len(result.text.splitlines()) == 20


def test_sdk_sends_a_file_object_as_the_official_example_does(
    sdk: Sync, tmp_path: Path, emulator: SyncEmulator
) -> None:
    path = tmp_path / "input.jsonl"
    path.write_bytes(jsonl(lines(20)))
    with path.open("rb") as handle:
        created = sdk.batch.create(input=handle)
    assert isinstance(created, BatchResponse)
    assert created.status == "PENDING"
    assert emulator.batches[0].lines[0]["request_id"] == "request-1"


def test_sdk_maps_errors(sdk: Sync, emulator: SyncEmulator) -> None:
    with pytest.raises(BadRequestError) as bad:
        sdk.batch.create(input=upload(19))
    assert "at least 20" in bad.value.body.message

    with pytest.raises(NotFoundError):
        sdk.batch.get("batch_missing")

    emulator.settings.batch_access = False
    with pytest.raises(PaymentRequiredError):
        sdk.batch.create(input=upload())
    emulator.settings.batch_access = True

    emulator.settings.batch_concurrency = 0
    with pytest.raises(TooManyRequestsError) as limited:
        sdk.batch.create(input=upload())
    assert limited.value.body.model_extra["errorCode"] == "concurrency_limit_reached"
    emulator.settings.batch_concurrency = 3

    emulator.faults.fail_next_creates(1)
    with pytest.raises(InternalServerError):
        sdk.batch.create(input=upload())

    wrong = Sync(base_url=emulator.url, api_key="nope")
    with pytest.raises(UnauthorizedError):
        wrong.batch.list()


def test_sdk_generations_create_get_and_list(
    sdk: Sync, emulator: SyncEmulator, receiver: WebhookReceiver
) -> None:
    from sync.common.types import Audio, Generation, Video

    emulator.settings.generation_pending_seconds = 1
    emulator.settings.generation_seconds = 2
    video = Video(url="https://cdn.example.com/v.mp4")
    audio = Audio(url="https://cdn.example.com/a.wav")
    created = sdk.generations.create(
        model="lipsync-2", input=[video, audio], webhook_url=receiver.url
    )
    assert isinstance(created, Generation)
    assert created.status == "PENDING"
    assert created.webhook_url == receiver.url
    assert created.created_at.tzinfo is not None
    assert emulator.generations()[0].id == created.id

    emulator.advance(3)
    fetched = sdk.generations.get(created.id)
    assert fetched.status == "COMPLETED"
    assert fetched.output_url == f"{emulator.public_url}/media/{created.id}.mp4"
    assert fetched.output_duration is not None
    assert receiver.received[0].json()["id"] == created.id

    # The SDK sends a list as repeated parameters (ids=a&ids=b).
    listed = sdk.generations.list(ids=[created.id, "unknown"])
    assert [item.id for item in listed] == [created.id]
    assert [item.id for item in sdk.generations.list(status=["COMPLETED"])] == [created.id]
    assert sdk.generations.list(status=["PENDING"]) == []

    with pytest.raises(NotFoundError):
        sdk.generations.get("no-such-generation")
    with pytest.raises(BadRequestError):
        sdk.generations.create(model="lipsync-2", input=[audio])
