"""Sync's Assets API in the emulator: upload URLs, the signed PUT, registration and look-ups.

Routes (sync.so "Asset Uploads" guide and Assets API reference):

- ``POST /v2/assets/upload`` ``{fileName, contentType, size}`` → 201 ``{uploadUrl, url,
  expiresIn}``; at most ``asset_upload_rate_limit`` per API key and emulated minute (429
  ``rate_limit_exceeded`` past it; 0 turns the limit off); ``size`` at most 5 GiB.
- ``PUT /uploads/{token}?expires=&signature=`` — the upload URL: no API key; the signature
  covers the ``Content-Type`` declared above, so any other (or none) fails as S3 fails it; the
  body must be exactly ``size`` bytes, sent with a ``Content-Length`` (a chunked body is a
  501, as on S3); the URL expires ``asset_upload_url_ttl`` seconds on.
- ``GET /files/{token}/{fileName}`` — the canonical ``url``: the uploaded bytes, public.
- ``POST /v2/assets`` ``{url, type, name?, visibility?, projectId?}`` → 201 Asset. Verifies that
  ``url`` is an upload of this API key that was PUT (422 ``asset_upload_not_found``) and the
  plan's cap ``asset_max_bytes`` (413 ``asset_too_large``); ``projectId`` is refused (422
  ``project_not_found``: the emulator has no projects). Every call makes a new asset.
- ``GET /v2/assets/uploaded?contentSha256=&type=`` → ``{"asset": <newest asset of this API key
  with that digest and type> | null}``.
- ``GET /v2/assets/{id}`` and ``GET /v2/assets?limit=&cursor=&types=&searchQuery=&sortBy=
  &projectId=`` → Asset / ``{items, nextCursor, totalCount}``.

Assets belong to the API key that registered them: another key never finds, reads or uses
them. Faults: ``asset_upload_5xx_rate`` (500), ``asset_put_fail_rate`` (a 500 or a cut
connection, nothing stored), ``asset_register_5xx_rate`` (503; a share
``asset_register_created_share`` of them after the asset was created, so a client that asks
``uploaded?contentSha256=`` finds it), ``asset_lookup_5xx_rate`` (500 to ``uploaded`` and
``GET /v2/assets/{id}``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from . import errors
from .clock import Clock, isoformat
from .faults import FaultPlan
from .results import s3_error
from .server import Request, Response
from .settings import EmulatorSettings
from .signing import UrlSigner
from .validation import BatchInputError, InputLine

ASSET_TYPES: tuple[str, ...] = ("VIDEO", "AUDIO", "IMAGE")
VISIBILITIES: tuple[str, ...] = ("USER", "ORGANIZATION")
SORTS: tuple[str, ...] = (
    "nameAsc",
    "nameDesc",
    "dateAsc",
    "dateDesc",
    "durationAsc",
    "durationDesc",
    "sizeAsc",
    "sizeDesc",
    "kindAsc",
    "kindDesc",
)
MAX_UPLOAD_BYTES = 5 * 1024**3  # Sync caps a single upload at 5 GiB
RATE_WINDOW_SECONDS = 60.0
DEFAULT_PAGE = 20
CODE_UPLOAD_NOT_FOUND = "asset_upload_not_found"
CODE_TOO_LARGE = "asset_too_large"
CODE_PROJECT_NOT_FOUND = "project_not_found"
CODE_ASSET_NOT_FOUND = "asset_not_found"
CODE_INVALID_REQUEST = "invalid_request"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_UPLOAD = re.compile(r"^/uploads/(?P<token>[A-Za-z0-9_-]+)$")
_FILE = re.compile(r"^/files/(?P<token>[A-Za-z0-9_-]+)/[^/]+$")
_ITEM = re.compile(r"^/v2/assets/(?P<id>[^/]+)/?$")


def asset_route_family(method: str, path: str) -> str | None:
    """The name under which a request to an Assets route is counted (None: not one)."""
    if method == "PUT" and _UPLOAD.match(path):
        return "PUT <upload url>"
    if method == "GET" and _FILE.match(path):
        return "GET <asset url>"
    trimmed = path.rstrip("/")
    if trimmed == "/v2/assets/upload" and method == "POST":
        return "POST /v2/assets/upload"
    if trimmed == "/v2/assets":
        return f"{method} /v2/assets" if method in ("GET", "POST") else None
    if trimmed == "/v2/assets/uploaded" and method == "GET":
        return "GET /v2/assets/uploaded"
    if method == "GET" and _ITEM.match(path):
        return "GET /v2/assets/{id}"
    return None


@dataclass
class _Upload:
    token: str
    api_key: str
    file_name: str
    content_type: str
    size: int
    url: str
    expires: int
    data: bytes | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class AssetSnapshot:
    """One registered asset, as tests see it."""

    id: str
    api_key: str
    sha256: str
    type: str
    name: str
    size: int
    url: str
    visibility: str
    created_at: float


@dataclass(frozen=True)
class AssetCounts:
    """What the Assets API did: upload URLs handed out, PUTs stored, registrations that reached
    the store (those whose answer a fault replaced included), assets created, look-ups answered
    (``uploaded`` and by id)."""

    uploads_requested: int = 0
    puts: int = 0
    registrations: int = 0
    assets_created: int = 0
    lookups: int = 0


@dataclass
class _Tally:
    counts: Counter[str] = field(default_factory=Counter)

    def snapshot(self) -> AssetCounts:
        return AssetCounts(**{name: self.counts[name] for name in AssetCounts.__annotations__})


def _format_of(name: str) -> str | None:
    _, dot, extension = name.rpartition(".")
    return extension.lower() if dot and extension else None


def _asset_json(asset: AssetSnapshot) -> dict[str, Any]:
    stamp = isoformat(asset.created_at)
    body: dict[str, Any] = {
        "id": asset.id,
        "createdAt": stamp,
        "updatedAt": stamp,
        "type": asset.type,
        "visibility": asset.visibility,
        "name": asset.name,
        "url": asset.url,
        "size": asset.size,
        "inputType": "UPLOAD",
    }
    if (extension := _format_of(asset.name)) is not None:
        body["format"] = extension
    return body


def _bad_request(message: str) -> Response:
    return Response.json(400, errors.error_body(400, message, errorCode=CODE_INVALID_REQUEST))


def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def media_asset_ids(payload: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(where, asset id)`` of every input item of a generation payload that names an asset."""
    found: list[tuple[str, str]] = []
    inputs = payload.get("input")
    if not isinstance(inputs, list):
        return found
    for index, item in enumerate(inputs):
        if isinstance(item, dict) and isinstance(item.get("assetId"), str):
            found.append((f"payload.input[{index}].assetId", item["assetId"]))
    return found


class AssetRoutes:
    """Answers the Assets routes and keeps the assets, per API key, in memory."""

    def __init__(
        self,
        *,
        settings: EmulatorSettings,
        faults: FaultPlan,
        clock: Clock,
        signer: UrlSigner,
        public_url: Callable[[], str],
        signed_base: Callable[[], str],
    ) -> None:
        self.settings = settings
        self.faults = faults
        self.clock = clock
        self.signer = signer
        self.public_url = public_url
        self.signed_base = signed_base
        self._lock = threading.Lock()
        self._uploads: dict[str, _Upload] = {}
        self._by_url: dict[str, str] = {}
        self._assets: dict[str, AssetSnapshot] = {}
        self._usage: Counter[str] = Counter()
        self._requests: dict[str, deque[float]] = {}
        self._tally = _Tally()

    # -- inspection ---------------------------------------------------------------------------

    def snapshots(self) -> list[AssetSnapshot]:
        with self._lock:
            return list(self._assets.values())

    def counts(self) -> AssetCounts:
        with self._lock:
            return self._tally.snapshot()

    def usage(self) -> dict[str, int]:
        """Asset id → how many batch lines or generations used it."""
        with self._lock:
            return dict(self._usage)

    def reset_counts(self) -> None:
        with self._lock:
            self._tally.counts.clear()
            self._usage.clear()

    # -- use by batches and generations -------------------------------------------------------

    def check_payload(self, api_key: str, payload: Mapping[str, Any], line: int | None) -> None:
        """Refuse (400 ``asset_not_found``) an ``assetId`` this API key never registered."""
        with self._lock:
            for where, asset_id in media_asset_ids(payload):
                asset = self._assets.get(asset_id)
                if asset is None or asset.api_key != api_key:
                    prefix = f"Line {line}: " if line is not None else ""
                    raise BatchInputError(
                        f"{prefix}{where} {json.dumps(asset_id)} is not an asset of this "
                        "account; register the file with POST /v2/assets and use its id",
                        error_code=CODE_ASSET_NOT_FOUND,
                    )

    def check_lines(self, api_key: str, lines: Iterable[InputLine]) -> None:
        for line in lines:
            payload = line.record.get("payload")
            if isinstance(payload, dict):
                self.check_payload(api_key, payload, line.line_number)

    def record_payload_use(self, payload: Mapping[str, Any]) -> None:
        """Count one use of each asset the payload names (once per payload)."""
        used = {asset_id for _, asset_id in media_asset_ids(payload)}
        with self._lock:
            self._usage.update(used)

    def record_lines_use(self, lines: Iterable[InputLine]) -> None:
        for line in lines:
            payload = line.record.get("payload")
            if isinstance(payload, dict):
                self.record_payload_use(payload)

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response | None:
        """The answer to an Assets route, or None for any other path."""
        path = request.path
        if match := _UPLOAD.match(path):
            if request.method != "PUT":
                return Response.json(404, errors.not_found(f"Cannot {request.method} {path}"))
            return self.put(match["token"], request)
        if match := _FILE.match(path):
            if request.method != "GET":
                return Response.json(404, errors.not_found(f"Cannot {request.method} {path}"))
            return self.file(match["token"])
        if path.rstrip("/") != "/v2/assets" and not path.startswith("/v2/assets/"):
            return None
        api_key = request.header("x-api-key") or ""
        if not self._known_key(api_key):
            return Response.json(401, errors.unauthorized())
        trimmed = path.rstrip("/")
        method = request.method
        if trimmed == "/v2/assets/upload" and method == "POST":
            return self.create_upload(api_key, request)
        if trimmed == "/v2/assets" and method == "POST":
            return self.register(api_key, request)
        if trimmed == "/v2/assets" and method == "GET":
            return self.list_assets(api_key, request)
        if trimmed == "/v2/assets/uploaded" and method == "GET":
            return self.uploaded(api_key, request)
        if (match := _ITEM.match(path)) and method == "GET":
            return self.get(api_key, match["id"])
        return Response.json(404, errors.not_found(f"Cannot {method} {path}"))

    def _known_key(self, given: str) -> bool:
        keys = (self.settings.api_key, *self.settings.other_api_keys)
        # Compare with every key so the time taken does not tell which one nearly matched.
        matches = [hmac.compare_digest(given.encode(), key.encode()) for key in keys]
        return bool(given) and any(matches)

    # -- upload URL ---------------------------------------------------------------------------

    def _rate_limited(self, api_key: str) -> bool:
        limit = self.settings.asset_upload_rate_limit
        if limit <= 0:
            return False
        now = self.clock.now()
        with self._lock:
            window = self._requests.setdefault(api_key, deque())
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            if len(window) >= limit:
                return True
            window.append(now)
            return False

    def create_upload(self, api_key: str, request: Request) -> Response:
        if self._rate_limited(api_key):
            return Response.json(429, errors.rate_limited())
        if self.faults.take_asset_fault("asset_upload_error", self.faults.asset_upload_5xx_rate):
            return Response.json(500, errors.error_body(500))
        body = _json_object(request)
        if body is None:
            return _bad_request("Request body must be a JSON object")
        file_name, content_type, size = (
            body.get("fileName"),
            body.get("contentType"),
            body.get("size"),
        )
        if not isinstance(file_name, str) or not file_name.strip() or "/" in file_name:
            return _bad_request("fileName must be a non-empty file name")
        if not isinstance(content_type, str) or not content_type.strip():
            return _bad_request("contentType must be a MIME type, e.g. video/mp4")
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            return _bad_request("size must be the file's size in bytes (a positive integer)")
        if size > MAX_UPLOAD_BYTES:
            return _bad_request("Single uploads are capped at 5GB")
        token = secrets.token_urlsafe(18)
        expires = int(self.clock.now() + self.settings.asset_upload_url_ttl)
        url = f"{self.public_url()}/files/{token}/{quote(file_name)}"
        upload = _Upload(token, api_key, file_name, content_type, size, url, expires)
        signature = self.signer.sign(self._resource(token, content_type), expires)
        with self._lock:
            self._uploads[token] = upload
            self._by_url[url] = token
            self._tally.counts["uploads_requested"] += 1
        upload_url = f"{self.signed_base()}/uploads/{token}?expires={expires}&signature={signature}"
        expires_in = int(self.settings.asset_upload_url_ttl)
        return Response.json(201, {"uploadUrl": upload_url, "url": url, "expiresIn": expires_in})

    @staticmethod
    def _resource(token: str, content_type: str) -> str:
        # The content type is part of what is signed, as in an S3 presigned PUT.
        return f"upload:{token}:{content_type}"

    # -- the signed PUT and the public file ---------------------------------------------------

    def put(self, token: str, request: Request) -> Response:
        with self._lock:
            upload = self._uploads.get(token)
        if upload is None:
            return s3_error(404, "NoSuchUpload", "The specified upload does not exist.")
        expires_raw = request.query.get("expires", [""])[0]
        signature = request.query.get("signature", [""])[0]
        try:
            expires = int(expires_raw)
        except ValueError:
            return s3_error(403, "AccessDenied", "Query-string authentication requires expires")
        content_type = (request.header("content-type") or "").strip()
        resource = self._resource(token, content_type)
        if not signature or not self.signer.verify(resource, expires, signature):
            return s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Check your key and signing method.",
            )
        now = self.clock.now()
        if now > expires:
            return s3_error(
                403,
                "AccessDenied",
                "Request has expired",
                Expires=str(expires),
                ServerTime=str(int(now)),
            )
        if "chunked" in (request.header("transfer-encoding") or "").lower():
            # S3 takes a presigned PUT only with a Content-Length.
            return s3_error(
                501,
                "NotImplemented",
                "A header you provided implies functionality that is not implemented",
                Header="Transfer-Encoding",
            )
        faults = self.faults
        if faults.asset_put_fail_rate > 0 and faults.asset_draw(
            "asset_put_fail", faults.asset_put_fail_rate
        ):
            if faults.asset_draw("asset_put_cut", 0.5):
                faults.take_asset_fault("asset_put_cut", 1.0)
                return Response(500, b"x" * 64, "application/xml", cut_after=0, reset=True)
            faults.take_asset_fault("asset_put_error", 1.0)
            return s3_error(
                500, "InternalError", "We encountered an internal error. Please try again."
            )
        data = request.body
        if len(data) != upload.size:
            return s3_error(
                400,
                "IncompleteBody" if len(data) < upload.size else "InvalidRequest",
                f"The body is {len(data)} bytes; this upload URL was issued for {upload.size}.",
            )
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            upload.data = data
            upload.sha256 = digest
            self._tally.counts["puts"] += 1
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return Response(200, b"", None, {"ETag": f'"{etag}"'})

    def file(self, token: str) -> Response:
        with self._lock:
            upload = self._uploads.get(token)
        if upload is None or upload.data is None:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return Response(200, upload.data, upload.content_type)

    # -- register -----------------------------------------------------------------------------

    def register(self, api_key: str, request: Request) -> Response:
        faults = self.faults
        failed = faults.asset_register_5xx_rate > 0 and faults.asset_draw(
            "asset_register_fail", faults.asset_register_5xx_rate
        )
        if failed and not faults.asset_draw(
            "asset_register_created", faults.asset_register_created_share
        ):
            faults.take_asset_fault("asset_register_error", 1.0)
            return Response.json(503, errors.error_body(503))
        answer = self._register(api_key, request)
        if failed:
            # The asset exists (when the request was good); only its answer is lost.
            faults.take_asset_fault("asset_register_lost_answer", 1.0)
            return Response.json(503, errors.error_body(503))
        return answer

    def _register(self, api_key: str, request: Request) -> Response:
        body = _json_object(request)
        if body is None:
            return _bad_request("Request body must be a JSON object")
        url, kind = body.get("url"), body.get("type")
        name, visibility = body.get("name"), body.get("visibility", "USER")
        if not isinstance(url, str) or not url.strip():
            return _bad_request("url must be the URL of the media to register")
        if kind not in ASSET_TYPES:
            return _bad_request("type must be one of: " + ", ".join(ASSET_TYPES))
        if visibility not in VISIBILITIES:
            return _bad_request("visibility must be one of: " + ", ".join(VISIBILITIES))
        if name is not None and not isinstance(name, str):
            return _bad_request("name must be a string")
        if body.get("projectId") is not None:
            message = "projectId does not reference a project in your organization"
            body_ = errors.error_body(422, message, errorCode=CODE_PROJECT_NOT_FOUND)
            return Response.json(422, body_)
        with self._lock:
            self._tally.counts["registrations"] += 1
            upload = self._uploads.get(self._by_url.get(url, ""))
            if upload is None or upload.api_key != api_key or upload.data is None:
                message = (
                    f"No uploaded file found at {url}: PUT the file to the uploadUrl from "
                    "POST /v2/assets/upload first"
                )
                error = errors.error_body(422, message, errorCode=CODE_UPLOAD_NOT_FOUND)
                return Response.json(422, error)
            if len(upload.data) > self.settings.asset_max_bytes:
                message = (
                    f"The file is {len(upload.data)} bytes; your plan allows files up to "
                    f"{self.settings.asset_max_bytes} bytes"
                )
                return Response.json(413, errors.error_body(413, message, errorCode=CODE_TOO_LARGE))
            asset = AssetSnapshot(
                id=str(uuid.uuid4()),
                api_key=api_key,
                sha256=upload.sha256 or "",
                type=kind,
                name=name or upload.file_name,
                size=len(upload.data),
                url=upload.url,
                visibility=visibility,
                created_at=self.clock.now(),
            )
            self._assets[asset.id] = asset
            self._tally.counts["assets_created"] += 1
        return Response.json(201, _asset_json(asset))

    # -- read ---------------------------------------------------------------------------------

    def uploaded(self, api_key: str, request: Request) -> Response:
        digest = request.query.get("contentSha256", [""])[0]
        kind = request.query.get("type", [""])[0]
        if not _SHA256.match(digest):
            return _bad_request("contentSha256 must be 64 lowercase hexadecimal characters")
        if kind not in ASSET_TYPES:
            return _bad_request("type must be one of: " + ", ".join(ASSET_TYPES))
        if self.faults.take_asset_fault("asset_lookup_error", self.faults.asset_lookup_5xx_rate):
            return Response.json(500, errors.error_body(500))
        with self._lock:
            self._tally.counts["lookups"] += 1
            matches = [
                asset
                for asset in self._assets.values()
                if asset.api_key == api_key and asset.sha256 == digest and asset.type == kind
            ]
        newest = matches[-1] if matches else None  # dicts keep creation order
        return Response.json(200, {"asset": _asset_json(newest) if newest else None})

    def get(self, api_key: str, asset_id: str) -> Response:
        if self.faults.take_asset_fault("asset_lookup_error", self.faults.asset_lookup_5xx_rate):
            return Response.json(500, errors.error_body(500))
        with self._lock:
            self._tally.counts["lookups"] += 1
            asset = self._assets.get(asset_id)
        if asset is None or asset.api_key != api_key:
            return Response.json(404, errors.not_found("Asset not found"))
        return Response.json(200, _asset_json(asset))

    def list_assets(self, api_key: str, request: Request) -> Response:
        query = request.query
        raw_limit = query.get("limit", [""])[0]
        try:
            limit = int(raw_limit) if raw_limit else DEFAULT_PAGE
        except ValueError:
            limit = 0
        if not 1 <= limit <= 100:
            return _bad_request("limit must be between 1 and 100")
        sort = query.get("sortBy", ["dateDesc"])[0] or "dateDesc"
        if sort not in SORTS:
            return _bad_request("sortBy must be one of: " + ", ".join(SORTS))
        types = {kind for raw in query.get("types", []) for kind in raw.split(",") if kind}
        if not types <= set(ASSET_TYPES):
            return _bad_request("types must be among: " + ", ".join(ASSET_TYPES))
        offset = _cursor_offset(query.get("cursor", [""])[0])
        if offset is None:
            return _bad_request("cursor is not one this API returned")
        search = (query.get("searchQuery", [""])[0] or "").lower()
        if query.get("projectId", [""])[0]:
            items: list[AssetSnapshot] = []  # the emulator has no projects
        else:
            with self._lock:
                items = [
                    asset
                    for asset in self._assets.values()
                    if asset.api_key == api_key
                    and (not types or asset.type in types)
                    and search in asset.name.lower()
                ]
        items = _sorted(items, sort)
        page = items[offset : offset + limit]
        following = offset + limit
        next_cursor = _cursor(following) if following < len(items) else None
        return Response.json(
            200,
            {
                "items": [_asset_json(asset) for asset in page],
                "nextCursor": next_cursor,
                "totalCount": len(items),
            },
        )


def _sorted(items: list[AssetSnapshot], sort: str) -> list[AssetSnapshot]:
    """Sorted by ``sort``; ties (same name, same frozen-clock moment) by creation order."""
    keys: dict[str, Callable[[AssetSnapshot], Any]] = {
        "name": lambda asset: asset.name.lower(),
        "date": lambda asset: asset.created_at,
        "duration": lambda asset: asset.created_at,  # no durations: by date
        "size": lambda asset: asset.size,
        "kind": lambda asset: asset.type,
    }
    primary = keys[sort.removesuffix("Asc").removesuffix("Desc")]
    order = sorted(enumerate(items), key=lambda pair: (primary(pair[1]), pair[0]))
    if sort.endswith("Desc"):
        order.reverse()
    return [asset for _, asset in order]


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _cursor_offset(cursor: str) -> int | None:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    label, _, number = text.partition(":")
    if label != "offset" or not number.isdigit():
        return None
    return int(number)
