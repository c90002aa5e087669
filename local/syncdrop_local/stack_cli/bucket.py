"""The uploads bucket as the stack commands use it: where uploads go, the recent ones, results."""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from syncdrop.jobs import UploadRef
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.upload_names import PICKED_UP

INCOMING = "incoming/"
# S3 compares If-Unmodified-Since to the second; the CSV is written just before notified_at.
_CLOCK_SLACK = timedelta(seconds=1)


def upload_key(file_name: str, *, dry_run: bool = False, prefix: str = "") -> str:
    """incoming/[dry-run/][prefix/]file_name"""
    folders = [part for part in prefix.split("/") if part]
    return "/".join(["incoming", *(["dry-run"] if dry_run else []), *folders, file_name])


@dataclass(frozen=True)
class RecentUpload:
    key: str
    version_id: str
    uploaded_at: datetime
    job_id: str


def recent_uploads(s3: Any, bucket: str, limit: int) -> list[RecentUpload]:
    """The newest ``limit`` uploads under incoming/ that the stack picks up, newest first.

    S3 lists keys in name order, so every version under incoming/ is listed once; only
    ``limit`` are kept in memory.
    """
    newest = heapq.nlargest(limit, _versions(s3, bucket), key=lambda v: v["LastModified"])
    return [
        RecentUpload(
            key=v["Key"],
            version_id=v["VersionId"],
            uploaded_at=v["LastModified"],
            job_id=UploadRef(bucket, v["Key"], v["VersionId"]).job_id,
        )
        for v in newest
    ]


def _versions(s3: Any, bucket: str) -> Iterator[dict[str, Any]]:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=INCOMING)
    for page in pages:
        for version in page.get("Versions", []):
            # "null": written before versioning was on, so its job id cannot be derived.
            if version["Key"].endswith(PICKED_UP) and version.get("VersionId", "null") != "null":
                yield version


def open_results(s3: Any, bucket: str, key: str, *, written_by: datetime | None) -> Any:
    """The results CSV a job wrote (its streaming body).

    A later upload under the same name writes the same key; then the version written before
    the job's email (``written_by``) is the one.
    """
    condition = {"IfUnmodifiedSince": written_by + _CLOCK_SLACK} if written_by else {}
    try:
        return s3.get_object(Bucket=bucket, Key=key, **condition)["Body"]
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in ("NoSuchKey", "404"):
            raise StackCliError(
                f"no results CSV at s3://{bucket}/{key}: the job finished, but the file is gone."
            ) from None
        if code not in ("PreconditionFailed", "412") or written_by is None:
            raise
    version = _version_before(s3, bucket, key, written_by + _CLOCK_SLACK)
    if version is None:
        raise StackCliError(
            f"s3://{bucket}/{key} was replaced by a later upload of the same name, "
            "and this job's version of it is gone."
        )
    return s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"]


def _version_before(s3: Any, bucket: str, key: str, moment: datetime) -> str | None:
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=key)
    return newest_version_before(
        (v for page in pages for v in page.get("Versions", [])), key, moment
    )


def newest_version_before(
    versions: Iterable[dict[str, Any]], key: str, moment: datetime
) -> str | None:
    """The id of the newest version of ``key`` written at or before ``moment``."""
    candidates = [v for v in versions if v["Key"] == key and v["LastModified"] <= moment]
    if not candidates:
        return None
    return str(max(candidates, key=lambda v: v["LastModified"])["VersionId"])
