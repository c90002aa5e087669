"""From a dropped file to the results CSV and one email, with webhooks lost, doubled or forged."""

from __future__ import annotations

import json

import httpx

from tests.support.csv_files import campaign_rows, to_csv


def drop_and_submit(system, rows, key="incoming/campaign.csv"):
    system.drop(key, to_csv(rows))
    system.settle()


def test_full_flow_ends_in_a_results_csv_and_exactly_one_email(local_system):
    system = local_system(batch_concurrency=2)
    rows = campaign_rows(1100, fail={7, 500})
    rows[3][1] = "http://insecure.example.com/v.mp4"
    drop_and_submit(system, rows)
    assert [c["status"] for c in system.snapshot()["chunks"]] == [
        "SUBMITTED",
        "SUBMITTED",
        "QUEUED",
    ]
    for _ in range(3):  # each finished batch frees a slot for the queued chunk
        system.finish_batches()
        system.settle()
    snap = system.snapshot()
    assert snap["status"] == "COMPLETED"
    assert snap["notified"]
    assert system.emulator.max_concurrent_open <= 2
    emails = system.runtime.collect_emails()
    assert len(emails) == 1
    assert emails[0].subject == "syncdrop: campaign.csv — 1,097 done, 2 failed, 1 rejected"
    assert emails[0].attributes["job_id"] == snap["job_id"]
    results = system.results()
    assert len(results) == 1100  # every input row in exactly one terminal state
    by_status = {}
    for item in results:
        by_status[item["status"]] = by_status.get(item["status"], 0) + 1
    assert by_status == {"COMPLETED": 1097, "FAILED": 2, "REJECTED": 1}
    table = system.results_csv("results/campaign.results.csv")
    header, body = table[0], table[1:]
    assert header[:3] == ["row", "request_id", "status"]
    assert "first_name" in header
    assert len(body) == 1100
    assert [int(r[0]) for r in body] == sorted(int(r[0]) for r in body)
    failed = [r for r in body if r[2] == "FAILED"]
    assert {r[1] for r in failed} == {"r7", "r500"}
    assert all(r[header.index("error_code")] == "FACE_NOT_FOUND" for r in failed)


def test_a_lost_webhook_is_finished_by_the_reconciler(local_system):
    system = local_system(
        batch_concurrency=3,
        environment={"POLL_AFTER_MINUTES": "0", "SUBMITTING_GRACE_MINUTES": "0"},
    )
    system.emulator.faults.drop_webhooks = True
    drop_and_submit(system, campaign_rows(30))
    system.finish_batches()
    system.settle()
    assert system.snapshot()["status"] == "RUNNING"  # nobody told us
    system.runtime.run_schedules()
    system.settle()
    assert system.snapshot()["status"] == "COMPLETED"
    assert len(system.runtime.collect_emails()) == 1


def test_a_webhook_delivered_twice_sends_one_email(local_system):
    system = local_system()
    system.emulator.faults.duplicate_webhooks = True
    drop_and_submit(system, campaign_rows(25))
    system.finish_batches()
    system.settle()
    system.runtime.run_schedules()
    system.settle()
    deliveries = system.emulator.webhook_deliveries
    assert len(deliveries) == 2
    assert [d.status_code for d in deliveries] == [200, 200]
    assert len(system.runtime.collect_emails()) == 1


def test_a_forged_webhook_is_refused_and_changes_nothing(local_system):
    system = local_system()
    drop_and_submit(system, campaign_rows(25))
    before = system.snapshot()
    (chunk,) = before["chunks"]
    url = f"{system.runtime.webhook_url}?job={before['job_id']}&chunk=1"
    forged = {"id": chunk["batch_id"], "status": "COMPLETED", "outputUrl": "https://evil.example/x"}
    body = json.dumps(forged, separators=(",", ":"))
    for headers in (
        {},
        {"Sync-Signature": "t=1700000000,v1=" + "0" * 64},
        {"Sync-Signature": "garbage"},
    ):
        answer = httpx.post(
            url, content=body, headers={"content-type": "application/json", **headers}
        )
        assert answer.status_code == 401
    system.settle()
    assert system.snapshot() == before
    assert system.results() == []
    assert system.runtime.collect_emails() == []


def test_without_a_webhook_secret_every_webhook_is_refused_and_polling_finishes(local_system):
    system = local_system(
        stack_webhook_secret="",
        environment={"POLL_AFTER_MINUTES": "0"},
    )
    drop_and_submit(system, campaign_rows(20))
    system.finish_batches()
    system.settle()
    assert [d.status_code for d in system.emulator.webhook_deliveries] == [401]
    assert system.snapshot()["status"] == "RUNNING"
    system.runtime.run_schedules()
    system.settle()
    assert system.snapshot()["status"] == "COMPLETED"
    assert len(system.runtime.collect_emails()) == 1


def test_a_batch_failed_by_sync_fails_its_rows_with_the_reason(local_system):
    system = local_system()
    rows = campaign_rows(20)
    rows[0][1] = "https://media.example.com/v1.mp4?sync-batch-fail"
    drop_and_submit(system, rows)
    system.finish_batches()
    system.settle()
    snap = system.snapshot()
    assert snap["status"] == "COMPLETED"
    assert [c["status"] for c in snap["chunks"]] == ["FAILED"]
    results = system.results()
    assert {r["status"] for r in results} == {"FAILED"}
    assert len(results) == 20
    assert all(r.get("error_message") for r in results)
    (email,) = system.runtime.collect_emails()
    assert "20 failed" in email.subject


def test_an_unusable_file_gets_its_own_email(local_system):
    system = local_system()
    system.drop("incoming/broken.csv", b"name,email\nAda,ada@example.com\n")
    system.settle()
    snap = system.snapshot()
    assert snap["status"] == "FAILED"
    (email,) = system.runtime.collect_emails()
    assert email.subject == "syncdrop: broken.csv could not be processed"
    assert "video_url" in email.body
    assert system.emulator.create_counts.total == 0


def test_a_dry_run_emails_the_verdict_and_creates_no_batch(local_system):
    system = local_system()
    system.drop("incoming/dry-run/check.csv", to_csv(campaign_rows(30)))
    system.settle()
    (email,) = system.runtime.collect_emails()
    assert "dry run" in email.subject
    assert system.emulator.batches == []
    assert system.emulator.create_counts.dry_run == 1
