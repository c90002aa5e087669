"""Read a local stack's state for people: jobs, chunks, batches (used by the demo and tests)."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from syncdrop_local.runtime.stack import LocalStack

_de = TypeDeserializer()


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


def table_items(stack: LocalStack, logical_id: str) -> list[dict[str, Any]]:
    """Every item of a table (a local inspection tool; the functions never scan)."""
    db = stack.client("dynamodb")
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": stack.ref(logical_id)}
    while True:
        page = db.scan(**kwargs)
        items.extend(_plain(i) for i in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def job_snapshot(stack: LocalStack, job_id: str | None = None) -> dict[str, Any] | None:
    """The newest job (or ``job_id``) with its chunks in order."""
    items = table_items(stack, "JobTable")
    jobs = [i for i in items if i.get("type") == "job"]
    if job_id is not None:
        jobs = [j for j in jobs if j["job_id"] == job_id]
    if not jobs:
        return None
    job = max(jobs, key=lambda j: j["created_at"])
    chunks = sorted(
        (i for i in items if i.get("type") == "chunk" and i["job_id"] == job["job_id"]),
        key=lambda c: int(c["number"]),
    )
    return {
        "job_id": job["job_id"],
        "status": job["status"],
        "message": job.get("message", ""),
        "rows": int(job.get("rows", 0)),
        "valid": int(job.get("valid", 0)),
        "rejected": int(job.get("rejected", 0)),
        "batch_concurrency": int(stack.resolver.ref("BatchConcurrency")),
        "notified": bool(job.get("notified_at")),
        "bucket": job["bucket"],
        "key": job["key"],
        "chunks": [
            {
                "number": int(c["number"]),
                "rows": int(c["rows"]),
                "status": c["status"],
                "batch_id": c.get("batch_id"),
                # Rows written, videos still being copied into the bucket.
                "copying": bool(c.get("results_written")) and not c.get("copies_done", True),
            }
            for c in chunks
        ],
    }
