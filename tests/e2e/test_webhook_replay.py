"""A genuine signed webhook replayed to another job's URL changes nothing; each file keeps its own.

Every app of a Sync organisation signs with one secret and the webhook's query string is not
signed, so a delivery captured for one file can be sent again, within the signature's 5
minutes, to ``?job=<another file's job>&chunk=1``. The local stack's emulator signs real
deliveries; this replays one exactly as it went out.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.csv_files import campaign_rows, to_csv
from tests.support.local_system import LocalSystem, run_to_the_end


def job_of(system: LocalSystem, key: str) -> dict[str, Any]:
    (job,) = [j for j in system.jobs() if j["key"] == key]
    return system.snapshot(job["job_id"])


def results_of(system: LocalSystem, job_id: str) -> list[dict[str, Any]]:
    return [r for r in system.results() if r["job_id"] == job_id]


def test_a_replayed_delivery_for_one_file_never_reaches_another(local_system):
    system = local_system(
        batch_concurrency=2,
        environment={"POLL_AFTER_MINUTES": "0", "SUBMITTING_GRACE_MINUTES": "0"},
    )
    # File A runs to the end; its webhook is a genuine, signed delivery.
    system.drop("incoming/a.csv", to_csv(campaign_rows(20)))
    system.settle()
    system.finish_batches()
    system.settle()
    a = job_of(system, "incoming/a.csv")
    assert a["status"] == "COMPLETED"
    (genuine,) = system.emulator.webhook_deliveries
    assert genuine.status_code == 200
    a_outputs = {r["output_url"] for r in results_of(system, a["job_id"])}
    assert len(a_outputs) == 20

    # File B (the same request ids, r1..r20): Sync creates its batch but the answer is lost,
    # so B's chunk waits in SUBMITTING, the state in which a webhook may adopt a batch.
    system.emulator.faults.drop_webhooks = True
    system.emulator.faults.fail_next_creates(1, 500, after_create=True)
    system.drop("incoming/b.csv", to_csv(campaign_rows(20)))
    system.settle()
    b = job_of(system, "incoming/b.csv")
    (b_chunk,) = b["chunks"]
    assert b_chunk["status"] == "SUBMITTING"
    assert b_chunk.get("batch_id") is None

    # A's delivery, byte for byte, to B's webhook URL while its signature is still fresh.
    replay = httpx.post(
        f"{system.runtime.webhook_url}?job={b['job_id']}&chunk=1",
        content=genuine.body,
        headers=genuine.headers,
    )
    assert replay.status_code == 409
    system.settle()
    assert job_of(system, "incoming/b.csv") == b
    assert results_of(system, b["job_id"]) == []
    assert len(system.runtime.collect_emails()) == 1  # A's

    # B finishes with its own batch (found by the reconciler: its webhook was dropped).
    run_to_the_end(system, files=2)
    b = job_of(system, "incoming/b.csv")
    assert b["status"] == "COMPLETED"
    (b_chunk,) = b["chunks"]
    b_batch = system.emulator.batch(b_chunk["batch_id"])
    assert b_chunk["batch_id"] != genuine.json()["id"]
    assert b_batch.webhook_url is not None
    assert b["job_id"] in b_batch.webhook_url
    b_results = results_of(system, b["job_id"])
    assert len(b_results) == 20
    assert {r["status"] for r in b_results} == {"COMPLETED"}
    b_outputs = {r["output_url"] for r in b_results}
    assert len(b_outputs) == 20
    assert not b_outputs & a_outputs  # none of A's videos in B's results
    b_csv = system.results_csv("results/b.results.csv")
    assert not {cell for row in b_csv for cell in row} & a_outputs
    assert len(system.runtime.collect_emails()) == 2
