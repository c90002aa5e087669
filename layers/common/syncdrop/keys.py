"""Every key format of syncdrop's two tables, in one place: the adapters and the domain share it."""

from __future__ import annotations

from typing import Any

JOB_PREFIX = "JOB#"
CHUNK_PREFIX = "CHUNK#"
JOB_SK = "JOB"
# The one item holding the set of chunks that hold a batch slot (BatchConcurrency of them).
CAPACITY_KEY: dict[str, Any] = {"pk": {"S": "CAPACITY"}, "sk": {"S": "BATCHES"}}


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


def result_key(job_id: str, row: str) -> dict[str, Any]:
    """One results item: the job and the row's ``row_key``."""
    return {"job_id": {"S": job_id}, "row_key": {"S": row}}
