"""receive_webhook's handler with API Gateway v2 events (events/), against moto."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

import syncdrop.sync_models
import syncdrop.webhook_signature
from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
from syncdrop.webhook_signature import MAX_BODY_BYTES
from syncdrop.webhook_url import webhook_url_for
from syncdrop_local.runtime.local_runtime import LocalRuntime
from syncdrop_local.state_view import table_items
from tests.support.events import WEBHOOK_EVENT_URL, load_event

SECRET = "whsec_integration"
JOB = "job-0123456789abcdef01234567"
OTHER_JOB = "job-fedcba9876543210fedcba98"  # its chunk 1 is SUBMITTING: its POST's answer lost
BATCH = "batch_abc123"


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
        now = datetime.now(UTC)
        for job in (JOB, OTHER_JOB):
            chunk = Chunk(job, 1, ChunkStatus.QUEUED, 20, *chunk_keys(job, 1), updated_at=now)
            store.put_chunk(chunk)
            store.claim_for_submission(chunk, limit=3, now=now)
        submitted = store.get_chunk(JOB, 1)
        assert submitted is not None
        store.mark_submitted(submitted, BATCH, now=now)
        yield runtime
        runtime.stop()


def delivery(
    runtime: LocalRuntime,
    *,
    body_job: str | None = JOB,
    query: dict[str, str] | None = None,
    batch_id: str = BATCH,
    status: str = "COMPLETED",
) -> dict[str, Any]:
    """events/webhook_batch_completed.json as Sync would send it to this stack, unsigned:
    the body's webhookUrl names ``body_job``'s chunk 1 (``None``: no webhookUrl at all)."""
    event = load_event("webhook_batch_completed.json")
    body = json.loads(event["body"])
    body.update(id=batch_id, status=status)
    if body_job is None:
        del body["webhookUrl"]
    else:
        body["webhookUrl"] = webhook_url_for(WEBHOOK_EVENT_URL, body_job, 1)
    event["body"] = json.dumps(body, separators=(",", ":"))
    query = {"job": JOB, "chunk": "1"} if query is None else query
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return event


def signed(
    event: dict[str, Any], *, secret: str = SECRET, at: float | None = None, extra: str = ""
) -> dict[str, Any]:
    t = str(int(at if at is not None else time.time()))
    body = event["body"].encode()
    digest = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    event["headers"]["sync-signature"] = f"t={t},v1={digest}{extra}"
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


def chunk_item(runtime: LocalRuntime, job: str = JOB) -> dict[str, Any]:
    (item,) = [
        i
        for i in table_items(runtime.stack, "JobTable")
        if i.get("type") == "chunk" and i.get("job_id") == job
    ]
    return item


def job_table(runtime: LocalRuntime) -> list[dict[str, Any]]:
    return sorted(table_items(runtime.stack, "JobTable"), key=lambda i: (i["pk"], i["sk"]))


def test_a_signed_terminal_webhook_is_recorded_and_enqueued(runtime):
    status, body = invoke(runtime, signed(delivery(runtime)))
    assert (status, body) == (200, {"message": "enqueued"})
    assert queued(runtime) == [{"kind": "chunk", "job_id": JOB, "chunk": 1, "batch_id": BATCH}]
    assert chunk_item(runtime)["last_sync_status"] == "COMPLETED"


def test_the_signed_body_alone_names_the_chunk_and_no_query_is_needed(runtime):
    status, body = invoke(runtime, signed(delivery(runtime, query={})))
    assert (status, body) == (200, {"message": "enqueued"})
    assert queued(runtime) == [{"kind": "chunk", "job_id": JOB, "chunk": 1, "batch_id": BATCH}]


def test_a_base64_encoded_body_is_verified_on_its_raw_bytes(runtime):
    event = signed(delivery(runtime))
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    assert invoke(runtime, event)[0] == 200


# --- what the query may say -----------------------------------------------------------------
def test_a_replayed_delivery_to_another_jobs_submitting_chunk_is_409_and_changes_nothing(
    runtime,
):
    """A genuine delivery for JOB, sent again within the window to ?job=OTHER_JOB&chunk=1."""
    genuine = signed(delivery(runtime))
    replay = json.loads(json.dumps(genuine))
    replay["queryStringParameters"] = {"job": OTHER_JOB, "chunk": "1"}
    replay["rawQueryString"] = f"job={OTHER_JOB}&chunk=1"
    before = job_table(runtime)
    status, body = invoke(runtime, replay)
    assert status == 409
    assert "another" in body["message"]
    assert job_table(runtime) == before
    assert chunk_item(runtime, OTHER_JOB)["status"] == "SUBMITTING"
    assert "batch_id" not in chunk_item(runtime, OTHER_JOB)
    assert queued(runtime) == []
    assert invoke(runtime, genuine)[0] == 200  # the delivery itself was good


@pytest.mark.parametrize(
    "query",
    [{"job": JOB, "chunk": "2"}, {"chunk": "01"}, {"job": OTHER_JOB}, {"job": ""}],
)
def test_a_query_that_disagrees_with_the_signed_body_is_409(runtime, query):
    before = job_table(runtime)
    assert invoke(runtime, signed(delivery(runtime, query=query)))[0] == 409
    assert job_table(runtime) == before
    assert queued(runtime) == []


def test_a_body_signed_for_another_deployments_url_is_409(runtime):
    """Another app of the same Sync organisation signs with the same secret."""
    event = load_event("webhook_batch_completed.json")
    body = json.loads(event["body"])
    body["webhookUrl"] = webhook_url_for(
        "https://other.execute-api.us-east-1.amazonaws.com/sync/webhook", JOB, 1
    )
    event["body"] = json.dumps(body, separators=(",", ":"))
    before = job_table(runtime)
    assert invoke(runtime, signed(event))[0] == 409
    assert job_table(runtime) == before
    assert queued(runtime) == []


def test_the_signed_owner_adopts_the_batch_whose_post_answer_was_lost(runtime):
    event = delivery(runtime, body_job=OTHER_JOB, query={}, batch_id="batch_other")
    assert invoke(runtime, signed(event)) == (200, {"message": "enqueued"})
    chunk = chunk_item(runtime, OTHER_JOB)
    assert (chunk["status"], chunk["batch_id"]) == ("SUBMITTED", "batch_other")


def test_without_webhook_url_a_chunk_that_holds_the_batch_takes_it(runtime):
    assert invoke(runtime, signed(delivery(runtime, body_job=None)))[0] == 200
    assert queued(runtime) == [{"kind": "chunk", "job_id": JOB, "chunk": 1, "batch_id": BATCH}]


def test_without_webhook_url_a_batch_is_never_adopted_from_the_query(runtime):
    event = delivery(runtime, body_job=None, query={"job": OTHER_JOB, "chunk": "1"})
    before = job_table(runtime)
    assert invoke(runtime, signed(event))[0] == 404
    assert job_table(runtime) == before
    assert queued(runtime) == []


def test_a_valid_webhook_for_an_unknown_batch_is_404(runtime):
    event = delivery(runtime, batch_id="batch_unknown")
    assert invoke(runtime, signed(event))[0] == 404
    assert queued(runtime) == []


# --- signatures -----------------------------------------------------------------------------
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
    event = signed(delivery(runtime))
    before = chunk_item(runtime)
    spoil(event)
    assert invoke(runtime, event)[0] == 401
    assert chunk_item(runtime) == before
    assert queued(runtime) == []


def test_a_webhook_signed_with_another_secret_is_refused(runtime):
    event = signed(delivery(runtime), secret="whsec_someone_else")
    assert invoke(runtime, event)[0] == 401


def test_a_stale_signature_is_refused(runtime):
    event = signed(delivery(runtime), at=time.time() - 301)
    assert invoke(runtime, event)[0] == 401


def test_other_schemes_entries_in_the_signature_header_are_ignored(runtime):
    event = signed(delivery(runtime), extra=",v0=legacy,v2=" + "f" * 64 + ",scheme=hmac")
    assert invoke(runtime, event)[0] == 200


def test_the_webhook_never_reads_the_api_key(runtime):
    """Its role may not read the API key (tests/infra); its code does not need it either."""
    runtime.stack.client("secretsmanager").delete_secret(
        SecretId=runtime.stack.ref("SyncApiKeySecret"), ForceDeleteWithoutRecovery=True
    )
    assert invoke(runtime, signed(delivery(runtime)))[0] == 200


# --- body size ------------------------------------------------------------------------------
def padded(runtime: LocalRuntime, size: int) -> dict[str, Any]:
    """A signed delivery whose body is exactly ``size`` bytes (JSON, padded with spaces)."""
    event = delivery(runtime)
    event["body"] += " " * (size - len(event["body"].encode()))
    assert len(event["body"].encode()) == size
    return signed(event)


@pytest.mark.parametrize("encoded", [False, True], ids=["text", "base64"])
def test_a_body_of_exactly_the_limit_is_read_and_one_byte_more_is_413(runtime, encoded):
    for size, expected in ((MAX_BODY_BYTES, 200), (MAX_BODY_BYTES + 1, 413)):
        event = padded(runtime, size)
        if encoded:
            event["body"] = base64.b64encode(event["body"].encode()).decode()
            event["isBase64Encoded"] = True
        assert invoke(runtime, event)[0] == expected, size


def test_the_limit_counts_utf8_bytes_not_characters(runtime):
    event = delivery(runtime)
    event["body"] += " " + "é" * (MAX_BODY_BYTES // 2)  # fewer characters than the limit
    assert len(event["body"]) < MAX_BODY_BYTES < len(event["body"].encode())
    assert invoke(runtime, signed(event))[0] == 413


def refusing_large_input(what: str, real: Callable[..., Any]) -> Callable[..., Any]:
    """``real``, except that a call with an argument over the body limit fails the test."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        sizes = [len(a) for a in (*args, *kwargs.values()) if isinstance(a, str | bytes)]
        if any(size > MAX_BODY_BYTES for size in sizes):
            raise AssertionError(f"{what} was given a body over the limit")
        return real(*args, **kwargs)

    return guarded


@pytest.mark.parametrize("encoded", [False, True], ids=["text", "base64"])
def test_a_1_mb_unsigned_body_is_413_without_being_decoded_parsed_or_hashed(
    runtime, monkeypatch, encoded
):
    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a body over the limit reached the signature check or the model")

    # The function's cold start (the invoke below) binds these names from their modules.
    monkeypatch.setattr(syncdrop.webhook_signature, "verify_sync_signature", never)
    monkeypatch.setattr(syncdrop.sync_models.Batch, "model_validate_json", never)
    # Cold start builds AWS clients (botocore reads JSON, signs with HMAC): small inputs pass.
    for module, name in ((base64, "b64decode"), (json, "loads"), (hmac, "new")):
        monkeypatch.setattr(module, name, refusing_large_input(name, getattr(module, name)))
    body = '{"id":"batch_abc123","status":"COMPLETED","pad":"' + "x" * 1_000_000 + '"}'
    event = load_event("webhook_batch_completed.json")
    if encoded:
        body = base64.b64encode(body.encode()).decode()
    event.update(body=body, isBase64Encoded=encoded)
    event["headers"]["sync-signature"] = f"t={int(time.time())},v1={'0' * 64}"
    answer = runtime.functions["ReceiveWebhookFunction"].invoke(event)
    monkeypatch.undo()
    assert answer["statusCode"] == 413
    assert json.loads(answer["body"]) == {"message": "body too large"}
    assert queued(runtime) == []


def test_an_oversized_body_never_reaches_the_secret(runtime):
    """413 comes before the webhook secret is fetched: a flood costs no Secrets Manager call."""
    runtime.stack.client("secretsmanager").delete_secret(
        SecretId=runtime.stack.ref("SyncWebhookSecretValue"), ForceDeleteWithoutRecovery=True
    )
    event = load_event("webhook_batch_completed.json")
    event["body"] = " " * (MAX_BODY_BYTES + 1)
    assert invoke(runtime, event)[0] == 413
    # The control: a request that gets as far as the signature needs the secret, now gone.
    with pytest.raises(Exception, match="ResourceNotFoundException"):
        invoke(runtime, signed(delivery(runtime)))
