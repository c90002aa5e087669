"""Seeded request-level fault rates over HTTP: random 5xx, 429s and slow answers per endpoint."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from syncdrop_local.emulator import FaultPlan, SyncEmulator
from syncdrop_local.emulator.errors import CONCURRENCY_LIMIT_MESSAGE

from .helpers import API_KEY, create_batch, jsonl, lines, post_file, running

RATE = 0.3
REQUESTS = 30
Action = Callable[[SyncEmulator, httpx.Client], Callable[[], int]]


def creates(emu: SyncEmulator, http: httpx.Client) -> Callable[[], int]:
    data = jsonl(lines(20))
    return lambda: post_file(http, data).status_code


def gets(emu: SyncEmulator, http: httpx.Client) -> Callable[[], int]:
    batch_id = create_batch(http)
    return lambda: http.get(f"/v2/batch/{batch_id}").status_code


def lists(emu: SyncEmulator, http: httpx.Client) -> Callable[[], int]:
    create_batch(http)
    return lambda: http.get("/v2/batch").status_code


def downloads(emu: SyncEmulator, http: httpx.Client) -> Callable[[], int]:
    batch_id = create_batch(http)
    emu.clock.advance(1000)
    output_url = http.get(f"/v2/batch/{batch_id}").json()["outputUrl"]
    location = httpx.get(output_url).headers["location"]
    return lambda: http.get(location).status_code  # the route ignores the key


CASES = [
    ("create_error_rate", creates, 500, "create_error"),
    ("get_error_rate", gets, 500, "get_error"),
    ("list_error_rate", lists, 500, "list_error"),
    ("result_error_rate", downloads, 500, "result_error"),
    ("rate_limit_rate", gets, 429, "rate_limited"),
    ("rate_limit_rate", creates, 429, "rate_limited"),
    ("concurrency_429_rate", creates, 429, "concurrency_limited"),
]


def runs(knob: str, action: Action) -> list[tuple[list[int], dict[str, int]]]:
    """Statuses and counts of three runs on one emulator (seed 7): the knob at ``RATE``, again
    after ``clear()`` (which restarts the seeded streams), then off."""
    results = []
    with running(7) as (emu, http):
        request = action(emu, http)  # set up before any fault is armed
        for rate in (RATE, RATE, 0.0):
            emu.faults.clear()
            emu.faults.reset_counts()
            emu.faults.configure(**{knob: rate})
            statuses = [request() for _ in range(REQUESTS)]
            results.append((statuses, emu.faults.counts()))
    return results


@pytest.mark.parametrize(("knob", "action", "status", "kind"), CASES)
def test_request_rates_are_seeded_counted_and_off_by_default(
    knob: str, action: Action, status: int, kind: str
) -> None:
    (first, counts), (again, _), (off, off_counts) = runs(knob, action)
    assert first == again
    hits = first.count(status)
    assert 2 <= hits <= 20
    assert set(first) == {status, 201 if action is creates else 200}
    assert counts[kind] == hits
    assert sum(counts.values()) == hits
    assert status not in off
    assert sum(off_counts.values()) == 0


def test_request_streams_depend_on_the_seed_only() -> None:
    def draws(seed: int) -> list[object]:
        plan = FaultPlan(seed=seed).configure(
            create_error_rate=RATE,
            get_error_rate=RATE,
            list_error_rate=RATE,
            result_error_rate=RATE,
            rate_limit_rate=RATE,
            concurrency_429_rate=RATE,
            expired_link_rate=RATE,
        )
        return [
            (
                plan.take_create_fault(created=False) is not None,
                plan.take_get_fault(),
                plan.take_list_fault(),
                plan.take_download_fault(),
                plan.take_rate_limit(),
                plan.take_concurrency_limit(),
                plan.take_expired_link("batch_x"),
            )
            for _ in range(REQUESTS)
        ]

    assert draws(7) == draws(7)
    assert draws(7) != draws(8)


def test_list_error_rate_leaves_item_gets_alone() -> None:
    with running() as (emu, http):
        batch_id = create_batch(http)
        emu.faults.list_error_rate = 1.0
        assert http.get("/v2/batch").status_code == 500
        assert http.get(f"/v2/batch/{batch_id}").status_code == 200


def test_random_429_bodies_carry_their_error_codes() -> None:
    with running(batch_concurrency=3) as (emu, http):
        emu.faults.concurrency_429_rate = 1.0
        refused = post_file(http, jsonl(lines(20)))
        assert refused.status_code == 429
        assert refused.json() == {
            "statusCode": 429,
            "errorCode": "concurrency_limit_reached",
            "message": CONCURRENCY_LIMIT_MESSAGE,
        }
        assert emu.open_batches == 0  # refused although every slot is free
        assert emu.batches == []
        # Dry runs do not check concurrency, so they pass.
        assert post_file(http, jsonl(lines(20)), dry_run=True).status_code == 200

        emu.faults.concurrency_429_rate = 0.0
        batch_id = create_batch(http)
        emu.faults.rate_limit_rate = 1.0
        for response in (
            http.get(f"/v2/batch/{batch_id}"),
            http.get("/v2/batch"),
            post_file(http, jsonl(lines(20))),
        ):
            assert response.status_code == 429
            assert response.json()["errorCode"] == "rate_limit_exceeded"
            assert response.json()["error"] == "Too Many Requests"
        assert httpx.get(emu.url + "/v2/batch").status_code == 401  # keyless: refused first
        assert httpx.get(emu.url + "/healthz").status_code == 200
        counts = emu.faults.counts()
        assert (counts["concurrency_limited"], counts["rate_limited"]) == (1, 3)


SLOW = 0.25


def test_slow_create_times_a_short_client_out_but_still_creates() -> None:
    with running() as (emu, http):
        emu.faults.configure(create_slow_rate=1.0, create_slow_seconds=SLOW)
        files = {"input": ("input.jsonl", jsonl(lines(20)), "application/jsonl")}
        with pytest.raises(httpx.ReadTimeout):
            http.post("/v2/batch", files=files, timeout=0.08)
        assert emu.wait_until(lambda: len(emu.batches) == 1, timeout=2)
        started = time.monotonic()
        assert post_file(http, jsonl(lines(20))).status_code == 201
        assert time.monotonic() - started >= SLOW * 0.9
        assert emu.faults.counts()["slow_create"] == 2
        assert emu.create_counts.accepted == 2


@pytest.mark.parametrize("family", ["get", "list", "result"])
def test_slow_answers_per_endpoint_family(family: str) -> None:
    with running() as (emu, http):
        batch_id = create_batch(http)
        emu.clock.advance(1000)
        location = httpx.get(http.get(f"/v2/batch/{batch_id}").json()["outputUrl"]).headers[
            "location"
        ]
        request = {
            "get": lambda: http.get(f"/v2/batch/{batch_id}"),
            "list": lambda: http.get("/v2/batch"),
            "result": lambda: httpx.get(location),
        }[family]

        def timed() -> float:
            started = time.monotonic()
            assert request().status_code == 200
            return time.monotonic() - started

        assert timed() < SLOW  # off: prompt
        emu.faults.configure(**{f"{family}_slow_rate": 1.0, f"{family}_slow_seconds": SLOW})
        assert timed() >= SLOW * 0.9
        assert emu.faults.injected == {f"slow_{family}": 1}


def test_slow_rates_are_seeded() -> None:
    def slow_pattern(seed: int) -> list[float]:
        plan = FaultPlan(seed=seed).configure(get_slow_rate=0.4, get_slow_seconds=2.0)
        # Another knob's draws do not shift this one's stream.
        plan.get_error_rate = 0.5
        result = []
        for _ in range(30):
            plan.take_get_fault()
            result.append(plan.take_slow("get"))
        return result

    assert slow_pattern(1) == slow_pattern(1)
    assert slow_pattern(1) != slow_pattern(2)
    assert set(slow_pattern(1)) == {0.0, 2.0}
    only_slow = FaultPlan(seed=1).configure(get_slow_rate=0.4, get_slow_seconds=2.0)
    assert [only_slow.take_slow("get") for _ in range(30)] == slow_pattern(1)


def test_stopping_cuts_a_slow_answer_short() -> None:
    emu = SyncEmulator(api_key=API_KEY, webhook_secret=None, time_scale=0).start()
    emu.faults.configure(list_slow_rate=1.0, list_slow_seconds=30.0)
    with (
        httpx.Client(base_url=emu.url, headers={"x-api-key": API_KEY}, timeout=0.1) as http,
        pytest.raises(httpx.ReadTimeout),
    ):
        http.get("/v2/batch")
    started = time.monotonic()
    emu.stop()
    assert time.monotonic() - started < 5
