"""Result-file faults over HTTP: expired links, malformed and missing lines, whole-batch failure."""

from __future__ import annotations

import json

import httpx

from syncdrop_local.emulator import FaultPlan, SyncEmulator

from .helpers import create_batch, running


def finished_batch(emu: SyncEmulator, http: httpx.Client) -> tuple[str, str]:
    batch_id = create_batch(http)
    emu.clock.advance(1000)
    return batch_id, http.get(f"/v2/batch/{batch_id}").json()["outputUrl"]


def test_expired_link_is_403_and_a_fresh_get_gives_a_working_link() -> None:
    with running() as (emu, http):
        emu.faults.expire_result_links = True
        batch_id, output_url = finished_batch(emu, http)
        first = httpx.get(output_url)
        assert first.status_code == 302
        expired = httpx.get(first.headers["location"])
        assert expired.status_code == 403
        assert expired.headers["content-type"] == "application/xml"
        assert "<Code>AccessDenied</Code>" in expired.text
        assert "Request has expired" in expired.text

        fresh_url = http.get(f"/v2/batch/{batch_id}").json()["outputUrl"]
        fresh = httpx.get(fresh_url, follow_redirects=True)
        assert fresh.status_code == 200
        served = [json.loads(row) for row in fresh.text.splitlines()]
        assert served == emu.result_lines(batch_id)
        assert emu.faults.injected == {"expired_link": 1}


def test_expired_link_rate_is_seeded_and_off_by_default() -> None:
    def statuses(rate: float) -> list[int]:
        with running(11) as (emu, http):
            _, output_url = finished_batch(emu, http)
            emu.faults.expired_link_rate = rate
            found = [
                http.get(http.get(output_url).headers["location"]).status_code for _ in range(20)
            ]
            assert emu.faults.counts()["expired_link"] == found.count(403)
            return found

    first = statuses(0.3)
    assert first == statuses(0.3)
    assert set(first) == {200, 403}
    assert statuses(0.0) == [200] * 20


def test_malformed_and_missing_lines_corrupt_only_the_served_file() -> None:
    with running(2) as (emu, http):
        emu.faults.configure(malformed_result_line_rate=0.2, missing_result_line_rate=0.2)
        batch_id, output_url = finished_batch(emu, http)
        truth = emu.result_lines(batch_id)
        assert emu.served_result_faults(batch_id) == {}  # nothing served yet

        body = httpx.get(output_url, follow_redirects=True).text
        faults = emu.served_result_faults(batch_id)
        missing = {rid for rid, kind in faults.items() if kind == "missing"}
        malformed = {rid for rid, kind in faults.items() if kind == "malformed"}
        assert missing
        assert malformed

        rows = body.splitlines()
        assert len(rows) == 20 - len(missing)
        good, garbage = [], []
        for row in rows:
            try:
                good.append(json.loads(row))
            except ValueError:
                garbage.append(row)
        assert {row["request_id"] for row in good} == {
            line["request_id"] for line in truth
        } - missing - malformed
        assert len(garbage) == len(malformed)
        for rid in malformed:
            assert any(row.startswith(f'{{"request_id":"{rid}"') for row in garbage)
        # The true file is untouched and a second download serves the same bytes.
        assert emu.result_lines(batch_id) == truth
        assert len(truth) == 20
        assert httpx.get(output_url, follow_redirects=True).text == body
        counts = emu.faults.counts()
        assert counts["missing_result_line"] == len(missing)
        assert counts["malformed_result_line"] == len(malformed)


def test_result_line_faults_are_seeded_per_batch_and_off_by_default() -> None:
    def served(seed: int, rate: float) -> dict[str, str]:
        with running(seed) as (emu, http):
            emu.faults.configure(malformed_result_line_rate=rate, missing_result_line_rate=rate)
            create_batch(http)  # another batch first: faults are keyed by batch ordinal
            batch_id, output_url = finished_batch(emu, http)
            assert httpx.get(output_url, follow_redirects=True).status_code == 200
            return emu.served_result_faults(batch_id)

    first = served(4, 0.2)
    assert first
    assert served(4, 0.2) == first
    assert served(5, 0.2) != first
    assert served(4, 0.0) == {}


def test_batch_failure_rate_fails_whole_batches() -> None:
    with running() as (emu, http):
        emu.faults.batch_failure_rate = 1.0
        batch_id, output_url = finished_batch(emu, http)
        body = http.get(f"/v2/batch/{batch_id}").json()
        assert body["status"] == "FAILED"
        assert body["metrics"]["failed_count"] == 20
        rows = [
            json.loads(row)
            for row in httpx.get(output_url, follow_redirects=True).text.splitlines()
        ]
        assert {row["error"]["code"] for row in rows} == {"BATCH_FAILED"}
        snapshot = emu.batch(batch_id)
        assert snapshot.batch_failed
        assert snapshot.injected_failure
        assert emu.faults.injected == {"batch_failed": 1}

        emu.faults.batch_failure_rate = 0.0
        other, _ = finished_batch(emu, http)
        assert emu.batch(other).status == "COMPLETED"
        assert not emu.batch(other).injected_failure


def test_batch_failure_rate_is_seeded_by_ordinal() -> None:
    def failing(seed: int) -> list[int]:
        plan = FaultPlan(seed=seed).configure(batch_failure_rate=0.3)
        return [n for n in range(1, 41) if plan.plan_batch(n, ["r1"]).fail_batch]

    assert failing(1) == failing(1)
    assert failing(1) != failing(2)
    assert 3 < len(failing(1)) < 25
    # A batch already failing by its input is not counted again.
    plan = FaultPlan().configure(batch_failure_rate=1.0)
    assert not plan.plan_batch(1, ["r1"], already_failing=True).fail_batch
    assert plan.counts()["batch_failed"] == 0
