"""`syncdrop cancel JOB --stack S`: stops a job. Its queued chunks are never sent to Sync; the
batches already at Sync finish and are collected; the one email reports the cancelled job."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from syncdrop.jobs import ChunkStatus, Job, JobStatus
from syncdrop.messages import ResultsMessage
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.jobs_view import JobProgress, job_store, load_job
from syncdrop_local.stack_cli.stack import Aws, Stack, add_stack_arguments, run_on_stack

RUNNING = (JobStatus.RECEIVED, JobStatus.RUNNING)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="the job id (job-…), as `syncdrop status` shows it")
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 once the job is cancelled (or was already); 2 (one line) when it cannot be."""
    return run_on_stack(args, lambda aws, stack: cancel(args, aws, stack))


def who_and_when(aws: Aws, now: datetime) -> str:
    """The caller's identity (GetCallerIdentity needs no permission) and the time, for the
    results CSV's reason and the email."""
    arn = str(aws.client("sts").get_caller_identity().get("Arn", "")) or "an unknown caller"
    return f"{arn} at {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def cancel(args: argparse.Namespace, aws: Aws, stack: Stack) -> int:
    store = job_store(aws, stack)
    progress = load_job(store, args.job, stack)
    _require_running(progress.job)
    if not store.request_cancel(progress.job.job_id, who_and_when(aws, datetime.now(UTC))):
        # Finished (or its report began) between the read and the write.
        _require_running(load_job(store, args.job, stack).job, reporting=True)
    # fan_out_results closes the queued chunks and, once every chunk is over, sends the email.
    aws.client("sqs").send_message(
        QueueUrl=stack.output("ResultsQueueUrl"),
        MessageBody=ResultsMessage.for_job(progress.job.job_id).to_json(),
    )
    _print_outcome(load_job(store, args.job, stack), stack)
    return 0


def _require_running(job: Job, *, reporting: bool = False) -> None:
    if job.notified_at is not None or job.status not in RUNNING:
        raise StackCliError(
            f"job {job.job_id} is finished ({job.status.value}): there is nothing to cancel."
        )
    if reporting:
        raise StackCliError(
            f"job {job.job_id} has finished every chunk and its report is being written: "
            "there is nothing left to cancel."
        )


def _print_outcome(progress: JobProgress, stack: Stack) -> None:
    job = progress.job
    at_sync = sum(
        1 for c in progress.chunks if c.status in (ChunkStatus.SUBMITTING, ChunkStatus.SUBMITTED)
    )
    queued = sum(1 for c in progress.chunks if c.status is ChunkStatus.QUEUED)
    print(f"job       {job.job_id}  cancel requested by {job.cancel_requested}")
    print(f"at Sync   {at_sync} chunk{'s' if at_sync != 1 else ''}: they finish and are collected")
    print(f"queued    {queued} chunk{'s' if queued != 1 else ''}: never sent (rows CANCELLED)")
    print(f"follow it with: syncdrop status {job.job_id} --stack {stack.name}")
