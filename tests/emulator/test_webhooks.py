"""Signed webhook delivery to a local receiver, and the webhook fault switches."""

from __future__ import annotations

import json
import time

import httpx

from syncdrop_local.emulator import SyncEmulator, verify_signature_header

from .helpers import API_KEY, SECRET, WebhookReceiver, jsonl, lines, post_file


def finish(emulator: SyncEmulator) -> None:
    emulator.clock.advance(1000)
    emulator.tick()


def test_webhook_is_signed_and_carries_the_batch_response(
    emulator: SyncEmulator, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    batch_id = post_file(client, jsonl(lines(20)), webhook_url=receiver.url).json()["id"]
    emulator.clock.advance(15)
    emulator.tick()
    assert receiver.received == []  # still processing
    finish(emulator)

    (hook,) = receiver.received
    assert hook.path == "/hooks/sync"
    assert hook.headers["content-type"] == "application/json"
    assert verify_signature_header(hook.headers["sync-signature"], hook.body, SECRET)
    timestamp = int(hook.headers["sync-signature"].split(",")[0].removeprefix("t="))
    assert abs(time.time() - timestamp) < 60  # real time, not emulated time
    payload = hook.json()
    assert hook.body == json.dumps(payload, separators=(",", ":")).encode()
    assert payload == client.get(f"/v2/batch/{batch_id}").json()
    assert payload["status"] == "COMPLETED"
    assert payload["outputUrl"].endswith(f"/v2/batches/{batch_id}/result")

    (delivery,) = emulator.webhook_deliveries
    assert delivery.batch_id == batch_id
    assert delivery.url == receiver.url
    assert delivery.status_code == 200
    assert delivery.body == hook.body
    assert delivery.headers["Sync-Signature"] == hook.headers["sync-signature"]
    assert emulator.batch(batch_id).webhook_sent

    finish(emulator)
    assert len(receiver.received) == 1  # one notification per batch, never repeated


def test_failed_batch_notifies_and_answer_status_is_recorded(
    emulator: SyncEmulator, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    receiver.status = 500
    records = lines(20)
    records[0]["payload"]["input"][0]["url"] = "https://x.example/v.mp4?sync-batch-fail"
    post_file(client, jsonl(records), webhook_url=receiver.url)
    finish(emulator)
    assert receiver.received[0].json()["status"] == "FAILED"
    assert [d.status_code for d in emulator.webhook_deliveries] == [500]  # no retry


def test_unreachable_receiver_is_recorded_without_retry(
    emulator: SyncEmulator, client: httpx.Client
) -> None:
    post_file(client, jsonl(lines(20)), webhook_url="http://127.0.0.1:9/hook")
    finish(emulator)
    (delivery,) = emulator.webhook_deliveries
    assert delivery.status_code is None
    assert delivery.error


def test_background_ticker_delivers_without_explicit_tick(
    emulator: SyncEmulator, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    post_file(client, jsonl(lines(20)), webhook_url=receiver.url)
    emulator.clock.advance(1000)
    assert emulator.wait_until(lambda: len(receiver.received) == 1, timeout=5)


def test_header_name_is_configurable_and_no_secret_means_unsigned(
    receiver: WebhookReceiver,
) -> None:
    with (
        SyncEmulator(
            api_key=API_KEY,
            webhook_secret="whsec_other",
            signature_header="X-Signature-Primary",
            time_scale=0,
        ) as emu,
        httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}) as http,
    ):
        post_file(http, jsonl(lines(20)), webhook_url=receiver.url)
        finish(emu)
        emu.settings.webhook_secret = None
        post_file(http, jsonl(lines(20)), webhook_url=receiver.url)
        finish(emu)
    signed, unsigned = receiver.received
    assert "sync-signature" not in signed.headers
    assert verify_signature_header(
        signed.headers["x-signature-primary"], signed.body, "whsec_other"
    )
    assert "x-signature-primary" not in unsigned.headers
    assert "sync-signature" not in unsigned.headers


def test_drop_duplicate_and_corrupt_faults(
    emulator: SyncEmulator, client: httpx.Client, receiver: WebhookReceiver
) -> None:
    emulator.faults.drop_webhooks = True
    dropped = post_file(client, jsonl(lines(20)), webhook_url=receiver.url).json()["id"]
    finish(emulator)
    assert receiver.received == []
    assert emulator.dropped_webhooks == [dropped]
    assert emulator.webhook_deliveries == []

    emulator.faults.drop_webhooks = False
    emulator.faults.duplicate_webhooks = True
    post_file(client, jsonl(lines(20)), webhook_url=receiver.url)
    finish(emulator)
    first, second = receiver.received
    assert first.body == second.body
    assert first.headers["sync-signature"] == second.headers["sync-signature"]
    assert [d.duplicate for d in emulator.webhook_deliveries] == [False, True]

    emulator.faults.duplicate_webhooks = False
    emulator.faults.corrupt_webhook_signatures = True
    post_file(client, jsonl(lines(20)), webhook_url=receiver.url)
    finish(emulator)
    corrupt = receiver.received[-1]
    assert not verify_signature_header(corrupt.headers["sync-signature"], corrupt.body, SECRET)
