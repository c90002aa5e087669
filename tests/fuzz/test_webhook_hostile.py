"""receive_webhook under hostile requests: nothing unsigned changes state, nothing is a 5xx.

A signed body changes state only for the chunk its own webhookUrl names (this stack's URL),
whatever the unsigned query says; a body over the limit is refused before it is read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as event_note
from hypothesis import strategies as st
from moto import mock_aws

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
from syncdrop.webhook_signature import MAX_BODY_BYTES
from syncdrop.webhook_url import webhook_url_for
from syncdrop_local.runtime.local_runtime import AWS_TEST_ENV, LocalRuntime
from tests.support.events import WEBHOOK_EVENT_URL, load_event

SECRET = "whsec_fuzz_secret"
JOB = "job-0123456789abcdef01234567"
BATCH = "batch_abc123"
TOLERANCE = 300
TERMINAL = ("COMPLETED", "FAILED")
STATUSES = ("PENDING", "JOBS_CREATED", "PROCESSING", *TERMINAL)
SIGNATURE_NAMES = ("sync-signature", "Sync-Signature", "SYNC-SIGNATURE", "x-signature-primary")
EXAMPLES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Snapshot:
    items: list[dict[str, Any]]
    queued: tuple[str, ...]


class WebhookStack:
    """The deployed stack with one SUBMITTED chunk, and ways to see and reset its state."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.dynamodb = runtime.stack.client("dynamodb")
        self.sqs = runtime.stack.client("sqs")
        self.table = runtime.stack.ref("JobTable")
        self.queue_url = runtime.stack.ref("ResultsQueue")
        self.function = runtime.functions["ReceiveWebhookFunction"]
        self.seeded: list[dict[str, Any]] = []

    def items(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "ConsistentRead": True}
        while True:
            page = self.dynamodb.scan(**kwargs)
            found.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(found, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))

    def queued(self) -> tuple[str, ...]:
        """The results queue's message bodies, left on the queue for the next look."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return tuple(sorted(m["Body"] for m in answer.get("Messages", [])))

    def snapshot(self) -> Snapshot:
        return Snapshot(self.items(), self.queued())

    @property
    def seeded_state(self) -> Snapshot:
        return Snapshot(self.seeded, ())

    def reset(self, seen: Snapshot) -> None:
        """Back to the seeded state (the chunk as seeded, an empty queue) from ``seen``."""
        if seen == self.seeded_state:
            return
        keep = {(i["pk"]["S"], i["sk"]["S"]) for i in self.seeded}
        for item in seen.items:
            if (item["pk"]["S"], item["sk"]["S"]) not in keep:
                key = {"pk": item["pk"], "sk": item["sk"]}
                self.dynamodb.delete_item(TableName=self.table, Key=key)
        for item in self.seeded:
            self.dynamodb.put_item(TableName=self.table, Item=item)
        while messages := self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10
        ).get("Messages"):
            for message in messages:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    def invoke(self, event: dict[str, Any]) -> int:
        """The HTTP status the function answers; an exception is what Lambda turns into a 502."""
        try:
            answer = self.function.invoke(event)
        except Exception as exc:  # any escape is the finding
            pytest.fail(f"the handler raised {type(exc).__name__}: {str(exc)[:200]}")
        status: int = answer["statusCode"]
        return status


@pytest.fixture(scope="module")
def webhooks() -> Iterator[WebhookStack]:
    """Deployed once for the module (deploying is the slow part); tests reset its state."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for key, value in AWS_TEST_ENV.items():
            env.setenv(key, value)
        env.delenv("AWS_PROFILE", raising=False)
        env.delenv("AWS_ENDPOINT_URL", raising=False)
        env.setenv("POWERTOOLS_METRICS_DISABLED", "true")
        runtime = LocalRuntime.start(
            None,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": "sk-x",
                "SyncWebhookSecret": SECRET,
                "SyncApiBaseUrl": "http://127.0.0.1:9",
            },
        )
        try:
            stack = WebhookStack(runtime)
            store = DynamoJobStore(stack.dynamodb, stack.table)
            input_key, manifest_key = chunk_keys(JOB, 1)
            now = datetime.now(UTC)
            chunk = Chunk(JOB, 1, ChunkStatus.QUEUED, 20, input_key, manifest_key, updated_at=now)
            store.put_chunk(chunk)
            store.claim_for_submission(chunk, limit=3, now=now)
            store.mark_submitted(chunk, BATCH, now=now)
            stack.seeded = stack.items()
            yield stack
        finally:
            runtime.stop()


def sign(body: bytes, *, secret: str = SECRET, at: float | None = None) -> str:
    t = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_for(
    body: bytes | str | None,
    *,
    base64_encoded: bool,
    headers: dict[str, str],
    query: dict[str, str] | None,
) -> dict[str, Any]:
    """events/webhook_batch_completed.json with this request's body, headers and query."""
    event = load_event("webhook_batch_completed.json")
    if body is None:
        event["body"] = None
    elif base64_encoded:
        raw = body if isinstance(body, bytes) else body.encode()
        event["body"] = base64.b64encode(raw).decode()
    else:
        event["body"] = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    event["isBase64Encoded"] = base64_encoded
    event["headers"] = headers
    event["queryStringParameters"] = query
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    return event


def raw_bytes(event: dict[str, Any]) -> bytes:
    """The bytes the function verifies: what the sender signed."""
    if event["body"] is None:
        return b""
    if event["isBase64Encoded"]:
        return base64.b64decode(event["body"])
    return str(event["body"]).encode()


# --- what hostile requests carry ----------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
batch_like = st.fixed_dictionaries(
    {
        "id": st.sampled_from([BATCH, "batch_other", "", BATCH.upper()]) | st.text(max_size=12),
        "status": st.sampled_from([*STATUSES, "completed", "CANCELED", ""]) | json_values,
    },
    optional={
        "metrics": st.dictionaries(
            st.sampled_from(["total_generations", "failed_count"]), json_values
        ),
        "outputUrl": st.sampled_from(["https://evil.example.com/x.jsonl", ""]) | json_values,
        "created_at": st.sampled_from(["2026-11-29T10:00:00Z", "yesterday"]) | json_values,
        "webhookUrl": st.text(max_size=30),
    },
)
HUGE = "h" * 300_000
json_bodies = st.builds(
    lambda value, ascii_only: json.dumps(value, ensure_ascii=ascii_only),
    batch_like | json_values,
    st.booleans(),
)
bodies = (
    json_bodies
    | st.text(max_size=300)
    | st.binary(max_size=300)
    | st.none()
    | st.sampled_from(
        [
            load_event("webhook_batch_completed.json")["body"],
            "[" * 5_000 + "]" * 5_000,
            '{"id": "' + HUGE + '", "status": "COMPLETED"}',
            "\ufeff" + load_event("webhook_batch_completed.json")["body"],
        ]
    )
)
# Bodies and queries that reach the chunk: Sync's own shape, for the seeded job and chunk.
# The body's webhookUrl is a (job, chunk) of this stack's URL, another deployment's URL, or
# absent; ``rendered`` writes it in once the stack's URL is known.
OTHER_DEPLOYMENT = "https://other.execute-api.us-east-1.amazonaws.com/sync/webhook"
webhook_owners = st.sampled_from(
    [(JOB, 1), (JOB, 1), (JOB, 2), ("job-x", 1), ("other", JOB, 1), None, "garbage"]
)
status_payloads = st.fixed_dictionaries(
    {
        "id": st.sampled_from([BATCH, BATCH, "batch_other"]),
        "status": st.sampled_from(STATUSES),
        "webhookUrl": webhook_owners,
    },
    optional={
        "outputUrl": st.sampled_from(["https://evil.example.com/x.jsonl", ""]),
        "note": json_values,
    },
)


def rendered(payload: dict[str, Any], base: str) -> str:
    owner = payload["webhookUrl"]
    body = {k: v for k, v in payload.items() if k != "webhookUrl"}
    if isinstance(owner, tuple) and owner[0] == "other":
        body["webhookUrl"] = webhook_url_for(OTHER_DEPLOYMENT, owner[1], owner[2])
    elif isinstance(owner, tuple):
        body["webhookUrl"] = webhook_url_for(base, *owner)
    elif owner is not None:
        body["webhookUrl"] = owner
    return json.dumps(body)


seeded_queries = st.fixed_dictionaries(
    {"job": st.sampled_from([JOB, JOB, "job-x"]), "chunk": st.sampled_from(["1", "01", "2"])}
)
query_values = st.sampled_from([JOB, "1", "01", "0", "-1", "1.0", " 1", "", "job-x"]) | st.text(
    max_size=30
)
queries = st.none() | st.dictionaries(
    st.sampled_from(["job", "chunk", "batch", "JOB"]) | st.text(max_size=8),
    query_values,
    max_size=4,
)
header_names = st.sampled_from(
    ["content-type", "user-agent", "x-forwarded-for", "sync-signature-2", "x-sync-signature"]
) | st.text(min_size=1, max_size=20)
header_values = st.text(max_size=60) | st.sampled_from([HUGE, "t=1,v1=" + "a" * 100_000])
extra_headers = st.dictionaries(header_names, header_values, max_size=5)

# Signatures that are never a valid, fresh one by SECRET over the body they come with.
FORGERIES = (
    "absent",
    "random",
    "malformed",
    "other-secret",
    "secret-without-prefix",
    "other-body",
    "stale",
    "from-the-future",
    "valid-under-another-name",
    "valid-but-truncated",
    "huge",
)


def forged_headers(kind: str, body: bytes, noise: str, offset: int) -> dict[str, str]:
    now = time.time()
    signature = {
        "absent": None,
        "random": noise,
        "malformed": f"t={int(now)};v1={noise}",
        "other-secret": sign(body, secret="whsec_someone_else"),
        "secret-without-prefix": sign(body, secret=SECRET.removeprefix("whsec_")),
        "other-body": sign(b"tampered:" + body),
        "stale": sign(body, at=now - TOLERANCE - 2 - offset),
        # A minute past the window: a slow machine cannot bring it back inside.
        "from-the-future": sign(body, at=now + TOLERANCE + 60 + offset),
        "valid-under-another-name": None,
        "valid-but-truncated": sign(body)[:-1],
        "huge": "t=" + str(int(now)) + ",v1=" + "ab" * 200_000,
    }[kind]
    headers = {}
    if kind == "valid-under-another-name":
        headers["sync_signature"] = sign(body)
        headers["x-signature"] = sign(body)
    if signature is not None:
        headers[SIGNATURE_NAMES[offset % len(SIGNATURE_NAMES)]] = signature
    return headers


@EXAMPLES
@given(
    body=bodies,
    base64_encoded=st.booleans(),
    forgery=st.sampled_from(FORGERIES),
    noise=st.text(max_size=80),
    offset=st.integers(0, 10**9),
    extra=extra_headers,
    query=queries,
)
def test_a_request_without_a_valid_fresh_signature_is_401_and_changes_nothing(
    webhooks: WebhookStack,
    body: bytes | str | None,
    base64_encoded: bool,
    forgery: str,
    noise: str,
    offset: int,
    extra: dict[str, str],
    query: dict[str, str] | None,
) -> None:
    event = event_for(body, base64_encoded=base64_encoded, headers={}, query=query)
    signed_names = {name.lower() for name in SIGNATURE_NAMES}
    headers = {k: v for k, v in extra.items() if k.lower() not in signed_names}
    headers.update(forged_headers(forgery, raw_bytes(event), noise, offset))
    event["headers"] = headers

    status = webhooks.invoke(event)

    after = webhooks.snapshot()
    webhooks.reset(after)
    assert status == (413 if len(raw_bytes(event)) > MAX_BODY_BYTES else 401)
    assert after == webhooks.seeded_state


@EXAMPLES
@given(
    # Three in four in Sync's shape (one_of would weigh each of ``bodies``' branches alike).
    body=st.integers(0, 3).flatmap(lambda n: bodies if n == 0 else status_payloads),
    base64_encoded=st.booleans(),
    name=st.sampled_from(SIGNATURE_NAMES),
    extra=extra_headers,
    query=st.one_of(seeded_queries, seeded_queries, st.none(), queries),
)
def test_a_signed_request_with_any_body_or_query_is_never_a_5xx_and_the_body_names_the_chunk(
    webhooks: WebhookStack,
    body: dict[str, Any] | bytes | str | None,
    base64_encoded: bool,
    name: str,
    extra: dict[str, str],
    query: dict[str, str] | None,
) -> None:
    """The query string is not signed, so a signed body can come with any query."""
    if isinstance(body, dict):
        body = rendered(body, WEBHOOK_EVENT_URL)
    event = event_for(body, base64_encoded=base64_encoded, headers={}, query=query)
    signed_names = {n.lower() for n in SIGNATURE_NAMES}
    headers = {k: v for k, v in extra.items() if k.lower() not in signed_names}
    headers[name] = sign(raw_bytes(event))
    event["headers"] = headers

    status = webhooks.invoke(event)

    after = webhooks.snapshot()
    webhooks.reset(after)
    event_note(f"answered {status}")
    assert status in (200, 400, 404, 409, 413)
    assert (status == 413) == (len(raw_bytes(event)) > MAX_BODY_BYTES)
    if status != 200:
        assert after == webhooks.seeded_state
        return
    # Accepted: only for the seeded chunk's own batch, and it records what Sync said.
    sent = json.loads(raw_bytes(event).decode("utf-8-sig"))
    if sent.get("webhookUrl"):
        # Named by the signed body; a query may only repeat it.
        assert sent["webhookUrl"] == webhook_url_for(WEBHOOK_EVENT_URL, JOB, 1)
        assert query is None or query.get("job", JOB) == JOB
        assert query is None or query.get("chunk", "1") == "1"
    else:
        # No webhookUrl: the query found a chunk that already held this batch.
        assert query is not None
        assert (query.get("job"), query.get("chunk")) == (JOB, "1")
    assert sent["id"] == BATCH
    assert sent["status"] in STATUSES
    (chunk,) = [i for i in after.items if i["sk"]["S"].startswith("CHUNK#")]
    assert chunk["last_sync_status"]["S"] == sent["status"]
    expected = (
        [{"kind": "chunk", "job_id": JOB, "chunk": 1, "batch_id": BATCH}]
        if sent["status"] in TERMINAL
        else []
    )
    assert [json.loads(body) for body in after.queued] == expected


def test_the_fixture_event_signed_by_the_secret_is_accepted(webhooks: WebhookStack) -> None:
    """The positive control: without it every 401 above could be a broken stack."""
    event = load_event("webhook_batch_completed.json")
    body = json.loads(event["body"])
    body["webhookUrl"] = webhook_url_for(WEBHOOK_EVENT_URL, JOB, 1)
    event["body"] = json.dumps(body, separators=(",", ":"))
    event["headers"]["sync-signature"] = sign(event["body"].encode())

    status = webhooks.invoke(event)

    after = webhooks.snapshot()
    webhooks.reset(after)
    assert status == 200
    assert len(after.queued) == 1
    assert webhooks.snapshot() == webhooks.seeded_state  # and reset really resets


@pytest.mark.parametrize("chunk", ["²", "1" * 4301], ids=["superscript-two", "4301-digits"])
@pytest.mark.parametrize("with_url", [True, False], ids=["webhook-url", "no-webhook-url"])
def test_a_signed_request_whose_chunk_is_digits_int_cannot_read_is_not_a_5xx(
    webhooks: WebhookStack, chunk: str, with_url: bool
) -> None:
    event = load_event("webhook_batch_completed.json")
    body = json.loads(event["body"])
    body["webhookUrl"] = (
        webhook_url_for(WEBHOOK_EVENT_URL, JOB, 1).replace("chunk=1", f"chunk={chunk}")
        if with_url
        else None
    )
    event["body"] = json.dumps(body)
    event["queryStringParameters"] = {"job": JOB, "chunk": chunk}
    event["headers"]["sync-signature"] = sign(event["body"].encode())

    status = webhooks.invoke(event)

    after = webhooks.snapshot()
    webhooks.reset(after)
    assert status in (404, 409)
    assert after == webhooks.seeded_state


def test_a_1_mb_body_is_413_signed_or_not(webhooks: WebhookStack) -> None:
    event = load_event("webhook_batch_completed.json")
    event["body"] = event["body"][:-1] + ',"pad":"' + "x" * 1_000_000 + '"}'
    for signature in (sign(event["body"].encode()), "t=1,v1=00"):
        event["headers"]["sync-signature"] = signature
        status = webhooks.invoke(event)
        after = webhooks.snapshot()
        webhooks.reset(after)
        assert status == 413
        assert after == webhooks.seeded_state
