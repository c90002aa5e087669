"""Every key format of syncdrop's two tables, in one place: the adapters and the domain share it."""

from __future__ import annotations

from typing import Any

JOB_PREFIX = "JOB#"
CHUNK_PREFIX = "CHUNK#"
JOB_SK = "JOB"
# The one item holding the set of chunks that hold a batch slot (BatchConcurrency of them).
CAPACITY_KEY: dict[str, Any] = {"pk": {"S": "CAPACITY"}, "sk": {"S": "BATCHES"}}
# The same for single generations (GenerationConcurrency of them, Sync's per-plan limit).
GENERATION_CAPACITY_KEY: dict[str, Any] = {"pk": {"S": "CAPACITY"}, "sk": {"S": "GENERATIONS"}}
# The pacing of POST /v2/generate across every function (GenerateRequestsPerMinute).
GENERATE_PACE_KEY: dict[str, Any] = {"pk": {"S": "PACE"}, "sk": {"S": "GENERATE"}}
# What Sync said about this account's Batch API access (a 402 is remembered here).
BATCH_ACCESS_KEY: dict[str, Any] = {"pk": {"S": "ACCOUNT"}, "sk": {"S": "BATCH_ACCESS"}}
# The OpenChunks index keeps generations apart from batches: a queue of 1,200 single
# generations never hides a batch chunk queued behind them, and each is polled its own way.
GENERATION_OPEN_PREFIX = "GENERATION#"


def capacity_key(generation: bool) -> dict[str, Any]:
    return GENERATION_CAPACITY_KEY if generation else CAPACITY_KEY


def open_status_value(status: str, generation: bool) -> str:
    """A chunk's partition in the OpenChunks index: its status, apart for generations."""
    return f"{GENERATION_OPEN_PREFIX}{status}" if generation else status


def job_pk(job_id: str) -> str:
    """The partition of one job: its job item and its chunk items."""
    return f"{JOB_PREFIX}{job_id}"


def chunk_sk(number: int) -> str:
    """Chunk numbers sort as text, so pad them."""
    return f"{CHUNK_PREFIX}{number:05d}"


def job_key(job_id: str) -> dict[str, Any]:
    return {"pk": {"S": job_pk(job_id)}, "sk": {"S": JOB_SK}}


def chunk_key(job_id: str, number: int) -> dict[str, Any]:
    return {"pk": {"S": job_pk(job_id)}, "sk": {"S": chunk_sk(number)}}


def open_since(at: str, job_id: str, number: int) -> str:
    """The OpenChunks index's sort key of a chunk: when it entered its status, then which
    chunk (two chunks moved in the same millisecond stay distinct and ordered)."""
    return f"{at}#{job_id}#{number:05d}"


def row_key(row_number: int) -> str:
    """The results table's sort key: row numbers sort as text, so pad them."""
    return f"{row_number:010d}"


ASSET_PREFIX = "ASSET#"


def asset_key(bucket: str, key: str, content_id: str) -> dict[str, Any]:
    """The job-table item of one media file's content (its version id, else its ETag)."""
    return {"pk": {"S": f"{ASSET_PREFIX}{bucket}/{key}"}, "sk": {"S": content_id}}


def result_key(job_id: str, row: str) -> dict[str, Any]:
    """One results item: the job and the row's ``row_key``."""
    return {"job_id": {"S": job_id}, "row_key": {"S": row}}
