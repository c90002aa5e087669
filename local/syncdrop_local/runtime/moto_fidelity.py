"""Where moto's AWS differs from AWS in a way syncdrop relies on, made to match."""

from __future__ import annotations

import threading
from typing import Any

_lock = threading.Lock()
_installed = False


def install() -> None:
    """Idempotent; patches moto in this process (its server runs in-process too)."""
    global _installed
    with _lock:
        if _installed:
            return
        _name_versions_in_s3_events()
        _installed = True


def _name_versions_in_s3_events() -> None:
    """S3 puts the object's versionId in the events of a versioned bucket; moto leaves it out,
    and syncdrop's job id is bucket + key + versionId."""
    from moto.s3 import notifications

    original = notifications._get_s3_event

    def with_version(event_name: str, bucket: Any, key: Any, notification_id: str) -> Any:
        event = original(event_name, bucket, key, notification_id)
        if bucket.is_versioned and key.version_id:
            for record in event["Records"]:
                record["s3"]["object"]["versionId"] = key.version_id
        return event

    notifications._get_s3_event = with_version
