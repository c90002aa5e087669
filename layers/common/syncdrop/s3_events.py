"""S3 event notifications (as delivered through SQS) to UploadRefs, keys URL-decoded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote_plus

from syncdrop.jobs import UploadRef


class NotAnUploadEvent(ValueError):
    """The message is not an S3 event at all: retrying cannot help."""


def uploads_in(message_body: str) -> Iterator[UploadRef]:
    """Every object-created record in an SQS message body; s3:TestEvent yields nothing."""
    try:
        payload = json.loads(message_body)
    except ValueError as exc:
        raise NotAnUploadEvent(f"message body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise NotAnUploadEvent("message body is not an S3 event")
    if payload.get("Event") == "s3:TestEvent":
        return
    if "Records" not in payload:
        raise NotAnUploadEvent("message body has no S3 Records")
    # Read as plain dicts: Powertools' S3 event classes would add ~10 ms to every cold start
    # (their package imports every event type), for four fields.
    for record in payload["Records"]:
        if not record["eventName"].startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        obj = s3.get("get_object") or s3["object"]  # Intelligent-Tiering events say get_object
        yield UploadRef(
            bucket=s3["bucket"]["name"],
            # Keys arrive URL-encoded ("my+file%C3%A9.csv"): decode, or GetObject asks for a
            # key that does not exist.
            key=unquote_plus(obj["key"]),
            version_id=obj.get("versionId") or None,
            size=int(obj["size"]),
            etag=obj.get("eTag") or None,
            event_time=record.get("eventTime"),
        )
