"""AWS's own failures from the local stack's MotoWorld: S3 SlowDown, eventually consistent reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.s3_objects import S3ObjectStore
from syncdrop.errors import StorageError
from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
from syncdrop.ports import Claim
from syncdrop_local.runtime.local_runtime import REPO_ROOT, MotoServer
from syncdrop_local.runtime.moto_world import DynamoFaults, S3Faults
from syncdrop_local.runtime.stack import LocalStack, deploy
from tests.conftest import STACK_PARAMETERS

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


class Clock:
    """The world's clock, moved by the test: which writes a lagging replica has seen."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def world() -> Iterator[tuple[MotoServer, LocalStack, Clock]]:
    moto = MotoServer()
    endpoint = moto.start()
    clock = Clock()
    moto.world.clock = clock
    try:
        yield moto, deploy(REPO_ROOT, endpoint, STACK_PARAMETERS), clock
    finally:
        moto.stop()


def few_retries(stack: LocalStack, service: str) -> Any:
    # botocore's own retries, fewer of them (its default backs off for seconds).
    return boto3.client(
        service,
        endpoint_url=stack.endpoint_url,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 2}, signature_version="s3v4"
        ),
    )


def chunk(job_id: str, n: int) -> Chunk:
    input_key, manifest_key = chunk_keys(job_id, n)
    return Chunk(job_id, n, ChunkStatus.QUEUED, 20, input_key, manifest_key, updated_at=T0)


# --- S3 SlowDown --------------------------------------------------------------------------------


def test_s3_slow_down_past_botocores_retries_is_the_error_s3_gives(world):
    moto, stack, _clock = world
    s3 = few_retries(stack, "s3")
    bucket = stack.ref("UploadsBucket")
    moto.world.s3_faults = S3Faults(slow_down_rate=1.0, seed=1)
    with pytest.raises(ClientError) as raised:
        s3.put_object(Bucket=bucket, Key="work/a", Body=b"a")
    error = raised.value.response
    assert error["Error"]["Code"] == "SlowDown"
    assert error["Error"]["Message"] == "Please reduce your request rate."
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert moto.world.stats["injected_slow_downs"] == 2  # botocore tried twice
    # syncdrop's adapter sees it as a storage error (the queue redelivers).
    with pytest.raises(StorageError, match="SlowDown"):
        S3ObjectStore(s3, bucket).put_bytes("work/b", b"b", "text/plain")
    # A presigned GET is S3 too.
    moto.world.s3_faults.slow_down_rate = 0.0
    stack.client("s3").put_object(Bucket=bucket, Key="work/c", Body=b"c")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "work/c"})
    assert "X-Amz-Credential" in url
    moto.world.s3_faults.slow_down_rate = 1.0
    assert httpx.get(url).status_code == 503
    assert moto.world.stats["injected_slow_downs"] == 5


def test_s3_slow_down_at_a_rate_is_absorbed_by_botocore(world):
    moto, stack, _clock = world
    s3, bucket = stack.client("s3"), stack.ref("UploadsBucket")
    moto.world.s3_faults = S3Faults(slow_down_rate=0.3, seed=3)
    for n in range(20):
        s3.put_object(Bucket=bucket, Key=f"work/{n}", Body=b"x")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="work/")["KeyCount"] == 20
    assert moto.world.stats["injected_slow_downs"] > 0


def test_s3_and_dynamodb_faults_roll_their_own_dice(world):
    moto, stack, _clock = world
    s3, bucket = stack.client("s3"), stack.ref("UploadsBucket")
    store = DynamoJobStore(stack.client("dynamodb"), stack.ref("JobTable"))
    moto.world.s3_faults = S3Faults(slow_down_rate=0.15, seed=1)
    moto.world.faults = DynamoFaults(throttle_rate=0.15, seed=1)
    for n in range(1, 16):  # interleaved: one service's requests do not reset the other's dice
        s3.put_object(Bucket=bucket, Key=f"work/{n}", Body=b"x")
        store.put_chunk(chunk("job-1", n))
    assert 0 < moto.world.stats["injected_slow_downs"] < 15
    assert 0 < moto.world.stats["injected_throttles"] < 15


def test_s3_requests_are_not_slowed_down_when_off(world):
    moto, stack, _clock = world
    s3, bucket = stack.client("s3"), stack.ref("UploadsBucket")
    for n in range(20):
        s3.put_object(Bucket=bucket, Key=f"work/{n}", Body=b"x")
    # DynamoDB faults do not touch S3, and S3's do not touch DynamoDB.
    moto.world.faults = DynamoFaults(throttle_rate=1.0)
    s3.get_object(Bucket=bucket, Key="work/1")
    moto.world.faults = DynamoFaults()
    moto.world.s3_faults = S3Faults(slow_down_rate=1.0)
    DynamoJobStore(stack.client("dynamodb"), stack.ref("JobTable")).put_chunk(chunk("job-1", 1))
    assert moto.world.stats["injected_slow_downs"] == 0
    assert moto.world.stats["injected_throttles"] == 0


# --- eventually consistent reads ------------------------------------------------------------


def put_versions(stack: LocalStack, clock: Clock) -> dict[str, Any]:
    """One item created at t=1000 (v1) and changed at t=1001 (v2); the key to read it."""
    db, table = stack.client("dynamodb"), stack.ref("JobTable")
    key = {"pk": {"S": "JOB#versions"}, "sk": {"S": "META"}}
    db.put_item(TableName=table, Item={**key, "v": {"N": "1"}})
    clock.now += 1
    db.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    clock.now += 0.5
    return key


def seen(answer: dict[str, Any]) -> str:
    item = answer.get("Item")
    return item["v"]["N"] if item else "absent"


def test_an_eventually_consistent_get_may_see_the_item_as_it_was(world):
    moto, stack, clock = world
    moto.world.faults = DynamoFaults(stale_read_rate=1.0, stale_seconds=5, seed=4)
    key = put_versions(stack, clock)
    db, table = stack.client("dynamodb"), stack.ref("JobTable")
    reads = [seen(db.get_item(TableName=table, Key=key)) for _ in range(60)]
    # A replica up to five seconds behind: before the put, between the writes, or up to date.
    assert set(reads) == {"absent", "1", "2"}
    assert moto.world.stats["stale_reads"] == 60 - reads.count("2")
    # ConsistentRead is exact, always.
    assert {
        seen(db.get_item(TableName=table, Key=key, ConsistentRead=True)) for _ in range(20)
    } == {"2"}
    # Once stale_seconds have passed since the last write, every replica has it.
    clock.now += 5
    assert {seen(db.get_item(TableName=table, Key=key)) for _ in range(20)} == {"2"}


def test_reads_are_exact_when_stale_reads_are_off(world):
    moto, stack, clock = world
    key = put_versions(stack, clock)
    db, table = stack.client("dynamodb"), stack.ref("JobTable")
    assert {seen(db.get_item(TableName=table, Key=key)) for _ in range(30)} == {"2"}
    moto.world.faults = DynamoFaults(stale_read_rate=0.5, stale_seconds=5, seed=4)
    # History starts when the knob is turned on: earlier writes are seen as they are.
    assert {seen(db.get_item(TableName=table, Key=key)) for _ in range(30)} == {"2"}
    assert moto.world.stats["stale_reads"] == 0


def test_stale_batch_get_and_query_on_the_table(world):
    moto, stack, clock = world
    moto.world.faults = DynamoFaults(stale_read_rate=1.0, stale_seconds=0.2, seed=5)
    key = put_versions(stack, clock)  # both writes are older than 0.2 s
    db, table = stack.client("dynamodb"), stack.ref("JobTable")
    db.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "3"}},
    )
    clock.now += 0.01  # a replica 0..0.2 s behind almost surely missed v3
    batch = db.batch_get_item(RequestItems={table: {"Keys": [key]}})
    assert [i["v"]["N"] for i in batch["Responses"][table]] == ["2"]
    query = {
        "TableName": table,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": key["pk"]},
    }
    assert [i["v"]["N"] for i in db.query(**query)["Items"]] == ["2"]
    assert [i["v"]["N"] for i in db.query(**query, ConsistentRead=True)["Items"]] == ["3"]
    assert moto.world.stats["stale_reads"] == 2


def test_a_gsi_query_sees_items_as_they_were_gsi_lag_seconds_ago(world):
    moto, stack, clock = world
    moto.world.faults = DynamoFaults(gsi_lag_seconds=2.0)
    store = DynamoJobStore(stack.client("dynamodb"), stack.ref("JobTable"))
    first, second = chunk("job-1", 1), chunk("job-1", 2)
    store.put_chunk(first)
    clock.now += 3
    store.put_chunk(second)
    assert store.claim_for_submission(first, limit=5, now=T0) is Claim.CLAIMED
    clock.now += 1
    # The index has not caught up: the claimed chunk is still QUEUED there, the new one absent.
    assert [c.number for c in store.open_chunks(ChunkStatus.QUEUED)] == [1]
    assert store.open_chunks(ChunkStatus.SUBMITTING) == []
    # The table itself, read consistently, is up to date.
    assert store.get_chunk("job-1", 1).status is ChunkStatus.SUBMITTING
    assert moto.world.stats["lagged_index_reads"] == 2
    clock.now += 2
    assert [c.number for c in store.open_chunks(ChunkStatus.QUEUED)] == [2]
    assert [c.number for c in store.open_chunks(ChunkStatus.SUBMITTING)] == [1]
    assert moto.world.stats["lagged_index_reads"] == 2


def test_a_gsi_query_is_exact_without_lag_and_never_consistent(world):
    moto, stack, _clock = world
    store = DynamoJobStore(stack.client("dynamodb"), stack.ref("JobTable"))
    first = chunk("job-1", 1)
    store.put_chunk(first)
    assert store.claim_for_submission(first, limit=5, now=T0) is Claim.CLAIMED
    assert store.open_chunks(ChunkStatus.QUEUED) == []
    assert moto.world.stats["lagged_index_reads"] == 0
    for faults in (DynamoFaults(), DynamoFaults(gsi_lag_seconds=2.0)):
        moto.world.faults = faults
        with pytest.raises(ClientError) as raised:
            stack.client("dynamodb").query(
                TableName=stack.ref("JobTable"),
                IndexName="OpenChunks",
                KeyConditionExpression="open_status = :s",
                ExpressionAttributeValues={":s": {"S": "QUEUED"}},
                ConsistentRead=True,
            )
        assert raised.value.response["Error"]["Code"] == "ValidationException"
        assert raised.value.response["Error"]["Message"] == (
            "Consistent reads are not supported on global secondary indexes"
        )


def test_syncdrops_readers_of_the_table_read_consistently(world):
    moto, stack, clock = world
    moto.world.faults = DynamoFaults(stale_read_rate=1.0, stale_seconds=30, seed=6)
    store = DynamoJobStore(stack.client("dynamodb"), stack.ref("JobTable"))
    chunks = [chunk("job-1", n) for n in (1, 2, 3)]
    for c in chunks:
        store.put_chunk(c)
    clock.now += 0.5
    assert store.claim_for_submission(chunks[0], limit=1, now=T0) is Claim.CLAIMED
    assert store.claim_for_submission(chunks[1], limit=1, now=T0) is Claim.NO_CAPACITY
    assert store.mark_submitted(chunks[0], "batch-1", now=T0) is True
    clock.now += 0.5
    # Every read that decides something sees the latest writes at once.
    assert store.get_chunk("job-1", 1).status is ChunkStatus.SUBMITTED
    assert [c.status for c in store.job_chunks("job-1")] == [
        ChunkStatus.SUBMITTED,
        ChunkStatus.QUEUED,
        ChunkStatus.QUEUED,
    ]
    assert store.open_batch_holders() == {"job-1#1"}
    assert store.get_job("job-1") is None
    assert moto.world.stats["stale_reads"] == moto.world.stats["eventually_consistent_reads"] == 0
    # ... while a read without ConsistentRead would not have.
    raw = stack.client("dynamodb").get_item(
        TableName=stack.ref("JobTable"), Key={"pk": {"S": "JOB#job-1"}, "sk": {"S": "CHUNK#00001"}}
    )
    assert raw.get("Item", {}).get("status", {}).get("S") != "SUBMITTED"
    assert moto.world.stats["stale_reads"] == moto.world.stats["eventually_consistent_reads"] == 1


def test_a_lagging_gsi_query_pages_in_index_order(world):
    moto, stack, clock = world
    moto.world.faults = DynamoFaults(gsi_lag_seconds=2.0)
    store = DynamoJobStore(stack.client("dynamodb"), stack.ref("JobTable"))
    chunks = [chunk("job-1", n) for n in (1, 2, 3)]
    for c in chunks:
        store.put_chunk(c)
    clock.now += 3
    assert store.claim_for_submission(chunks[0], limit=5, now=T0) is Claim.CLAIMED
    clock.now += 0.5
    db, table = stack.client("dynamodb"), stack.ref("JobTable")
    query = {
        "TableName": table,
        "IndexName": "OpenChunks",
        "KeyConditionExpression": "open_status = :s",
        "ExpressionAttributeValues": {":s": {"S": "QUEUED"}},
        "Limit": 2,
    }
    first = db.query(**query)
    # Chunk 1 is still QUEUED in the lagging index, in its place: first.
    assert [i["number"]["N"] for i in first["Items"]] == ["1", "2"]
    assert first["LastEvaluatedKey"]["sk"] == {"S": "CHUNK#00002"}
    second = db.query(**query, ExclusiveStartKey=first["LastEvaluatedKey"])
    assert [i["number"]["N"] for i in second["Items"]] == ["3"]
    backwards = db.query(**query, ScanIndexForward=False)
    assert [i["number"]["N"] for i in backwards["Items"]] == ["3", "2"]
