"""receive_webhook's handler with API Gateway v2 events (events/), against moto."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
from syncdrop_local.runtime.local_runtime import LocalRuntime
from syncdrop_local.state_view import table_items
from tests.support.events import load_event

SECRET = "whsec_integration"
JOB = "job-0123456789abcdef01234567"


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        runtime = LocalRuntime.start(
            None,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": "sk-x",
                "SyncWebhookSecret": SECRET,
                "SyncApiBaseUrl": "http://127.0.0.1:9",
            },
        )
        store = DynamoJobStore(runtime.stack.client("dynamodb"), runtime.stack.ref("JobTable"))
        input_key, manifest_key = chunk_keys(JOB, 1)
        chunk = Chunk(
            JOB, 1, ChunkStatus.QUEUED, 20, input_key, manifest_key, updated_at=datetime.now(UTC)
        )
        store.put_chunk(chunk)
        store.claim_for_submission(chunk, limit=3, now=datetime.now(UTC))
        store.mark_submitted(chunk, "batch_abc123", now=datetime.now(UTC))
        yield runtime
        runtime.stop()


def signed(
    event: dict[str, Any], *, secret: str = SECRET, at: float | None = None
) -> dict[str, Any]:
    t = str(int(at if at is not None else time.time()))
    body = event["body"].encode()
    digest = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    event["headers"]["sync-signature"] = f"t={t},v1={digest}"
    return event


def invoke(runtime: LocalRuntime, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = runtime.functions["ReceiveWebhookFunction"].invoke(event)
    return answer["statusCode"], json.loads(answer["body"])


def queued(runtime: LocalRuntime) -> list[dict[str, Any]]:
    sqs = runtime.stack.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=runtime.stack.ref("ResultsQueue"), MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


def chunk_item(runtime: LocalRuntime) -> dict[str, Any]:
    (item,) = [i for i in table_items(runtime.stack, "JobTable") if i.get("type") == "chunk"]
    return item


def test_a_signed_terminal_webhook_is_recorded_and_enqueued(runtime):
    status, body = invoke(runtime, signed(load_event("webhook_batch_completed.json")))
    assert (status, body) == (200, {"message": "enqueued"})
    assert queued(runtime) == [
        {"kind": "chunk", "job_id": JOB, "chunk": 1, "batch_id": "batch_abc123"}
    ]
    assert chunk_item(runtime)["last_sync_status"] == "COMPLETED"


def test_a_base64_encoded_body_is_verified_on_its_raw_bytes(runtime):
    event = signed(load_event("webhook_batch_completed.json"))
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert invoke(runtime, event)[0] == 200


@pytest.mark.parametrize(
    "spoil",
    [
        lambda e: e["headers"].pop("sync-signature"),
        lambda e: e["headers"].__setitem__("sync-signature", "t=1,v1=abc"),
        lambda e: e.__setitem__("body", e["body"].replace("COMPLETED", "FAILED")),
    ],
    ids=["missing", "stale-and-wrong", "tampered"],
)
def test_unsigned_stale_or_tampered_webhooks_get_401_and_change_nothing(runtime, spoil):
    event = signed(load_event("webhook_batch_completed.json"))
    before = chunk_item(runtime)
    spoil(event)
    assert invoke(runtime, event)[0] == 401
    assert chunk_item(runtime) == before
    assert queued(runtime) == []


def test_a_webhook_signed_with_another_secret_is_refused(runtime):
    event = signed(load_event("webhook_batch_completed.json"), secret="whsec_someone_else")
    assert invoke(runtime, event)[0] == 401


def test_a_stale_signature_is_refused(runtime):
    event = signed(load_event("webhook_batch_completed.json"), at=time.time() - 301)
    assert invoke(runtime, event)[0] == 401


def test_a_valid_webhook_for_an_unknown_batch_is_404(runtime):
    event = load_event("webhook_batch_completed.json")
    event["queryStringParameters"] = {"job": "job-nope", "chunk": "1"}
    assert invoke(runtime, signed(event))[0] == 404
    assert queued(runtime) == []
