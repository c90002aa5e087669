"""Webhook faults over HTTP: held-back, reordered, premature, duplicated, dropped, corrupted."""

from __future__ import annotations

import time

import pytest

from syncdrop_local.emulator import FaultPlan, verify_signature_header

from .helpers import SECRET, WebhookReceiver, create_batch, running


def signed_at(headers: dict[str, str]) -> int:
    return int(headers["sync-signature"].split(",")[0].removeprefix("t="))


def test_delayed_webhook_is_held_in_real_seconds_and_signed_when_sent(
    receiver: WebhookReceiver,
) -> None:
    with running() as (emu, http):
        emu.faults.webhook_delay_seconds = 0.3
        batch_id = create_batch(http, webhook_url=receiver.url)
        finished = time.time()
        emu.advance(1000)
        assert receiver.received == []
        assert emu.held_webhooks == 1
        # The emulator records a delivery after the receiver has answered: wait for both.
        assert emu.wait_until(
            lambda: len(receiver.received) == 1 and len(emu.webhook_deliveries) == 1, timeout=3
        )
        assert time.time() - finished >= 0.3
        (hook,) = receiver.received
        assert verify_signature_header(hook.headers["sync-signature"], hook.body, SECRET)
        assert signed_at(hook.headers) >= int(finished + 0.3)  # the real send time
        assert hook.json()["id"] == batch_id
        assert hook.json()["status"] == "COMPLETED"
        (delivery,) = emu.webhook_deliveries
        assert delivery.held_seconds == 0.3
        assert emu.held_webhooks == 0
        assert emu.faults.injected == {"webhook_delayed": 1}


def test_delay_rate_holds_back_a_seeded_fraction(receiver: WebhookReceiver) -> None:
    def held(seed: int) -> list[int]:
        with running(seed) as (emu, http):
            emu.faults.configure(webhook_delay_seconds=60.0, webhook_delay_rate=0.5)
            ids = [create_batch(http, webhook_url=receiver.url) for _ in range(8)]
            emu.advance(1000)
            sent = {delivery.batch_id for delivery in emu.webhook_deliveries}
            assert emu.held_webhooks == len(ids) - len(sent)
            assert emu.faults.counts()["webhook_delayed"] == emu.held_webhooks
            return [index for index, batch_id in enumerate(ids) if batch_id not in sent]

    first = held(5)
    assert first == held(5)
    assert 0 < len(first) < 8


def test_reorder_shuffles_deliveries_due_in_the_same_tick(receiver: WebhookReceiver) -> None:
    def order(*, reorder: bool, seed: int = 3) -> list[int]:
        receiver.received.clear()
        with running(seed) as (emu, http):
            emu.faults.reorder_webhooks = reorder
            for n in range(6):
                create_batch(http, webhook_url=f"{receiver.url}?n={n}")
            emu.advance(1000)  # all six become due together
            assert len(receiver.received) == 6
            moved = emu.faults.counts()["webhook_reordered"]
        sent = [int(hook.path.rsplit("=", 1)[1]) for hook in receiver.received]
        assert (moved > 0) == (sent != sorted(sent))
        return sent

    assert order(reorder=False) == [0, 1, 2, 3, 4, 5]
    shuffled = order(reorder=True)
    assert shuffled != [0, 1, 2, 3, 4, 5]
    assert sorted(shuffled) == [0, 1, 2, 3, 4, 5]
    assert order(reorder=True) == shuffled


def test_premature_webhook_claims_completed_while_processing(receiver: WebhookReceiver) -> None:
    with running() as (emu, http):
        emu.faults.premature_webhook_rate = 1.0
        batch_id = create_batch(http, webhook_url=receiver.url)
        emu.advance(12.5)  # 10 s pending, then 1 s per line: two lines done
        (early,) = receiver.received
        assert verify_signature_header(early.headers["sync-signature"], early.body, SECRET)
        payload = early.json()
        assert payload["id"] == batch_id
        assert payload["status"] == "COMPLETED"
        assert payload["outputUrl"] == ""
        assert payload["metrics"] == {
            "total_generations": 20,
            "success_count": 2,
            "failed_count": 0,
            "pending_count": 18,
        }
        assert http.get(f"/v2/batch/{batch_id}").json()["status"] == "PROCESSING"
        assert [d.premature for d in emu.webhook_deliveries] == [True]

        emu.advance(5)
        assert len(receiver.received) == 1  # one premature notification per batch
        emu.advance(1000)
        final = receiver.received[-1].json()
        assert final["status"] == "COMPLETED"
        assert final["outputUrl"].endswith(f"/v2/batches/{batch_id}/result")
        assert final["metrics"]["pending_count"] == 0
        assert [d.premature for d in emu.webhook_deliveries] == [True, False]

        # A batch never seen PROCESSING by a tick gets no premature notification.
        create_batch(http, webhook_url=receiver.url)
        emu.advance(1000)
        assert len(receiver.received) == 3
        assert emu.faults.injected == {"premature_webhook": 1}


@pytest.mark.parametrize(
    ("knob", "kind"),
    [
        ("webhook_drop_rate", "webhook_dropped"),
        ("duplicate_webhook_rate", "webhook_duplicated"),
        ("corrupt_signature_rate", "webhook_signature_corrupted"),
    ],
)
def test_webhook_rates_over_http(knob: str, kind: str, receiver: WebhookReceiver) -> None:
    with running() as (emu, http):
        emu.faults.configure(**{knob: 1.0})
        batch_id = create_batch(http, webhook_url=receiver.url)
        emu.advance(1000)
        assert emu.faults.injected == {kind: 1}
        if kind == "webhook_dropped":
            assert receiver.received == []
            assert emu.dropped_webhooks == [batch_id]
        elif kind == "webhook_duplicated":
            first, second = receiver.received
            assert (first.body, first.headers["sync-signature"]) == (
                second.body,
                second.headers["sync-signature"],
            )
            assert [d.duplicate for d in emu.webhook_deliveries] == [False, True]
        else:
            (hook,) = receiver.received
            assert not verify_signature_header(hook.headers["sync-signature"], hook.body, SECRET)

        emu.faults.configure(**{knob: 0.0})
        receiver.received.clear()
        create_batch(http, webhook_url=receiver.url)
        emu.advance(1000)
        (hook,) = receiver.received
        assert verify_signature_header(hook.headers["sync-signature"], hook.body, SECRET)
        assert emu.faults.counts()[kind] == 1


def test_batch_level_webhook_decisions_are_seeded_by_ordinal() -> None:
    def decisions(seed: int) -> list[object]:
        plan = FaultPlan(seed=seed).configure(
            webhook_drop_rate=0.2,
            duplicate_webhook_rate=0.3,
            corrupt_signature_rate=0.3,
            webhook_delay_seconds=1.0,
            webhook_delay_rate=0.5,
            premature_webhook_rate=0.3,
        )
        # Asked in reverse order: a batch's fate depends on its ordinal, not on timing.
        return [
            (plan.webhook_faults(ordinal), plan.premature_webhook(ordinal))
            for ordinal in range(40, 0, -1)
        ][::-1]

    assert decisions(1) == decisions(1)
    assert decisions(1) != decisions(2)
