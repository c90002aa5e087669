"""S3 event notifications (as delivered through SQS) to UploadRefs, keys URL-decoded."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterator
from urllib.parse import unquote_plus

from syncdrop.jobs import UploadRef

# What a key must not hold: controls (Cc, "\n" among them), format characters (Cf: bidi
# overrides such as U+202E, zero-width spaces), line and paragraph separators, surrogates.
# Each changes how a key reads without being seen.
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
# A key shown to a person (an email subject or line) is cut here; S3 allows 1,024 bytes.
KEY_SHOWN_CHARS = 200
ELLIPSIS = "…"


def hidden_characters(key: str) -> list[str]:
    """The hidden characters in ``key``, each once, as escapes (``\\n``, ``\\u202e``)."""
    seen = dict.fromkeys(c for c in key if unicodedata.category(c) in HIDDEN_CATEGORIES)
    return [_escaped(c) for c in seen]


def printable_key(key: str, limit: int = KEY_SHOWN_CHARS) -> str:
    """``key`` as one visible line: every hidden character written as its escape, and no
    longer than ``limit`` characters (cut with an ellipsis)."""
    shown = "".join(_escaped(c) if unicodedata.category(c) in HIDDEN_CATEGORIES else c for c in key)
    if len(shown) > limit:
        return shown[: max(0, limit - 1)] + ELLIPSIS
    return shown


def _escaped(char: str) -> str:
    return char.encode("unicode_escape", errors="backslashreplace").decode("ascii")


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
