"""s3:// media of rows become Sync assets: each file content uploaded once, then named by id.

A presigned S3 link made with a function's temporary credentials dies with them, long before
Sync's 24 h turnaround; an asset does not. Each content (S3 version, else ETag) is uploaded at
most once however many rows, functions and redeliveries use it:

1. an asset id stored on the content's job-table item is used as is (no Sync call, no read);
2. else one worker takes the item's upload lease (others see "busy" and try later), hashes the
   bytes chunk by chunk (memory stays flat for a 1 GB video), and asks Sync for an asset with
   that SHA-256 — found after a crash between registering and storing the id;
3. else it uploads (upload URL, streamed PUT, register) and stores the id.
"""

from __future__ import annotations

import copy
import hashlib
import json
import mimetypes
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from typing import Any

from syncdrop.errors import (
    MediaNotReady,
    MediaRefused,
    StorageError,
    SyncAuthError,
    SyncRateLimited,
    SyncRejected,
    SyncUnavailable,
    TransientError,
    UploadMissing,
    UploadRefused,
)
from syncdrop.media_files import MediaHead, MediaItem
from syncdrop.ports import MediaAssetItems, ObjectStore, SyncApi

# Input item types that may name a media file, and the asset type each becomes.
ASSET_KINDS: dict[str, str] = {"video": "VIDEO", "audio": "AUDIO"}
MAX_ASSET_BYTES = 5 * 1024**3  # Sync's cap on one upload (a plan may allow less)
# Longer than one function can run (15 min): a live holder is never overtaken.
UPLOAD_LEASE = timedelta(minutes=16)
UPLOAD_TRIES = 3
S3_SCHEME = "s3://"


@contextmanager
def _reading(chunks: Iterator[bytes]) -> Iterator[Iterator[bytes]]:
    """Close the S3 stream however the reading ends (a failed PUT leaves it half read)."""
    try:
        yield chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix(S3_SCHEME).partition("/")
    if not uri.startswith(S3_SCHEME) or not bucket or not key:
        raise MediaRefused(uri, f"{uri} is not an s3://bucket/key link.")
    return bucket, key


def _file_name(key: str) -> str:
    return key.rsplit("/", 1)[-1] or "media"


def _content_type(head: MediaHead) -> str:
    """The type S3 keeps for the file when it is a media type, else one from its name."""
    declared = head.content_type.split(";", 1)[0].strip().lower()
    if declared.startswith(("video/", "audio/", "image/")):
        return head.content_type
    guessed, _ = mimetypes.guess_type(head.key)
    return guessed or "application/octet-stream"


def _size_text(size: int) -> str:
    return f"{size / 1024**3:.1f} GB" if size >= 1024**3 else f"{size / 1024**2:.1f} MB"


class MediaAssets:
    """Turns s3:// links of the uploads bucket into Sync asset ids (see the module text)."""

    def __init__(
        self,
        *,
        objects: ObjectStore,
        sync: SyncApi,
        items: MediaAssetItems,
        clock: Callable[[], datetime],
        max_bytes: int = MAX_ASSET_BYTES,
        lease: timedelta = UPLOAD_LEASE,
        upload_tries: int = UPLOAD_TRIES,
        retry_pause: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._objects = objects
        self._sync = sync
        self._items = items
        self._clock = clock
        self._max_bytes = max_bytes
        self._lease = lease
        self._tries = max(1, upload_tries)
        self._pause = retry_pause
        self._sleep = sleep

    def asset_ids(self, uris: Iterable[str], kinds: Mapping[str, str]) -> dict[str, str]:
        """s3:// URI → asset id, for each distinct URI (``kinds``: VIDEO or AUDIO per URI).

        Raises MediaRefused (every refused URI in ``refused``) once the others are resolved,
        MediaNotReady when one is busy elsewhere or a step failed for now (resolved ones stay
        stored: the next call finds them at once), SyncAuthError when Sync refuses the key.
        """
        ids: dict[str, str] = {}
        refused: dict[str, str] = {}
        for uri in dict.fromkeys(uris):
            try:
                ids[uri] = self.asset_id(uri, kinds[uri])
            except MediaRefused as exc:
                refused[uri] = exc.reason
        if refused:
            first = next(iter(refused))
            raise MediaRefused(first, refused[first], refused)
        return ids

    def asset_id(self, uri: str, kind: str) -> str:
        """The asset id of one s3:// media file as ``kind`` (see :meth:`asset_ids`)."""
        if kind not in ASSET_KINDS.values():
            raise ValueError(f"unknown asset kind {kind!r}")
        head = self._head(uri)
        try:
            item = self._items.media_item(head)
            if item is not None and kind in item.asset_ids:
                return item.asset_ids[kind]
            return self._upload_once(head, kind, item)
        except StorageError as exc:
            raise MediaNotReady(f"{uri} could not be made a Sync asset yet: {exc}") from exc

    # -- steps ----------------------------------------------------------------------------------

    def _head(self, uri: str) -> MediaHead:
        bucket, key = _split(uri)
        try:
            head = self._objects.media_head(bucket, key)
        except UploadRefused as exc:
            raise MediaRefused(
                uri,
                f"syncdrop may not read {uri} (S3 refused access): check the file is there "
                "and is not encrypted with a key syncdrop cannot use.",
            ) from exc
        except UploadMissing as exc:
            raise MediaRefused(
                uri, f"There is no file at {uri}: upload it there, or fix the link."
            ) from exc
        except StorageError as exc:
            raise MediaNotReady(f"S3 could not describe {uri} yet: {exc}") from exc
        if head.size == 0:
            raise MediaRefused(uri, f"{uri} is an empty file.")
        if head.size > self._max_bytes:
            raise MediaRefused(
                uri,
                f"{uri} is {_size_text(head.size)}; Sync takes files up to "
                f"{_size_text(self._max_bytes)}. Use a smaller file or an https:// link.",
            )
        return head

    def _upload_once(self, head: MediaHead, kind: str, item: MediaItem | None) -> str:
        token = uuid.uuid4().hex
        now = self._clock()
        if not self._items.claim_upload(head, kind, token, now=now, stale_before=now - self._lease):
            again = self._items.media_item(head)
            if again is not None and kind in again.asset_ids:
                return again.asset_ids[kind]
            raise MediaNotReady(f"{head.uri} is being uploaded to Sync by another worker")
        try:
            asset_id, sha256 = self._make_asset(head, kind, token, item)
            return self._items.record_asset(head, kind, token, asset_id=asset_id, sha256=sha256)
        except BaseException:
            self._give_back(head, token)
            raise

    def _give_back(self, head: MediaHead, token: str) -> None:
        with suppress(StorageError):  # else the lease runs out on its own
            self._items.release_upload(head, token)

    def _make_asset(
        self, head: MediaHead, kind: str, token: str, item: MediaItem | None
    ) -> tuple[str, str]:
        """The asset id and SHA-256 of the content: Sync's existing asset, or a new upload."""
        try:
            sha256 = item.sha256 if item is not None and item.sha256 else None
            if sha256 is None:
                sha256 = self._digest(head)
                self._items.record_digest(head, token, sha256)
            found = self._sync.find_uploaded_asset(sha256, kind)
            if found is not None:
                return found.id, sha256
            url = self._upload(head)
            return self._register(head, url, kind, sha256), sha256
        except UploadMissing as exc:  # deleted between the head and the read
            raise MediaRefused(head.uri, f"There is no file at {head.uri} any more.") from exc
        except (SyncAuthError, MediaNotReady, MediaRefused):
            raise
        except SyncRejected as exc:
            raise MediaRefused(
                head.uri, f"Sync refused {_file_name(head.key)} as a media file: {exc.message}"
            ) from exc
        except TransientError as exc:
            raise MediaNotReady(f"{head.uri} could not be uploaded to Sync yet: {exc}") from exc

    def _digest(self, head: MediaHead) -> str:
        digest = hashlib.sha256()
        with _reading(self._objects.media_stream(head)) as chunks:
            for piece in chunks:
                digest.update(piece)
        return digest.hexdigest()

    def _upload(self, head: MediaHead) -> str:
        """PUT the content to a fresh upload URL (a new URL per try); the URL to register."""
        name, content_type = _file_name(head.key), _content_type(head)
        failure: Exception | None = None
        for attempt in range(self._tries):
            if attempt:
                self._sleep(self._pause * attempt)
            upload = self._sync.create_asset_upload(name, content_type, head.size)
            try:
                with _reading(self._objects.media_stream(head)) as chunks:
                    self._sync.put_asset_bytes(upload, content_type, chunks, head.size)
                return upload.url
            except (SyncUnavailable, SyncRejected) as exc:  # a 5xx, a cut, an expired URL
                if isinstance(exc, SyncAuthError):
                    raise
                failure = exc
        raise MediaNotReady(
            f"the upload of {head.uri} to Sync failed {self._tries} times: {failure}"
        )

    def _register(self, head: MediaHead, url: str, kind: str, sha256: str) -> str:
        """Register once per try; after no answer, ask Sync by digest before trying again (a
        second registration of an asset that exists would make a second one)."""
        failure: Exception | None = None
        for attempt in range(self._tries):
            if attempt:
                self._sleep(self._pause * attempt)
            try:
                return self._sync.register_asset(url, kind, _file_name(head.key)).id
            except (SyncUnavailable, SyncRateLimited) as exc:
                failure = exc
            found = self._sync.find_uploaded_asset(sha256, kind)
            if found is not None:
                return found.id
        raise MediaNotReady(
            f"Sync did not register {head.uri} after {self._tries} tries: {failure}"
        )


# -- the links in payloads and batch lines ---------------------------------------------------


def _payload_of(entry: Mapping[str, Any]) -> Any:
    """A generation payload, or a batch line's (``{"request_id", "endpoint", "payload"}``)."""
    return entry.get("payload") if isinstance(entry.get("payload"), dict) else entry


def _media_items(entry: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    inputs = _payload_of(entry).get("input")
    if not isinstance(inputs, list):
        return []
    return [
        item
        for item in inputs
        if isinstance(item, dict)
        and item.get("type") in ASSET_KINDS
        and isinstance(item.get("url"), str)
        and item["url"].startswith(S3_SCHEME)
    ]


def media_uris(
    payload_or_lines: Mapping[str, Any] | bytes | Iterable[Mapping[str, Any]],
) -> dict[str, str]:
    """Every s3:// input URL and its asset kind, from one payload (or batch line), a chunk's
    JSONL bytes, or several lines. A file used both as video and as audio is a VIDEO asset
    (Sync takes the sound of a video for audio)."""
    if isinstance(payload_or_lines, bytes):
        entries: Iterable[Mapping[str, Any]] = (
            json.loads(line) for line in payload_or_lines.splitlines() if b'"s3://' in line
        )
    elif isinstance(payload_or_lines, Mapping):
        entries = [payload_or_lines]
    else:
        entries = payload_or_lines
    found: dict[str, str] = {}
    for entry in entries:
        for item in _media_items(entry):
            kind = ASSET_KINDS[item["type"]]
            if found.get(item["url"]) != "VIDEO":
                found[item["url"]] = kind
    return found


def substitute_assets(payload: Mapping[str, Any], ids: Mapping[str, str]) -> dict[str, Any]:
    """A copy of the payload (or batch line) whose s3:// inputs name their asset instead:
    ``{"type": "video", "url": "s3://..."}`` → ``{"type": "video", "assetId": "..."}``."""
    result = copy.deepcopy(dict(payload))
    for item in _media_items(result):
        uri = item.pop("url")
        if uri not in ids:
            raise ValueError(f"no Sync asset id for {uri}")
        item["assetId"] = ids[uri]
    return result


def substitute_asset_lines(jsonl: bytes, ids: Mapping[str, str]) -> bytes:
    """A chunk's JSONL with every s3:// input replaced by its asset id; other lines as they
    were."""
    if b'"s3://' not in jsonl:
        return jsonl
    out = []
    for line in jsonl.splitlines():
        if b'"s3://' in line:
            entry = substitute_assets(json.loads(line), ids)
            line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode()
        out.append(line)
    return b"\n".join(out) + b"\n"
