"""Two workers at once on the same thing: each race has one outcome (against moto's server).

The workers really run at the same time: the local runtime lets invocations on several threads
overlap (each function's ``spans`` shows when its handlers ran), moto's server takes their
requests one at a time and cancels overlapping DynamoDB transactions as AWS does, and a slow
answer from Sync keeps each worker inside its handler long enough for the other to be there too.
Each test asserts what each worker did, then runs the file to its one email.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from syncdrop.messages import ResultsMessage
from syncdrop_local.emulator import signature_header_value
from syncdrop_local.runtime.http_front import http_api_event
from syncdrop_local.runtime.invoke import LocalFunction
from syncdrop_local.runtime.sqs_source import sqs_record
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.events import intake_event
from tests.support.invariants import LogCapture, captured_logs, check_invariants
from tests.support.local_system import WEBHOOK_SECRET, LocalSystem, run_to_the_end

FAST_BACKSTOP = {"POLL_AFTER_MINUTES": "0", "REPORT_LEASE_SECONDS": "2"}
SLOW_SYNC_SECONDS = 0.3  # every GET of a batch answers this late during a race


def at_once(*actions: Callable[[], Any]) -> list[Any]:
    """Start every action on its own thread (``worker-<n>``) behind one barrier; return what
    each did (its answer, or the exception it raised)."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[index] = action()
        except Exception as exc:  # the outcome of that worker, to be asserted on
            outcomes[index] = exc

    threads = [
        threading.Thread(target=run, args=(i, a), name=f"worker-{i}") for i, a in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def overlapped(*functions: LocalFunction) -> bool:
    """Did the last handler run of each function (two runs of one function: its last two)
    happen at the same time as the other's?"""
    if len(functions) == 1:
        first, second = list(functions[0].spans)[-2:]
    else:
        first, second = functions[0].spans[-1], functions[1].spans[-1]
    return max(first[0], second[0]) < min(first[1], second[1])


def results_event(system: LocalSystem, message: ResultsMessage, n: int) -> dict[str, Any]:
    queue_arn = system.runtime.stack.attribute("ResultsQueue", "Arn")
    fake = {"MessageId": f"race-{n}", "ReceiptHandle": "r", "Body": message.to_json()}
    return {"Records": [sqs_record(fake, queue_arn)]}


def one_finished_batch(local_system: Any) -> tuple[LocalSystem, dict[str, bytes], dict[str, Any]]:
    # In this process: each worker's own log records and exceptions are asserted on.
    system: LocalSystem = local_system(
        batch_concurrency=2, environment=FAST_BACKSTOP, in_process=True
    )
    system.emulator.faults.drop_webhooks = True  # the test delivers the completion itself
    uploads = {"incoming/race.csv": to_csv(campaign_rows(120))}
    system.drop("incoming/race.csv", uploads["incoming/race.csv"])
    system.settle()
    system.runtime.run_schedules()  # warm: the batch is still running, nothing to do yet
    system.finish_batches()
    (chunk,) = system.snapshot()["chunks"]
    return system, uploads, chunk


def fan_out_did(answer: Any, logs: LogCapture, worker: str) -> str:
    """What one fan-out worker did: the outcome it logged, or why its message failed."""
    if isinstance(answer, BatchProcessingError):
        ((_, error, _),) = answer.child_exceptions
        return type(error).__name__
    assert answer == {"batchItemFailures": []}, answer
    (outcome,) = [
        str(fields["outcome"])
        for fields in logs.records
        if fields["threadName"] == worker and fields["message"] == "results message handled"
    ]
    return outcome


def test_two_fan_out_workers_on_the_same_chunk(local_system):
    system, uploads, chunk = one_finished_batch(local_system)
    job_id = system.snapshot()["job_id"]
    message = ResultsMessage.for_chunk(job_id, chunk["number"], chunk["batch_id"])
    fan_out = system.runtime.functions["FanOutResultsFunction"]
    system.emulator.faults.configure(get_slow_rate=1.0, get_slow_seconds=SLOW_SYNC_SECONDS)
    with captured_logs() as logs:
        answers = at_once(
            lambda: fan_out.invoke(results_event(system, message, 0)),
            lambda: fan_out.invoke(results_event(system, message, 1)),
        )
    system.emulator.faults.configure(get_slow_rate=0.0)
    assert overlapped(fan_out)
    did = sorted(fan_out_did(a, logs, f"worker-{n}") for n, a in enumerate(answers))
    # One writes the rows and closes the chunk. The other finds the chunk claimed (its
    # message comes back later and finds it closed) or, if it came second, already closed.
    assert did in (["FanOutBusy", "WRITTEN"], ["ALREADY_DONE", "WRITTEN"]), did
    assert len(system.results()) == 120
    run_to_the_end(system, files=1)
    report = check_invariants(system, uploads, batch_concurrency=2)
    report.assert_holds()
    assert report.rows_by_status["COMPLETED"] == 120
    assert report.emails == 1


def signed_webhook(system: LocalSystem, chunk: dict[str, Any], *, signed: bool = True) -> Any:
    """The API Gateway event Sync's completion webhook becomes, signed as Sync signs it."""
    batch = system.emulator.batch(chunk["batch_id"])
    payload = {
        "id": batch.id,
        "created_at": batch.created_at,
        "status": batch.status,
        "metrics": batch.metrics,
        "outputUrl": batch.output_url,
        "webhookUrl": batch.webhook_url,
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    # As a real delivery: API Gateway reads its domain name from the Host it was sent to.
    headers = {
        "content-type": "application/json",
        "host": urlsplit(system.runtime.webhook_url).netloc,
    }
    if signed:
        headers["sync-signature"] = signature_header_value(WEBHOOK_SECRET, int(time.time()), body)
    query = (batch.webhook_url or "").partition("?")[2]
    return http_api_event("POST", f"/sync/webhook?{query}", headers, body, "127.0.0.1")


def test_a_webhook_and_the_reconciler_for_the_same_batch(local_system):
    system, uploads, chunk = one_finished_batch(local_system)
    webhook = system.runtime.functions["ReceiveWebhookFunction"]
    reconcile = system.runtime.functions["ReconcileFunction"]
    # Warm, and refused: an unsigned delivery changes nothing.
    assert webhook.invoke(signed_webhook(system, chunk, signed=False))["statusCode"] == 401
    before = system.snapshot()
    assert before["chunks"][0]["status"] == "SUBMITTED"
    system.emulator.faults.configure(get_slow_rate=1.0, get_slow_seconds=SLOW_SYNC_SECONDS)
    answer, summary = at_once(
        lambda: webhook.invoke(signed_webhook(system, chunk)), lambda: reconcile.invoke({})
    )
    system.emulator.faults.configure(get_slow_rate=0.0)
    assert overlapped(webhook, reconcile)
    # The webhook is accepted and tells the results queue the batch is over. The reconciler
    # polls the batch and does the same, unless the webhook's record reached the chunk before
    # it looked (the chunk is no longer quiet); either way the fan-out handles it once.
    assert answer["statusCode"] == 200, answer
    assert (summary["polled"], summary["enqueued"]) in ((1, 1), (0, 0)), summary
    queued = system.runtime.stack.client("sqs").get_queue_attributes(
        QueueUrl=system.runtime.stack.ref("ResultsQueue"),
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert int(queued) == 1 + summary["enqueued"]
    run_to_the_end(system, files=1)
    report = check_invariants(system, uploads, batch_concurrency=2)
    report.assert_holds()
    assert report.rows_by_status["COMPLETED"] == 120
    assert len(system.emulator.batches) == 1


def test_one_upload_delivered_twice_at_once(local_system):
    # S3 and SQS may deliver one upload's event twice: two intake workers on one file.
    system: LocalSystem = local_system(
        batch_concurrency=2,
        environment=FAST_BACKSTOP,
        parameters={"BatchMaxLines": "60"},
        in_process=True,  # each worker's own log records are asserted on
    )
    key = "incoming/twice.csv"
    uploads = {key: to_csv(campaign_rows(120))}
    system.drop(key, uploads[key])  # its own event waits in the intake queue: a third delivery
    head = system.runtime.stack.client("s3").head_object(Bucket=system.bucket, Key=key)
    event = intake_event(system.bucket, key, head.get("VersionId"), head["ContentLength"])
    submit = system.runtime.functions["SubmitBatchFunction"]

    def delivery(n: int) -> Any:
        copy = json.loads(json.dumps(event))
        copy["Records"][0]["messageId"] = f"intake-{n}"
        return submit.invoke(copy)

    system.emulator.faults.configure(create_slow_rate=1.0, create_slow_seconds=SLOW_SYNC_SECONDS)
    with captured_logs() as logs:
        answers = at_once(lambda: delivery(0), lambda: delivery(1))
    system.emulator.faults.configure(create_slow_rate=0.0)
    assert overlapped(submit)
    assert answers == [{"batchItemFailures": []}] * 2, answers

    def logged(worker: str, message: str) -> int:
        return sum(1 for f in logs.records if f["threadName"] == worker and f["message"] == message)

    planned = [logged(f"worker-{n}", "job planned") for n in range(2)]
    submitted = [logged(f"worker-{n}", "batch submitted") for n in range(2)]
    # A worker that finds the job still RECEIVED plans it again (what recovers a worker that
    # died while planning): the plan is the same and its writes are conditional. Each chunk is
    # sent once, by whichever worker claims it first.
    assert 1 <= sum(planned) <= 2, planned
    assert sum(submitted) == 2, submitted
    assert len(system.emulator.batches) == 2
    run_to_the_end(system, files=1)
    report = check_invariants(system, uploads, batch_concurrency=2)
    report.assert_holds()
    assert len(system.jobs()) == 1
    assert len(system.emulator.batches) == 2
