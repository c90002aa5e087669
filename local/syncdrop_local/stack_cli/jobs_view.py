"""A job and its chunks read by key (GetItem and Query on the job table, never a scan)."""

from __future__ import annotations

from dataclasses import dataclass

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import Chunk, Job, JobStatus
from syncdrop_local.job_progress import ProgressReader
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.stack import Aws, Stack

FINISHED = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.VALIDATED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class JobProgress:
    job: Job
    chunks: list[Chunk]

    @property
    def chunks_done(self) -> int:
        return sum(1 for chunk in self.chunks if not chunk.status.is_open)

    @property
    def chunks_total(self) -> int:
        # A dry run records its plan's size as chunk_count but creates no chunk.
        if self.job.status is JobStatus.VALIDATED:
            return len(self.chunks)
        return max(self.job.chunk_count, len(self.chunks))

    @property
    def chunks_shown(self) -> str:
        return f"{self.chunks_done}/{self.chunks_total}" if self.chunks_total else "-"

    @property
    def finished(self) -> bool:
        return self.job.status in FINISHED


def job_store(aws: Aws, stack: Stack) -> DynamoJobStore:
    return DynamoJobStore(aws.client("dynamodb"), stack.job_table)


def progress_reader(aws: Aws, stack: Stack) -> ProgressReader:
    """Rows done and videos copied, counted on the results table (Query, by key)."""
    return ProgressReader(aws.client("dynamodb"), stack.job_table, stack.results_table)


def find_job(store: DynamoJobStore, job_id: str) -> JobProgress | None:
    job = store.get_job(job_id)
    if job is None:
        return None
    chunks = sorted(store.job_chunks(job_id), key=lambda c: c.number)
    return JobProgress(job=job, chunks=chunks)


def load_job(store: DynamoJobStore, job_id: str, stack: Stack) -> JobProgress:
    """The job, or a one-line error that says how to find the right id."""
    progress = find_job(store, job_id)
    if progress is None:
        raise StackCliError(
            f"no job {job_id} in stack {stack.name}; "
            f"`syncdrop status --stack {stack.name}` lists the recent ones."
        )
    return progress
