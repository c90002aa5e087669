"""Where moto's AWS differs from AWS in a way syncdrop relies on, made to match."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from syncdrop_local.runtime import moto_email_inbox, moto_transactions

_lock = threading.Lock()
_installed = False
# Off by default: moto answers 404 for a missing key, as AWS does for a caller allowed
# s3:ListBucket on the bucket. On: 403 AccessDenied, as AWS answers a caller without it.
_missing_objects_denied = False


def install() -> None:
    """Idempotent; patches moto in this process (its server runs in-process too)."""
    global _installed
    with _lock:
        if _installed:
            return
        _name_versions_in_s3_events()
        _deny_missing_objects_when_asked()
        _route_keys_with_line_breaks()
        moto_transactions.install()
        moto_email_inbox.install()
        _installed = True


@contextmanager
def missing_objects_denied() -> Iterator[None]:
    """While inside, S3 answers a GET or HEAD of a missing key or version with 403
    AccessDenied instead of 404: what AWS answers a role without s3:ListBucket."""
    global _missing_objects_denied
    install()
    _missing_objects_denied = True
    try:
        yield
    finally:
        _missing_objects_denied = False


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


def _deny_missing_objects_when_asked() -> None:
    """Inside missing_objects_denied(), GET (NoSuchKey/NoSuchVersion) and HEAD (404) of a
    missing object answer 403 AccessDenied; outside it, moto's own answers."""
    from moto.s3.exceptions import MissingKey, MissingVersion, S3AccessDeniedError
    from moto.s3.responses import S3Response

    get_key, head_object = S3Response._get_key, S3Response.head_object

    def _get_key(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return get_key(self, *args, **kwargs)
        except (MissingKey, MissingVersion):
            if _missing_objects_denied:
                raise S3AccessDeniedError() from None
            raise

    def _head_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        status, headers, body = head_object(self, *args, **kwargs)
        # A HEAD answer has no body: AWS's 403 is the bare status, as its 404 is.
        if status == 404 and _missing_objects_denied:
            return 403, headers, body
        return status, headers, body

    S3Response._get_key = _get_key  # type: ignore[method-assign]
    S3Response.head_object = _head_object  # type: ignore[method-assign]


def _route_keys_with_line_breaks() -> None:
    """S3 takes any UTF-8 in a key, a newline too; moto's server routes paths with regexes in
    which "." stops at a newline, so it answered 404 to a PUT of such a key. Applies to the
    servers' routes built after this (each server builds them on its first S3 request)."""
    from moto.moto_server.utilities import RegexConverter

    plain_init = RegexConverter.__init__

    def dot_matches_newline(self: Any, url_map: Any, *items: Any) -> None:
        plain_init(self, url_map, *items)
        self.regex = f"(?s:{self.regex})"

    RegexConverter.__init__ = dot_matches_newline  # type: ignore[method-assign]
