"""S3 event notifications (as delivered through SQS) to UploadRefs, keys URL-decoded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event

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
    for record in S3Event(payload).records:
        if not record.event_name.startswith("ObjectCreated"):
            continue
        obj = record.s3.get_object
        yield UploadRef(
            bucket=record.s3.bucket.name,
            # Keys arrive URL-encoded ("my+file%C3%A9.csv"); per-record keys are not decoded
            # by Powertools, so decode here or GetObject asks for a key that does not exist.
            key=unquote_plus(obj.key),
            version_id=obj.version_id or None,
            size=obj.size,
            etag=obj.etag or None,
            event_time=record.get("eventTime"),
        )
