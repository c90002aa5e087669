"""`syncdrop retry JOB --stack S [--include-rejected FIXED.csv]`: drops a new file under
incoming/ holding the rows Sync failed in a finished job (and the rows the person fixed),
tagged with the job it retries."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop.intake import AcceptedRow, UploadReader
from syncdrop.jobs import Job, JobStatus, UploadRef
from syncdrop.report import RowStatus
from syncdrop.retry_tag import RETRY_OF_METADATA
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.jobs_view import job_store, load_job
from syncdrop_local.stack_cli.limits import intake_limits
from syncdrop_local.stack_cli.retry_file import (
    csv_bytes,
    failed_row,
    fixed_row,
    next_retry_key,
    retry_base,
    retry_header,
)
from syncdrop_local.stack_cli.stack import Aws, Stack, add_stack_arguments, run_on_stack
from syncdrop_local.validate_cmd import check_file

_REJECTIONS_SHOWN = 5
# Another retry of the same job may take the same number at the same moment: try the next.
_KEY_ATTEMPTS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", help="the finished job (job-…) whose failed rows to resubmit")
    parser.add_argument(
        "--include-rejected",
        type=Path,
        metavar="FIXED.csv",
        help="also send these rows: rejected rows you fixed, with the original file's columns",
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 once the new file is uploaded; 2 (one line) when there is nothing to retry,
    the job is still running, or the rows do not pass the stack's checks."""
    return run_on_stack(args, lambda aws, stack: retry(args, aws, stack))


def retry(args: argparse.Namespace, aws: Aws, stack: Stack) -> int:
    job = load_job(job_store(aws, stack), args.job, stack).job
    _require_retryable(job, stack)
    header = retry_header(job.columns or [])
    # One Query of the job's partition in the results table, never a scan.
    results = DynamoResultStore(aws.client("dynamodb"), stack.output("ResultsTableName"))
    failed = [
        failed_row(header, item)
        for item in results.job_rows(job.job_id)
        if item.get("status") == RowStatus.FAILED.value
    ]
    fixed = _fixed_rows(args.include_rejected, header, stack) if args.include_rejected else []
    if not failed and not fixed:
        raise StackCliError(
            f"job {job.job_id} has no rows that Sync failed: nothing to retry (rejected rows "
            "go again with --include-rejected FIXED.csv once you have fixed them)."
        )
    body = csv_bytes(header, [*failed, *fixed])
    _check_whole(body, stack)
    key, version = _put_new(aws, stack, job, body)
    print(f"retry of {job.job_id}: {len(failed):,} failed rows, {len(fixed):,} fixed rows")
    print(f"uploaded  s3://{stack.uploads_bucket}/{key}")
    if version:
        new_job = UploadRef(stack.uploads_bucket, key, version).job_id
        print(f"job       {new_job}")
        print(f"follow it with: syncdrop status {new_job} --stack {stack.name}")
    return 0


def _require_retryable(job: Job, stack: Stack) -> None:
    if job.status is JobStatus.VALIDATED:
        raise StackCliError(f"job {job.job_id} was a dry run: no row went to Sync to fail.")
    if job.notified_at is None:
        raise StackCliError(
            f"job {job.job_id} is still running ({job.status.value}): retry it once its email "
            f"has gone out (`syncdrop status {job.job_id} --stack {stack.name}`), or stop it "
            "with `syncdrop cancel`."
        )
    if job.upload.kind != "csv":
        raise StackCliError(
            f"job {job.job_id} came from a JSONL file; `syncdrop retry` writes CSV files and "
            "retries CSV uploads only."
        )


def _fixed_rows(path: Path, header: list[str], stack: Stack) -> list[list[str]]:
    """The fixed rows, read and checked by intake's own reader under the stack's rules."""
    limits = intake_limits(stack)
    try:
        stream = path.open("rb")
    except OSError as error:
        raise StackCliError(f"cannot read {path}: {error.strerror or error}.") from None
    rows: list[list[str]] = []
    rejected: list[str] = []
    with stream:
        reader = UploadReader(stream, kind="csv", rules=limits.rules)
        try:
            for outcome in reader:
                if isinstance(outcome, AcceptedRow):
                    rows.append(fixed_row(header, outcome.columns))
                else:
                    rejected.append(f"  row {outcome.row_number}: {outcome.reason}")
        except Exception as error:  # FileRejected: the file as a whole cannot be used
            raise StackCliError(f"{path.name}: {getattr(error, 'message', error)}") from None
    known = {name.strip().lower() for name in header}
    unknown = [name for name in reader.columns if name.strip().lower() not in known]
    if unknown:
        raise StackCliError(
            f"{path.name} has columns the original file does not ({', '.join(unknown)}): "
            "give it the original file's columns."
        )
    if rejected:
        for line in rejected[:_REJECTIONS_SHOWN]:
            print(line)
        raise StackCliError(
            f"{path.name}: {len(rejected):,} of its rows are still rejected; fix them "
            "(`syncdrop validate` shows why) and run retry again."
        )
    return rows


def _check_whole(body: bytes, stack: Stack) -> None:
    """The new file as `syncdrop upload` would check it (a fixed row's request_id may clash
    with a failed row's, for one)."""
    limits = intake_limits(stack)
    with tempfile.NamedTemporaryFile(suffix=".csv") as spool:
        spool.write(body)
        spool.flush()
        check = check_file(
            Path(spool.name),
            limits.rules,
            kind="csv",
            min_lines=limits.min_lines,
            max_lines=limits.max_lines,
            max_bytes=limits.max_bytes,
            mode=limits.mode,
        )
    if check.file_error is not None:
        raise StackCliError(f"the retry file would be refused: {check.file_error}")
    if check.errors:
        for error in check.errors[:_REJECTIONS_SHOWN]:
            print(f"  row {error['row']} (request_id {error['request_id']}): {error['reason']}")
        raise StackCliError(
            f"{len(check.errors):,} rows of the retry file would be rejected; nothing was "
            "uploaded. Give the fixed rows request_ids of their own."
        )


def _put_new(aws: Aws, stack: Stack, job: Job, body: bytes) -> tuple[str, str | None]:
    """Put the file under the next free .retry-<n> name (never over an existing one)."""
    s3, bucket = aws.client("s3"), stack.uploads_bucket
    base = retry_base(job.upload.key)
    for _ in range(_KEY_ATTEMPTS):
        taken = _keys(s3, bucket, f"{base}.retry-")
        key = next_retry_key(job.upload.key, taken)
        try:
            answer = s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=body,
                ContentType="text/csv",
                Metadata={RETRY_OF_METADATA: job.job_id},
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "PreconditionFailed":
                raise
            continue
        return key, answer.get("VersionId")
    raise StackCliError(f"could not find a free name beside {job.upload.key}; try again.")


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]
