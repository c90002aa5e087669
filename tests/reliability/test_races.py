"""Two workers at once on the same thing: each race has one outcome (against moto's server)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from syncdrop.messages import ResultsMessage
from syncdrop_local.emulator import signature_header_value
from syncdrop_local.runtime.http_front import http_api_event
from syncdrop_local.runtime.sqs_source import sqs_record
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.invariants import check_invariants
from tests.support.local_system import WEBHOOK_SECRET, LocalSystem, run_to_the_end

FAST_BACKSTOP = {"POLL_AFTER_MINUTES": "0", "REPORT_LEASE_SECONDS": "2"}


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Start every action on its own thread behind one barrier; return what each did."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[index] = action()
        except Exception as exc:  # the outcome of that worker, to be asserted on
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def results_event(system: LocalSystem, message: ResultsMessage) -> dict[str, Any]:
    queue_arn = system.runtime.stack.attribute("ResultsQueue", "Arn")
    fake = {"MessageId": f"m-{id(message)}", "ReceiptHandle": "r", "Body": message.to_json()}
    return {"Records": [sqs_record(fake, queue_arn)]}


def one_finished_batch(local_system: Any) -> tuple[LocalSystem, dict[str, bytes], dict[str, Any]]:
    system: LocalSystem = local_system(batch_concurrency=2, environment=FAST_BACKSTOP)
    system.emulator.faults.drop_webhooks = True  # the test delivers the completion itself
    uploads = {"incoming/race.csv": to_csv(campaign_rows(120))}
    system.drop("incoming/race.csv", uploads["incoming/race.csv"])
    system.settle()
    system.finish_batches()
    (chunk,) = system.snapshot()["chunks"]
    return system, uploads, chunk


def test_two_fan_out_workers_on_the_same_chunk(local_system):
    system, uploads, chunk = one_finished_batch(local_system)
    job_id = system.snapshot()["job_id"]
    message = ResultsMessage.for_chunk(job_id, chunk["number"], chunk["batch_id"])
    fan_out = system.runtime.functions["FanOutResultsFunction"]
    outcomes = at_once(
        lambda: fan_out.invoke(results_event(system, message)),
        lambda: fan_out.invoke(results_event(system, message)),
    )
    assert not any(isinstance(o, Exception) for o in outcomes), outcomes
    run_to_the_end(system, files=1)
    report = check_invariants(system, uploads, batch_concurrency=2)
    report.assert_holds()
    assert report.rows_by_status["COMPLETED"] == 120
    assert report.emails == 1


def test_a_webhook_and_the_reconciler_for_the_same_batch(local_system):
    system, uploads, chunk = one_finished_batch(local_system)
    job_id = system.snapshot()["job_id"]
    webhook = system.runtime.functions["ReceiveWebhookFunction"]
    delivery = signed_webhook(system, job_id, chunk)
    at_once(lambda: webhook.invoke(delivery), system.runtime.run_schedules)
    run_to_the_end(system, files=1)
    check_invariants(system, uploads, batch_concurrency=2).assert_holds()


def signed_webhook(system: LocalSystem, job_id: str, chunk: dict[str, Any]) -> dict[str, Any]:
    """The API Gateway event Sync's completion webhook becomes, signed as Sync signs it."""
    batch = system.emulator.batch(chunk["batch_id"])
    payload = {"id": batch.id, "status": batch.status, "outputUrl": batch.output_url}
    body = json.dumps(payload, separators=(",", ":")).encode()
    header = signature_header_value(WEBHOOK_SECRET, int(time.time()), body)
    return http_api_event(
        "POST",
        f"/sync/webhook?job={job_id}&chunk={chunk['number']}",
        {"content-type": "application/json", "sync-signature": header},
        body,
        "127.0.0.1",
    )
