"""s3:// media links in rows, checked at intake: only this deployment's bucket, under media/.

At submission each such file goes to Sync once as an asset (domain/sync_media.py).
"""

from __future__ import annotations

from collections.abc import Callable

MEDIA_PREFIX = "media/"


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
