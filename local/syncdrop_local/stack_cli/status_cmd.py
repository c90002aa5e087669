"""`syncdrop status [JOB] --stack S [--watch]`: the recent jobs, or one job with its chunks
(followed until it ends with --watch)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from syncdrop.jobs import JobStatus, outputs_prefix, results_key
from syncdrop_local.job_progress import CopyCount
from syncdrop_local.job_progress import JobProgress as Counts
from syncdrop_local.progress_display import copies_text
from syncdrop_local.stack_cli.bucket import recent_uploads
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.jobs_view import (
    JobProgress,
    find_job,
    job_store,
    load_job,
    progress_reader,
)
from syncdrop_local.stack_cli.stack import Aws, Stack, add_stack_arguments, run_on_stack
from syncdrop_local.stack_cli.watch import watch

MAX_LIMIT = 100


def _limit(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", nargs="?", help="a job id (job-…); without it, the recent jobs")
    parser.add_argument(
        "--limit",
        type=_limit,
        default=10,
        help=f"how many recent uploads to show (default: %(default)s, at most {MAX_LIMIT})",
    )
    parser.add_argument(
        "--watch",
        action="store_true",
        help="follow JOB until it ends; the exit code says how (docs/cli.md)",
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return run_on_stack(args, lambda aws, stack: status(args, aws, stack))


def status(args: argparse.Namespace, aws: Aws, stack: Stack) -> int:
    if args.watch:
        if not args.job:
            raise StackCliError("--watch follows one job: give its id (job-…).")
        return watch(aws, stack, args.job)
    if args.job:
        progress = load_job(job_store(aws, stack), args.job, stack)
        show_job(progress, stack, progress_reader(aws, stack).read(args.job))
    else:
        show_recent(aws, stack, args.limit)
    return 0


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def show_recent(aws: Aws, stack: Stack, limit: int) -> None:
    """Newest uploads first: the job each one became (GetItem + Query per upload)."""
    uploads = recent_uploads(aws.client("s3"), stack.uploads_bucket, limit)
    if not uploads:
        print(f"no uploads under s3://{stack.uploads_bucket}/incoming/ yet.")
        return
    store = job_store(aws, stack)
    reader = progress_reader(aws, stack)
    print(
        f"{'JOB':<28}  {'STATUS':<9}  {'ROWS':>7}  {'VALID':>7}  {'REJECTED':>8}  "
        f"{'CHUNKS':>7}  {'UPLOADED':<23}  FILE"
    )
    for upload in uploads:
        progress = find_job(store, upload.job_id)
        if progress is None:  # the S3 event has not been handled yet
            counts = f"{'WAITING':<9}  {'':>7}  {'':>7}  {'':>8}  {'':>7}"
        else:
            job = progress.job
            counts = (
                f"{job.status.value:<9}  {job.rows:>7,}  {job.valid:>7,}  {job.rejected:>8,}  "
                f"{progress.chunks_shown:>7}"
            )
        print(f"{upload.job_id:<28}  {counts}  {_when(upload.uploaded_at):<23}  {upload.key}")
        counted = reader.read(upload.job_id) if progress and _copying(progress) else None
        if counted is not None:
            copies = counted.totals.copies
            print(f"{'':<28}  copying videos: {copies.over:,} of {copies.to_copy:,} copied")


def _copying(progress: JobProgress) -> bool:
    """Running with every row written, some videos still being copied into the bucket."""
    return progress.job.status is JobStatus.RUNNING and any(
        c.results_written and not c.copies_done for c in progress.chunks
    )


def show_job(progress: JobProgress, stack: Stack, counts: Counts | None = None) -> None:
    job, upload = progress.job, progress.job.upload
    print(f"job       {job.job_id}  {job.status.value}")
    version = f" (version {upload.version_id})" if upload.version_id else ""
    print(f"file      s3://{upload.bucket}/{upload.key}{version}")
    print(f"received  {_when(job.created_at)}")
    print(f"rows      {job.rows:,}: {job.valid:,} valid, {job.rejected:,} rejected")
    if job.status is JobStatus.VALIDATED:
        print("chunks    none: a dry run creates no batch")
    else:
        print(f"chunks    {progress.chunks_done} of {progress.chunks_total} done")
    totals = counts.totals if counts else None
    if totals and totals.copies.to_copy:
        copied = copies_text(totals).replace("videos copied", "copied", 1)
        still = "; still copying" if totals.copying else ""
        where = f"s3://{upload.bucket}/outputs/{outputs_prefix(upload.key)}/"
        print(f"videos    {copied} into {where}{still}")
    if job.message:
        print(f"message   {job.message}")
    if job.retry_of:
        print(f"retry of  {job.retry_of}")
    if job.cancel_requested:
        print(f"cancelled by {job.cancel_requested}")
    if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        print(f"results   s3://{upload.bucket}/{results_key(upload.key)}")
        print(f"          syncdrop results {job.job_id} --stack {stack.name}")
    if progress.chunks:
        print()
        copies = {c.number: c.copies for c in counts.chunks if c.number} if counts else {}
        print(f"{'CHUNK':>5}  {'ROWS':>5}  {'STATUS':<10}  {'BATCH':<36}  {'SYNC':<10}  VIDEOS")
        for chunk in progress.chunks:
            print(
                f"{chunk.number:>5}  {chunk.rows:>5}  {chunk.status.value:<10}  "
                f"{chunk.batch_id or '-':<36}  {chunk.last_sync_status or '-':<10}  "
                f"{_copied(copies.get(chunk.number))}"
            )


def _copied(copies: CopyCount | None) -> str:
    return f"{copies.over}/{copies.to_copy}" if copies and copies.to_copy else "-"
