"""`syncdrop upload FILE --stack S`: checks a file as the stack will, then puts it in incoming/."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Literal

from syncdrop.domain.intake import too_big
from syncdrop.jobs import UploadRef
from syncdrop.recipients import MAX_RECIPIENTS, NOTIFY_METADATA, parse_addresses
from syncdrop.report.wording import plural
from syncdrop_local.stack_cli.bucket import upload_key
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.limits import intake_limits
from syncdrop_local.stack_cli.stack import Aws, Stack, add_stack_arguments, run_on_stack
from syncdrop_local.upload_names import ignored_name_reason
from syncdrop_local.validate_cmd import FileCheck, check_file

_REJECTIONS_SHOWN = 5
_CONTENT_TYPES = {"csv": "text/csv", "jsonl": "application/jsonl"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="the CSV or JSONL file to process")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="upload under incoming/dry-run/: checked by the stack and Sync, no batch created",
    )
    parser.add_argument(
        "--key-prefix", default="", help="a folder under incoming/ (e.g. campaigns/june)"
    )
    parser.add_argument(
        "--notify",
        action="append",
        default=[],
        metavar="EMAIL",
        help=(
            "who gets this file's email (repeat it or separate with commas); each address must "
            "be subscribed (`syncdrop subscribe EMAIL`). Sent as S3 metadata x-amz-meta-notify"
        ),
    )
    add_stack_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Exit 0 once uploaded; 2 (one line) when the file cannot be used or AWS says no."""
    return run_on_stack(args, lambda aws, stack: upload(args, aws, stack))


def upload(args: argparse.Namespace, aws: Aws, stack: Stack) -> int:
    path: Path = args.file
    ignored = ignored_name_reason(path.name)
    if ignored is not None:
        raise StackCliError(f"{path.name} was not uploaded: {ignored}")
    try:
        size = path.stat().st_size
    except OSError as error:
        raise StackCliError(f"cannot read {path}: {error.strerror or error}.") from None
    limits = intake_limits(stack)
    if size > limits.max_upload_bytes:
        raise StackCliError(f"{path.name}: {too_big(size, limits.max_upload_bytes)}")
    notify = _notify_metadata(args.notify)
    bucket = stack.uploads_bucket
    key = upload_key(path.name, dry_run=args.dry_run, prefix=args.key_prefix)
    # Read as the stack will read it: the key's name decides (syncdrop.jobs.UploadRef.kind).
    kind: Literal["csv", "jsonl"] = (
        "jsonl" if UploadRef(bucket, key, None).kind == "jsonl" else "csv"
    )
    check = check_file(
        path,
        limits.rules,
        kind=kind,
        min_lines=limits.min_lines,
        max_lines=limits.max_lines,
        max_bytes=limits.max_bytes,
        mode=limits.mode,
    )
    _print_check(path, check)
    if check.file_error is not None:
        raise StackCliError(f"{path.name} was not uploaded: {check.file_error}")

    with path.open("rb") as body:
        answer = aws.client("s3").put_object(
            Bucket=bucket, Key=key, Body=body, ContentType=_CONTENT_TYPES[kind], Metadata=notify
        )
    version = answer.get("VersionId")
    print(f"uploaded  s3://{bucket}/{key}")
    if notify:
        print(f"notify    {notify[NOTIFY_METADATA].replace(',', ', ')}")
    print(f"version   {version or '(the bucket is not versioned)'}")
    if version:
        job_id = UploadRef(bucket, key, version).job_id
        print(f"job       {job_id}")
        print(f"follow it with: syncdrop status {job_id} --stack {stack.name}")
    if args.dry_run:
        print("dry run: the stack checks the file (and Sync with dry_run=true); no batch is made.")
    return 0


def _notify_metadata(values: list[str]) -> dict[str, str]:
    """--notify values as the metadata the stack reads; a wrong address stops the upload."""
    parsed = parse_addresses(",".join(values))
    if parsed.invalid:
        wrong = ", ".join(repr(text) for text in parsed.invalid)
        raise StackCliError(f"--notify: {wrong} is not an email address; nothing was uploaded.")
    if len(parsed.valid) > MAX_RECIPIENTS:
        raise StackCliError(f"--notify names more than {MAX_RECIPIENTS} addresses.")
    # S3 user metadata is ASCII in an HTTP header: the addresses the pattern accepts are.
    return {NOTIFY_METADATA: ",".join(parsed.valid)} if parsed.valid else {}


def _print_check(path: Path, check: FileCheck) -> None:
    noun, rejected = check.noun, len(check.errors)
    for error in check.errors[:_REJECTIONS_SHOWN]:
        who = f" (request_id {error['request_id']})" if error["request_id"] else ""
        print(f"  {noun} {error['row']}{who}: {error['reason']}")
    if rejected > _REJECTIONS_SHOWN:
        print(f"  … and {rejected - _REJECTIONS_SHOWN:,} more (the results CSV lists every one)")
    print(f"{path.name}: {plural(check.rows, noun)}, {check.valid:,} valid, {rejected:,} rejected.")
    if check.route is not None and check.route.by_generate:
        print(f"planned: {check.valid:,} single generations. {check.route.reason}")
    if check.batches:
        sizes = ", ".join(f"{size:,}" for size in check.batches)
        count = len(check.batches)
        print(f"planned: {count} Sync batch{'es' if count > 1 else ''} of {sizes} {noun}s.")
