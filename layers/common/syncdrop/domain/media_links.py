"""s3:// media links in rows: checked at intake, presigned only when the batch is sent.

Presigning at submission (not at intake) keeps links fresh for chunks that wait in the queue.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

MEDIA_PREFIX = "media/"
# Sync targets a 24 h turnaround; a link must outlive the wait for processing.
LINK_LIFETIME = timedelta(hours=24)


def s3_link_checker(uploads_bucket: str) -> Callable[[str, str], str]:
    """Intake's rule for s3:// links: only this deployment's bucket, under media/."""

    def check(bucket: str, key: str) -> str:
        if bucket != uploads_bucket or not key.startswith(MEDIA_PREFIX):
            raise ValueError(
                f"syncdrop can only read S3 files from s3://{uploads_bucket}/{MEDIA_PREFIX}…; "
                "put the file there, or use an https:// link."
            )
        return f"s3://{bucket}/{key}"

    return check


def presign_media_links(jsonl: bytes, presign: Callable[[str, str, int], str]) -> bytes:
    """Replace every s3:// input url of a chunk's lines with a presigned https link."""
    if b'"s3://' not in jsonl:
        return jsonl
    expires = int(LINK_LIFETIME.total_seconds())
    out = []
    for line in jsonl.splitlines():
        if b'"s3://' in line:
            entry = json.loads(line)
            for item in entry.get("payload", {}).get("input", []):
                url = item.get("url")
                if isinstance(url, str) and url.startswith("s3://"):
                    bucket, _, key = url[len("s3://") :].partition("/")
                    item["url"] = presign(bucket, key, expires)
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(line)
    return b"\n".join(out) + b"\n"
