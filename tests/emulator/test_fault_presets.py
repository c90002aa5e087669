"""The ``everything`` preset, knob checks, injected-fault counts and a short soak over HTTP."""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

import httpx
import pytest

from syncdrop_local.emulator import (
    FAULT_KINDS,
    FaultKnobs,
    FaultPlan,
    SyncEmulator,
    cli,
    everything_knobs,
)

from .helpers import API_KEY, SECRET, WebhookReceiver, create_batch, jsonl, lines, post_file

SWITCHES = {"drop_webhooks", "duplicate_webhooks", "corrupt_webhook_signatures"}
SWITCHES |= {"expire_result_links", "reorder_webhooks", "invalid_result_files"}
SWITCHES |= {"generate_lose_first_answer"}
# Faults that hit every fetch of what they pick: a small share, so most of a run still works.
PERMANENT = {"invalid_result_file_rate", "media_refused_rate", "media_reset_rate"}
PERMANENT |= {"media_truncated_rate"}


def test_everything_turns_every_random_knob_on_moderately() -> None:
    plan = FaultPlan.everything(seed=4)
    assert plan.seed == 4
    knobs = plan.knobs()
    assert set(knobs) == set(FaultKnobs().knobs())
    for name, value in knobs.items():
        if name in SWITCHES:
            assert value is (name == "reorder_webhooks"), name
        elif name in PERMANENT:
            assert value == 0.02, name
        elif name.endswith("_rate"):
            assert 0.05 <= value <= 0.1, name
        elif name.endswith("_rows"):
            assert value == frozenset(), name
        elif name == "media_refused_status":
            assert value == 403
        elif name == "media_fault_fetches":
            assert value == 0  # every fetch of a picked row
        else:
            assert 0 < value <= 2.0, name
    doubled = everything_knobs(intensity=2)
    assert doubled["get_error_rate"] == pytest.approx(0.1)
    assert doubled["get_slow_seconds"] == knobs["get_slow_seconds"]
    assert everything_knobs(intensity=100)["premature_webhook_rate"] == 1.0
    off = everything_knobs(intensity=0)
    assert {value for name, value in off.items() if name.endswith("_rate")} == {0.0}
    assert off["reorder_webhooks"] is False
    plan.clear()
    assert plan.knobs() == FaultKnobs().knobs()


def test_configure_checks_names_types_and_ranges() -> None:
    plan = FaultPlan()
    assert plan.configure(get_slow_rate=1, get_slow_seconds=0.5) is plan
    assert plan.get_slow_rate == 1.0
    for bad in (
        {"no_such_knob": 1.0},
        {"get_error_rate": 1.5},
        {"webhook_delay_seconds": -1},
        {"reorder_webhooks": 1},
        {"get_error_rate": True},
        {"get_error_rate": "high"},
        {"media_refused_status": 200},
        {"media_refused_status": 403.5},
        {"media_fault_fetches": -1},
        {"media_reset_rows": 3},
        {"media_reset_rows": ["row-1", 2]},
    ):
        with pytest.raises(ValueError, match=r"knob|between|>=|bool|number|status|request ids"):
            plan.configure(**bad)
    plan.configure(media_refused_rows="row-1, row-9,", media_reset_rows=["row-2"])
    assert plan.media_refused_rows == frozenset({"row-1", "row-9"})
    assert plan.media_reset_rows == frozenset({"row-2"})
    assert plan.configure(media_refused_status=404.0).media_refused_status == 404
    with pytest.raises(ValueError, match="intensity"):
        everything_knobs(-1)


def test_counts_stay_zero_when_nothing_is_armed(receiver: WebhookReceiver) -> None:
    with (
        SyncEmulator(
            api_key=API_KEY, webhook_secret=SECRET, time_scale=0, pending_seconds=10
        ) as emu,
        httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}) as http,
    ):
        batch_id = create_batch(http, webhook_url=receiver.url)
        emu.advance(12)
        http.get("/v2/batch")
        emu.advance(1000)
        output_url = http.get(f"/v2/batch/{batch_id}").json()["outputUrl"]
        assert httpx.get(output_url, follow_redirects=True).status_code == 200
        assert len(receiver.received) == 1
        assert emu.faults.counts() == dict.fromkeys(FAULT_KINDS, 0)
        assert emu.faults.injected == {}
        assert emu.faults_injected == emu.faults.counts()
        assert emu.served_result_faults(batch_id) == {}
        with pytest.raises(KeyError):
            emu.served_result_faults("batch_nope")


def test_queued_faults_are_counted_and_clear_records_resets_counts() -> None:
    plan = FaultPlan()
    plan.fail_next_creates(2)
    plan.hang_next_creates(1, seconds=0.0, after_create=False)
    plan.fail_next_gets(1)
    plan.fail_next_result_downloads(1)
    plan.rate_limit_next(1)
    while plan.take_create_fault(created=False) is not None:
        pass
    plan.take_get_fault()
    plan.take_download_fault()
    plan.take_rate_limit()
    assert plan.injected == {
        "create_error": 2,
        "create_hang": 1,
        "get_error": 1,
        "result_error": 1,
        "rate_limited": 1,
    }
    plan.clear()  # disarms, but the record of what happened stays
    assert sum(plan.counts().values()) == 6
    with SyncEmulator(api_key=API_KEY, webhook_secret=None, time_scale=0) as emu:
        emu.faults.rate_limit_next(1)
        assert httpx.get(emu.url + "/v2/batch", headers={"x-api-key": API_KEY}).status_code == 429
        assert emu.faults.injected == {"rate_limited": 1}
        emu.clear_records()
        assert emu.faults.injected == {}


def _retry(send: Any, ok: int = 200, attempts: int = 60) -> httpx.Response:
    for _ in range(attempts):
        try:
            response: httpx.Response = send()
        except httpx.TimeoutException:
            continue
        if response.status_code == ok:
            return response
    raise AssertionError("no success after retries")


def test_short_soak_with_everything_finishes(receiver: WebhookReceiver) -> None:
    plan = FaultPlan.everything(seed=21, intensity=3)
    plan.configure(**{name: 0.05 for name in plan.knobs() if name.endswith("_seconds")})
    with (
        SyncEmulator(
            api_key=API_KEY,
            webhook_secret=SECRET,
            time_scale=0,
            pending_seconds=10,
            processing_seconds_per_line=1,
            batch_concurrency=50,
            faults=plan,
        ) as emu,
        httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}) as http,
        httpx.Client(follow_redirects=True) as downloads,
    ):
        assert emu.faults is plan
        ids = [
            _retry(lambda: post_file(http, jsonl(lines(20)), webhook_url=receiver.url), 201).json()[
                "id"
            ]
            for _ in range(8)
        ]
        emu.advance(12)
        emu.advance(1000)
        for batch_id in ids:
            body = _retry(lambda batch_id=batch_id: http.get(f"/v2/batch/{batch_id}")).json()
            assert body["status"] in ("COMPLETED", "FAILED")
            text = _retry(
                lambda batch_id=batch_id: downloads.get(
                    _retry(lambda: http.get(f"/v2/batch/{batch_id}")).json()["outputUrl"]
                )
            ).text
            parsed = set()
            for row in text.splitlines():
                with contextlib.suppress(ValueError):
                    parsed.add(json.loads(row)["request_id"])
            faulty = set(emu.served_result_faults(batch_id))
            assert parsed | faulty == {f"request-{n}" for n in range(1, 21)}
            assert not parsed & faulty
        assert emu.wait_until(lambda: emu.held_webhooks == 0, timeout=3)
        injected = emu.faults.injected
        assert len(injected) >= 10, injected
        assert set(injected) <= set(FAULT_KINDS)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_cli_fault_options() -> None:
    args = _parse(
        "--api-key",
        "k",
        "--faults-everything",
        "--fault-intensity",
        "0.5",
        "--fault",
        "get_slow_seconds=0.5",
        "--fault",
        "reorder-webhooks=false",
        "--fault",
        "media_refused_rows=row-3,row-7",
        "--fault",
        "media_refused_status=500",
    )
    faults = cli.build(args).faults
    assert faults.get_error_rate == pytest.approx(0.025)
    assert faults.get_slow_seconds == 0.5
    assert faults.reorder_webhooks is False
    assert faults.media_refused_rows == frozenset({"row-3", "row-7"})
    assert faults.media_refused_status == 500
    assert faults.media_reset_rate == pytest.approx(0.01)
    assert cli.build(_parse("--api-key", "k")).faults.knobs() == FaultKnobs().knobs()
    bad_values = ("nope=1", "get_error_rate=2", "drop_webhooks=maybe", "get_error_rate")
    for bad in (*bad_values, "media_refused_status=forbidden", "media_fault_fetches=1.5"):
        with pytest.raises(SystemExit):
            _parse("--api-key", "k", "--fault", bad)


def test_demo_takes_the_same_fault_options_as_the_emulator() -> None:
    from syncdrop_local import demo

    fault_args = ["--faults-everything", "--fault-intensity", "2", "--fault"]
    fault_args += ["media_refused_rate=0.1", "--fault", "media_truncated_rows=row-4"]
    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    from_demo = cli.apply_faults(FaultPlan(), parser.parse_args(["--rows", "40", *fault_args]))
    from_emulator = cli.build(_parse("--api-key", "k", *fault_args)).faults
    assert from_demo.knobs() == from_emulator.knobs()
    assert from_demo.media_refused_rate == 0.1
    assert from_demo.get_error_rate == pytest.approx(0.1)
    assert from_demo.media_truncated_rows == frozenset({"row-4"})
    with pytest.raises(SystemExit):
        parser.parse_args(["--fault", "media_refused_rate=2"])
