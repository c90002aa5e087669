"""Read a local stack's state for people: jobs, chunks, batches (used by the demo and tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from syncdrop import keys
from syncdrop_local.runtime.stack import LocalStack

_de = TypeDeserializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def table_items(stack: LocalStack, logical_id: str) -> list[dict[str, Any]]:
    """Every item of a table (a local inspection tool; the functions never scan)."""
    db = stack.client("dynamodb")
    return _every_page(db.scan, {"TableName": stack.ref(logical_id)})


def job_results(stack: LocalStack, job_id: str) -> list[dict[str, Any]]:
    """The results items of one job: a Query of its partition."""
    db = stack.client("dynamodb")
    kwargs = {
        "TableName": stack.ref("ResultsTable"),
        "KeyConditionExpression": "job_id = :j",
        "ExpressionAttributeValues": {":j": {"S": job_id}},
    }
    return _every_page(db.query, kwargs)


def _every_page(call: Callable[..., Any], kwargs: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a Scan or Query, page after page, as plain values."""
    items: list[dict[str, Any]] = []
    while True:
        page = call(**kwargs)
        items.extend(_plain(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}


# What a snapshot shows of a chunk: a one-row chunk's line and manifest stay in the table.
CHUNK_FIELDS = (
    "job_id",
    "number",
    "kind",
    "rows",
    "status",
    "batch_id",
    "results_written",
    "copies_done",
)


def _items(stack: LocalStack, **kwargs: Any) -> list[dict[str, Any]]:
    db = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs["TableName"] = stack.ref("JobTable")
    operation = db.query if "KeyConditionExpression" in kwargs else db.scan
    while True:
        page = operation(**kwargs)
        items.extend(_plain(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def job_snapshot(
    stack: LocalStack, job_id: str | None = None, *, chunks: bool = True
) -> dict[str, Any] | None:
    """The newest job (or ``job_id``, read by its key) with its chunks in order (one Query of
    that job's chunks, their small fields only: a job may have 1,200), or without them."""
    if job_id is not None:
        found = stack.client("dynamodb").get_item(
            TableName=stack.ref("JobTable"), Key=keys.job_key(job_id), ConsistentRead=True
        )
        jobs = [_plain(found["Item"])] if "Item" in found else []
    else:
        jobs = _items(
            stack,
            FilterExpression="#t = :job",
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues={":job": {"S": "job"}},
        )
    if not jobs:
        return None
    job = max(jobs, key=lambda j: j["created_at"])
    return {**_job_fields(stack, job), "chunks": _chunks(stack, job) if chunks else []}


def _chunks(stack: LocalStack, job: dict[str, Any]) -> list[dict[str, Any]]:
    names = {f"#f{i}": name for i, name in enumerate(CHUNK_FIELDS)}
    chunks = sorted(
        _items(
            stack,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :chunk)",
            ProjectionExpression=", ".join(names),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={
                ":pk": {"S": keys.job_pk(job["job_id"])},
                ":chunk": {"S": keys.CHUNK_PREFIX},
            },
        ),
        key=lambda c: int(c["number"]),
    )
    return [
        {
            "number": int(c["number"]),
            "kind": c.get("kind", "BATCH"),
            "rows": int(c["rows"]),
            "status": c["status"],
            "batch_id": c.get("batch_id"),
            # Rows written, videos still being copied into the bucket.
            "copying": bool(c.get("results_written")) and not c.get("copies_done", True),
        }
        for c in chunks
    ]


def _job_fields(stack: LocalStack, job: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_id": job["job_id"],
        "status": job["status"],
        "message": job.get("message", ""),
        "rows": int(job.get("rows", 0)),
        "valid": int(job.get("valid", 0)),
        "rejected": int(job.get("rejected", 0)),
        "batch_concurrency": int(stack.resolver.ref("BatchConcurrency")),
        "notified": bool(job.get("notified_at")),
        "route": job.get("route", "batch"),
        "route_note": job.get("route_note", ""),
        "chunk_count": int(job.get("chunk_count", 0)),
        "chunks_closed": int(job.get("chunks_closed", 0)),
        "bucket": job["bucket"],
        "key": job["key"],
    }
