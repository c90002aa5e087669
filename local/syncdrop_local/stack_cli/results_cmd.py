"""`syncdrop results JOB --stack S`: downloads the results CSV of a finished job."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from syncdrop.jobs import JobStatus, results_key
from syncdrop_local.stack_cli.bucket import open_results
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.jobs_view import JobProgress, job_store, load_job
from syncdrop_local.stack_cli.stack import Aws, Stack, add_stack_arguments, run_on_stack


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="the job id (job-…), as `syncdrop status` shows it")
    parser.add_argument(
        "--output", type=Path, help="where to write it (default: <name>.results.csv here)"
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 with the file written; 2 (one line) when there is no results CSV (yet)."""
    return run_on_stack(args, lambda aws, stack: results(args, aws, stack))


def results(args: argparse.Namespace, aws: Aws, stack: Stack) -> int:
    progress = load_job(job_store(aws, stack), args.job, stack)
    _require_results(progress, stack)
    job = progress.job
    key = results_key(job.upload.key)
    output: Path = args.output or Path(key.rsplit("/", 1)[-1])
    body = open_results(aws.client("s3"), job.upload.bucket, key, written_by=job.notified_at)
    partial = output.with_name(output.name + ".part")
    try:
        with body, partial.open("wb") as out:
            shutil.copyfileobj(body, out)
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StackCliError(f"cannot write {output}: {error.strerror or error}.") from None
    print(f"wrote {output}: {job.rows:,} rows, from s3://{job.upload.bucket}/{key}")
    return 0


def _require_results(progress: JobProgress, stack: Stack) -> None:
    job = progress.job
    message = " ".join(job.message.split())  # one line, whatever the stored text holds
    if job.status is JobStatus.FAILED:
        raise StackCliError(f"job {job.job_id} has no results CSV: the file was refused. {message}")
    if job.status is JobStatus.VALIDATED:
        raise StackCliError(
            f"job {job.job_id} was a dry run, which writes no results CSV. "
            f"Its verdict: {message.removeprefix('Dry run. ')}"
        )
    if job.status is not JobStatus.COMPLETED:
        raise StackCliError(
            f"job {job.job_id} is not finished yet ({job.status.value}, {progress.chunks_done} "
            f"of {progress.chunks_total} chunks done): its results CSV is written when every "
            f"chunk is over. `syncdrop status {job.job_id} --stack {stack.name}` follows it."
        )
