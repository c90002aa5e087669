"""The local stack's moto server behind its MotoWorld: DynamoDB's conflicts and faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.policy import RetryPolicy
from syncdrop.errors import StorageError
from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
from syncdrop.ports import Claim
from syncdrop_local.runtime.local_runtime import REPO_ROOT, MotoServer
from syncdrop_local.runtime.moto_world import DynamoFaults
from syncdrop_local.runtime.stack import LocalStack, deploy
from tests.conftest import STACK_PARAMETERS

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
FEW = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002)


@pytest.fixture
def server() -> Iterator[tuple[MotoServer, LocalStack]]:
    moto = MotoServer(DynamoFaults(seed=7))
    endpoint = moto.start()
    try:
        yield moto, deploy(REPO_ROOT, endpoint, STACK_PARAMETERS)
    finally:
        moto.stop()


def chunk(job_id: str, n: int) -> Chunk:
    input_key, manifest_key = chunk_keys(job_id, n)
    return Chunk(job_id, n, ChunkStatus.QUEUED, 20, input_key, manifest_key, updated_at=T0)


def job_store(stack: LocalStack, policy: RetryPolicy | None = None) -> DynamoJobStore:
    if policy is None:
        return DynamoJobStore(stack.client("dynamodb"), stack.ref("JobTable"))
    return DynamoJobStore(
        stack.client("dynamodb"), stack.ref("JobTable"), policy=policy, sleep=lambda _s: None
    )


def test_concurrent_claims_over_http_hold_the_limit(server):
    _moto, stack = server
    store = job_store(stack)
    chunks = [chunk(f"job-{j}", n) for j in range(3) for n in range(1, 5)]
    for c in chunks:
        store.put_chunk(c)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda c: store.claim_for_submission(c, limit=3, now=T0), chunks))
    assert results.count(Claim.CLAIMED) == 3
    assert len(store.open_batch_holders()) == 3
    holders = store.open_batch_holders()
    assert {c.holder for c in chunks if store.get_chunk(c.job_id, c.number).attempts} == holders


def test_overlapping_transactions_get_the_error_aws_gives(server):
    moto, stack = server
    store = job_store(stack)
    chunks = [chunk("job-1", n) for n in (1, 2)]
    for c in chunks:
        store.put_chunk(c)
    raw = stack.client("dynamodb")
    transactions = moto.world.stats["transactions"]
    with moto.world.lock, ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(store.claim_for_submission, chunks[0], limit=2, now=T0)
        deadline = time.monotonic() + 10
        while moto.world.stats["transactions"] == transactions:
            assert time.monotonic() < deadline, "the claim never arrived"
            time.sleep(0.001)
        # The first claim holds the CAPACITY item until it is answered: a second transaction
        # on it is cancelled, the way botocore reports it for DynamoDB.
        with pytest.raises(ClientError) as raised:
            raw.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": stack.ref("JobTable"),
                            "Key": {"pk": {"S": "JOB#job-1"}, "sk": {"S": "CHUNK#00002"}},
                            "UpdateExpression": "SET touched = :t",
                            "ExpressionAttributeValues": {":t": {"BOOL": True}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": stack.ref("JobTable"),
                            "Key": {"pk": {"S": "CAPACITY"}, "sk": {"S": "BATCHES"}},
                            "UpdateExpression": "ADD holders :h",
                            "ExpressionAttributeValues": {":h": {"SS": ["x"]}},
                        }
                    },
                ]
            )
        # A single write to the held item is refused too.
        with pytest.raises(ClientError) as single:
            raw.update_item(
                TableName=stack.ref("JobTable"),
                Key={"pk": {"S": "CAPACITY"}, "sk": {"S": "BATCHES"}},
                UpdateExpression="SET touched = :t",
                ExpressionAttributeValues={":t": {"BOOL": True}},
            )
        moto.world.lock.release()
        try:
            assert held.result(timeout=30) is Claim.CLAIMED
        finally:
            moto.world.lock.acquire()
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert error["Error"]["Message"] == (
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, TransactionConflict]"
    )
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert single.value.response["Error"]["Code"] == "TransactionConflictException"
    # Neither refused request changed anything.
    assert store.open_batch_holders() == {"job-1#1"}
    stored = raw.get_item(
        TableName=stack.ref("JobTable"), Key={"pk": {"S": "JOB#job-1"}, "sk": {"S": "CHUNK#00002"}}
    )
    assert "touched" not in stored["Item"]


def test_injected_conflicts_are_retried_by_the_adapter(server):
    moto, stack = server
    store = job_store(stack, RetryPolicy(attempts=30, base_delay=0.001, max_delay=0.002))
    chunks = [chunk("job-1", n) for n in range(1, 9)]
    for c in chunks:
        store.put_chunk(c)
    moto.world.faults.conflict_rate = 0.5
    results = [store.claim_for_submission(c, limit=5, now=T0) for c in chunks]
    assert results == [Claim.CLAIMED] * 5 + [Claim.NO_CAPACITY] * 3
    assert moto.world.stats["injected_conflicts"] > 0
    assert len(store.open_batch_holders()) == 5


def test_injected_conflicts_past_the_budget_are_storage_errors(server):
    moto, stack = server
    store = job_store(stack, FEW)
    c = chunk("job-1", 1)
    store.put_chunk(c)
    moto.world.faults.conflict_rate = 1.0
    with pytest.raises(StorageError, match="TransactionConflict"):
        store.claim_for_submission(c, limit=5, now=T0)
    assert moto.world.stats["injected_conflicts"] == FEW.attempts
    moto.world.faults.conflict_rate = 0.0
    assert store.get_chunk("job-1", 1).status is ChunkStatus.QUEUED  # nothing half-done
    assert store.claim_for_submission(c, limit=5, now=T0) is Claim.CLAIMED


def test_injected_throttling_is_retried_by_botocore_then_by_the_adapter(server):
    moto, stack = server
    # botocore's own DynamoDB retries, fewer of them (its default backs off for seconds).
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.endpoint_url,
        config=Config(retries={"mode": "legacy", "max_attempts": 2}),
    )
    store = DynamoJobStore(client, stack.ref("JobTable"), policy=FEW, sleep=lambda _s: None)
    c = chunk("job-1", 1)
    moto.world.faults.throttle_rate = 1.0
    with pytest.raises(StorageError, match="ThrottlingException"):
        store.put_chunk(c)
    # botocore tried three times for each of the adapter's three tries.
    assert moto.world.stats["injected_throttles"] == 3 * FEW.attempts
    moto.world.faults.throttle_rate = 0.3
    store = DynamoJobStore(
        client,
        stack.ref("JobTable"),
        policy=RetryPolicy(attempts=10, base_delay=0.001, max_delay=0.002),
        sleep=lambda _s: None,
    )
    store.put_chunk(c)
    assert store.claim_for_submission(c, limit=1, now=T0) is Claim.CLAIMED
    assert store.mark_submitted(c, "batch_1", now=T0) is True
    moto.world.faults.throttle_rate = 0.0
    assert store.get_chunk("job-1", 1).status is ChunkStatus.SUBMITTED


def test_other_services_go_through_the_same_door(server):
    moto, stack = server
    s3 = stack.client("s3")
    bucket = stack.ref("UploadsBucket")
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(Bucket=bucket, Key=f"work/{n}", Body=b"x" * n),
                range(1, 21),
            )
        )
    keys = s3.list_objects_v2(Bucket=bucket, Prefix="work/")["KeyCount"]
    assert keys == 20
    assert moto.world.stats["transactions"] == 0
