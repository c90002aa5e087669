"""Webhook latency: receive_webhook in-process over 2,000 signed deliveries against moto."""

from __future__ import annotations

import contextlib
import copy
import gc
import hashlib
import hmac
import io
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.figures import Figure

DELIVERIES = 2_000
SECRET = "whsec_bench"
JOB = "job-0123456789abcdef01234567"
BATCH = "batch_abc123"
TARGET = 3.0
DRAIN_EVERY = 10  # moto's SendMessage slows down as a queue fills; Lambda's never does
EVENT = Path(__file__).resolve().parents[1] / "events" / "webhook_batch_completed.json"


def signed(event: dict[str, Any]) -> dict[str, Any]:
    """A fresh copy of ``event`` signed now, as Sync signs a delivery."""
    event = copy.deepcopy(event)
    stamp = str(int(time.time()))
    digest = hmac.new(
        SECRET.encode(), stamp.encode() + b"." + event["body"].encode(), hashlib.sha256
    ).hexdigest()
    event["headers"]["sync-signature"] = f"t={stamp},v1={digest}"
    return event


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure() -> tuple[list[float], list[float], list[float]]:
    from syncdrop.adapters.dynamo_jobs import DynamoJobStore
    from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
    from syncdrop.webhook_url import webhook_url_for
    from syncdrop.wiring import aws_client
    from syncdrop_local.runtime.invoke import LambdaContext
    from syncdrop_local.runtime.local_runtime import AWS_TEST_ENV, LocalRuntime, MotoServer

    template_event = json.loads(EVENT.read_text())
    server = MotoServer()
    endpoint = server.start()
    os.environ.update(AWS_TEST_ENV, AWS_ENDPOINT_URL=endpoint)
    try:
        runtime = LocalRuntime.start(
            endpoint,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": "sk-bench",
                "SyncWebhookSecret": SECRET,
                "SyncApiBaseUrl": "http://127.0.0.1:9",
            },
        )
        try:
            # Sync echoes the URL this stack gave it: the body names the chunk it is for.
            body = json.loads(template_event["body"])
            body["webhookUrl"] = webhook_url_for(
                f"https://{template_event['requestContext']['domainName']}/sync/webhook", JOB, 1
            )
            template_event["body"] = json.dumps(body, separators=(",", ":"))
            store = DynamoJobStore(runtime.stack.client("dynamodb"), runtime.stack.ref("JobTable"))
            now = datetime.now(UTC)
            chunk = Chunk(JOB, 1, ChunkStatus.QUEUED, 20, *chunk_keys(JOB, 1), updated_at=now)
            store.put_chunk(chunk)
            store.claim_for_submission(chunk, limit=3, now=now)
            store.mark_submitted(chunk, BATCH, now=now)
            queue_url = runtime.stack.ref("ResultsQueue")
            sqs = aws_client("sqs")

            def drain() -> None:
                while (
                    messages := runtime.stack.client("sqs")
                    .receive_message(
                        QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60
                    )
                    .get("Messages")
                ):
                    runtime.stack.client("sqs").delete_message_batch(
                        QueueUrl=queue_url,
                        Entries=[
                            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                            for n, m in enumerate(messages)
                        ],
                    )

            function = runtime.functions["ReceiveWebhookFunction"]

            def keeps_it(event: dict[str, Any], context: Any) -> dict[str, Any]:
                """The least a receiver can do without losing a webhook: parse, enqueue."""
                json.loads(event["body"])
                sqs.send_message(QueueUrl=queue_url, MessageBody=event["body"])
                return {"statusCode": 200, "body": "{}"}

            def parses_it(event: dict[str, Any], context: Any) -> dict[str, Any]:
                """A handler that only parses the JSON body."""
                json.loads(event["body"])
                return {"statusCode": 200, "body": "{}"}

            def timed(handler: Callable[[dict[str, Any], Any], Any]) -> float:
                event = signed(template_event)
                context = LambdaContext("ReceiveWebhookFunction", 10)
                started = time.perf_counter()
                answer = handler(event, context)
                elapsed = time.perf_counter() - started
                assert answer["statusCode"] == 200, answer
                return elapsed

            def ours(event: dict[str, Any], context: Any) -> Any:
                return function.invoke(event)

            samples: tuple[list[float], list[float], list[float]] = ([], [], [])
            with contextlib.redirect_stdout(io.StringIO()) as printed:  # metrics' EMF lines
                for _ in range(20):  # the cold start and first requests are not measured
                    timed(ours)
                    timed(keeps_it)
                drain()
                # The heap moto and boto3 built so far lives on: collections skip it.
                gc.collect()
                gc.freeze()
                try:
                    for delivery in range(DELIVERIES):
                        if delivery % DRAIN_EVERY == 0:
                            drain()
                            printed.seek(0)
                            printed.truncate()
                        samples[0].append(timed(ours))
                        samples[1].append(timed(keeps_it))
                        samples[2].append(timed(parses_it))
                finally:
                    gc.unfreeze()
        finally:
            runtime.stop()
    finally:
        server.stop()
    return samples


def run(workdir: Path) -> list[Figure]:
    ours, keeps_it, parses_it = measure()
    figures = []
    for share, name in ((0.5, "p50"), (0.99, "p99")):
        mine, base = percentile(ours, share) * 1e3, percentile(keeps_it, share) * 1e3
        gated = name == "p99"
        figures.append(
            Figure(
                f"5 webhook latency {name}, {DELIVERIES:,} deliveries",
                mine,
                base,
                "ms",
                baseline_label="a handler that parses the body and sends it to the queue",
                target=f"ratio <= {TARGET:g}" if gated else "",
                met=mine <= TARGET * base if gated else None,
            )
        )
    for share, name in ((0.5, "p50"), (0.99, "p99")):
        figures.append(
            Figure(
                f"  {name} against a body-only handler",
                percentile(ours, share) * 1e3,
                percentile(parses_it, share) * 1e3,
                "ms",
                baseline_label="a handler that only parses the JSON body (no AWS call)",
            )
        )
    return figures
