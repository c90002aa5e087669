"""`syncdrop results JOB --stack S`: downloads the results CSV of a finished job."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from pathlib import Path

from syncdrop.jobs import JobStatus, results_key
from syncdrop.report.wording import plural
from syncdrop_local.job_progress import CopyCount
from syncdrop_local.stack_cli.bucket import open_results
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.jobs_view import JobProgress, job_store, load_job, progress_reader
from syncdrop_local.stack_cli.stack import Aws, Stack, add_stack_arguments, run_on_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="the job id (job-…), as `syncdrop status` shows it")
    parser.add_argument(
        "--output", type=Path, help="where to write it (default: <name>.results.csv here)"
    )
    parser.add_argument(
        "-f", "--force", action="store_true", help="overwrite the file if it exists already"
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 with the file written; 2 (one line) when there is no results CSV (yet)."""
    return run_on_stack(args, lambda aws, stack: results(args, aws, stack))


def results(args: argparse.Namespace, aws: Aws, stack: Stack) -> int:
    progress = load_job(job_store(aws, stack), args.job, stack)

    def copies() -> CopyCount:
        counts = progress_reader(aws, stack).read(args.job)
        return counts.totals.copies if counts else CopyCount()

    _require_results(progress, stack, copies)
    job = progress.job
    key = results_key(job.upload.key)
    output: Path = args.output or Path(key.rsplit("/", 1)[-1])
    if output.exists() and not args.force:
        # An earlier download, or the person's own edits of it: never lost without being asked.
        raise StackCliError(
            f"{output} exists already: pass --force (-f) to overwrite it, or --output to write "
            "the results somewhere else."
        )
    body = open_results(aws.client("s3"), job.upload.bucket, key, written_by=job.notified_at)
    partial = output.with_name(output.name + ".part")
    try:
        with body, partial.open("wb") as out:
            shutil.copyfileobj(body, out)
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StackCliError(f"cannot write {output}: {error.strerror or error}.") from None
    print(f"wrote {output}: {plural(job.rows, 'row')}, from s3://{job.upload.bucket}/{key}")
    return 0


def _require_results(progress: JobProgress, stack: Stack, copies: Callable[[], CopyCount]) -> None:
    job = progress.job
    message = " ".join(job.message.split())  # one line, whatever the stored text holds
    if job.status is JobStatus.FAILED:
        raise StackCliError(f"job {job.job_id} has no results CSV: the file was refused. {message}")
    if job.status is JobStatus.VALIDATED:
        raise StackCliError(
            f"job {job.job_id} was a dry run, which writes no results CSV. "
            f"Its verdict: {message.removeprefix('Dry run. ')}"
        )
    follow = f"`syncdrop status {job.job_id} --stack {stack.name}` follows it."
    if job.status is JobStatus.RUNNING and progress.chunks_done == progress.chunks_total > 0:
        counted = copies()
        if counted.over < counted.to_copy:
            raise StackCliError(
                f"job {job.job_id} is not finished yet: every chunk is back from Sync and its "
                f"videos are being copied into the bucket ({counted.over:,} of "
                f"{counted.to_copy:,} copied); its results CSV is written once they are. {follow}"
            )
        raise StackCliError(
            f"job {job.job_id} is not finished yet: every chunk is over and its results CSV is "
            f"being written. {follow}"
        )
    if job.status not in (JobStatus.COMPLETED, JobStatus.CANCELLED):
        raise StackCliError(
            f"job {job.job_id} is not finished yet ({job.status.value}, {progress.chunks_done} "
            f"of {progress.chunks_total} chunks done): its results CSV is written when every "
            f"chunk is over. `syncdrop status {job.job_id} --stack {stack.name}` follows it."
        )
