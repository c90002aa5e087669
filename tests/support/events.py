"""Real-shaped Lambda events from the files in events/, pointed at a test's own objects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return event


# The URL events/webhook_batch_completed.json was sent to: the receiving function compares the
# signed body's webhookUrl with the URL of the request itself.
WEBHOOK_EVENT_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/sync/webhook"


def intake_event(bucket: str, key: str, version_id: str | None, size: int) -> dict[str, Any]:
    """events/intake_s3_object_created.json for this object (key URL-encoded as S3 does)."""
    event = load_event("intake_s3_object_created.json")
    record = event["Records"][0]
    body = json.loads(record["body"])
    s3 = body["Records"][0]["s3"]
    s3["bucket"]["name"] = bucket
    s3["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    s3["object"].update({"key": quote_plus(key, safe="/"), "size": size})
    if version_id is None:
        s3["object"].pop("versionId", None)
    else:
        s3["object"]["versionId"] = version_id
    record["body"] = json.dumps(body)
    return copy.deepcopy(event)
