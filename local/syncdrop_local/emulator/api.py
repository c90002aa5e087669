"""Routes of the Sync emulator: Sync's Batch API plus the result download and media hosts.

Routes (sync-api.md §1, §2):

- ``POST /v2/batch`` — create from a multipart JSONL upload (field ``input``, alias ``file``;
  fields ``webhook_url``, ``dry_run``) or from JSON ``{"rows": [...], "webhook_url"?,
  "dry_run"?}``; 201 ``BatchResponse``, or 200 ``{"status": "VALIDATED"}`` for a dry run.
- ``GET /v2/batch/{id}`` and ``GET /v2/batch?status=&created_after=&created_before=``.
- ``GET /v2/batches/{id}/result`` — no API key needed; 302 to the signed, expiring result URL.
- ``GET /signed/{id}/result.jsonl?expires=&signature=`` — the result JSONL, or an S3-like 403.
- ``GET /media/{generation id}.mp4`` — a tiny real MP4 for every completed generation.
- ``GET /healthz`` — readiness probe.

Every other ``/v2`` route needs ``x-api-key``. Order of checks on create: API key (401),
``rate_limit_next`` (429), pre-create faults, plan access (402), request validation (400), dry run
(200), batch concurrency (429), creation, after-create faults, 201.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from . import errors
from .batches import BATCH_STATUSES, Batch, BatchStore
from .clock import Clock, parse_iso8601
from .faults import CreateFault, FaultPlan
from .media import tiny_mp4
from .multipart import FormPart, MultipartError, parse_multipart
from .records import CreateTally
from .server import Request, Response
from .settings import EmulatorSettings
from .signing import UrlSigner
from .validation import (
    CODE_INPUT_MISSING,
    CODE_INVALID_REQUEST,
    BatchInputError,
    InputLine,
    parse_jsonl,
    parse_rows,
)

_BATCH_COLLECTION = re.compile(r"^/v2/batch/?$")
_BATCH_ITEM = re.compile(r"^/v2/batch/(?P<id>[^/]+)/?$")
_BATCH_RESULT = re.compile(r"^/v2/batches/(?P<id>[^/]+)/result/?$")
_SIGNED_RESULT = re.compile(r"^/signed/(?P<id>[^/]+)/result\.jsonl$")
_MEDIA = re.compile(r"^/media/(?P<id>[^/]+)\.mp4$")

NDJSON = "application/x-ndjson"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _s3_error(status: int, code: str, message: str, **extra: str) -> Response:
    fields = "".join(f"<{key}>{escape(value)}</{key}>" for key, value in extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{fields}"
        f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>"
    )
    return Response(status, body.encode(), "application/xml")


def _parse_bool(value: object, field: str) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BatchInputError(
        f'"{field}" must be a boolean ("true" or "false")', error_code=CODE_INVALID_REQUEST
    )


def _parse_webhook_url(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parts = urlsplit(value)
        if parts.scheme in ("http", "https") and parts.netloc:
            return value
    raise BatchInputError(
        '"webhook_url" must be a valid http(s) URL', error_code=CODE_INVALID_REQUEST
    )


class SyncApi:
    """Answers emulator requests; state lives in the store, fault plan, clock and tally."""

    def __init__(
        self,
        *,
        settings: EmulatorSettings,
        store: BatchStore,
        faults: FaultPlan,
        clock: Clock,
        tally: CreateTally,
        signer: UrlSigner,
        stopping: threading.Event,
        own_url: Callable[[], str],
    ) -> None:
        self.settings = settings
        self.store = store
        self.faults = faults
        self.clock = clock
        self.tally = tally
        self.signer = signer
        self.stopping = stopping
        self.own_url = own_url

    # -- urls ---------------------------------------------------------------------------------

    def public_url(self) -> str:
        return (self.settings.public_url or self.own_url()).rstrip("/")

    def signed_base(self) -> str:
        return (self.settings.signed_base or self.own_url()).rstrip("/")

    def batch_json(self, batch: Batch) -> dict[str, Any]:
        return batch.to_response(self.clock.now(), self.public_url())

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/healthz":
            return Response.json(200, {"status": "ok"})
        if match := _BATCH_RESULT.match(path):
            return self._method_guard(request, "GET") or self.result_redirect(match["id"])
        if match := _SIGNED_RESULT.match(path):
            return self._method_guard(request, "GET") or self.signed_result(match["id"], request)
        if match := _MEDIA.match(path):
            return self._method_guard(request, "GET") or self.media(match["id"])
        if path == "/v2" or path.startswith("/v2/"):
            return self._v2(request)
        return Response.json(404, errors.not_found(f"Cannot {request.method} {path}"))

    def _method_guard(self, request: Request, method: str) -> Response | None:
        if request.method == method:
            return None
        return Response.json(404, errors.not_found(f"Cannot {request.method} {request.path}"))

    def _authorised(self, request: Request) -> bool:
        given = request.header("x-api-key") or ""
        return hmac.compare_digest(given.encode(), self.settings.api_key.encode())

    def _v2(self, request: Request) -> Response:
        """Count every create POST (whatever its answer) around the ``/v2`` routes."""
        if request.method != "POST" or not _BATCH_COLLECTION.match(request.path):
            return self._v2_routes(request)
        self.tally.received()
        response = self._v2_routes(request)
        self.tally.answered(response.status)
        return response

    def _v2_routes(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response.json(401, errors.unauthorized())
        if self.faults.take_rate_limit():
            return Response.json(429, errors.rate_limited())
        if _BATCH_COLLECTION.match(request.path):
            if request.method == "POST":
                return self.create(request)
            if request.method == "GET":
                return self.list_batches(request)
        elif (match := _BATCH_ITEM.match(request.path)) and request.method == "GET":
            return self.get_batch(match["id"])
        return Response.json(404, errors.not_found(f"Cannot {request.method} {request.path}"))

    # -- create -------------------------------------------------------------------------------

    def _fault_response(self, fault: CreateFault) -> Response:
        status = fault.status
        return Response.json(status, errors.error_body(status))

    def create(self, request: Request) -> Response:
        fault = self.faults.take_create_fault(created=False)
        if fault is not None:
            if fault.kind == "hang":
                self.stopping.wait(fault.seconds)
            return self._fault_response(fault)
        if not self.settings.batch_access:
            return Response.json(402, errors.payment_required())
        try:
            lines, webhook_url, dry_run = self.parse_create(request)
        except BatchInputError as exc:
            body = errors.error_body(exc.status, exc.message, errorCode=exc.error_code)
            return Response.json(exc.status, body)
        if dry_run:
            self.tally.validated()
            return Response.json(200, {"status": "VALIDATED"})
        settings = self.settings
        batch = self.store.create(
            lines,
            webhook_url=webhook_url,
            timing=settings.timing,
            concurrency=settings.batch_concurrency,
            failure_rate=settings.failure_rate,
        )
        if batch is None:
            return Response.json(429, errors.concurrency_limit())
        self.tally.created()
        after = self.faults.take_create_fault(created=True)
        if after is not None:
            if after.kind == "hang":
                self.stopping.wait(after.seconds)
            else:
                return self._fault_response(after)
        return Response.json(201, self.batch_json(batch))

    def parse_create(self, request: Request) -> tuple[list[InputLine], str | None, bool]:
        """Read either create form; raises :class:`BatchInputError` for anything Sync refuses."""
        limits = self.settings.limits
        if request.content_type == "multipart/form-data":
            try:
                parts = parse_multipart(request.body, request.header("content-type") or "")
            except MultipartError as exc:
                raise BatchInputError(
                    f"Malformed multipart/form-data body: {exc}", error_code=CODE_INVALID_REQUEST
                ) from exc
            named: dict[str, FormPart] = {}
            for part in parts:
                named.setdefault(part.name, part)
            upload = named.get("input") or named.get("file")
            webhook = named.get("webhook_url")
            dry = named.get("dry_run")
            webhook_url = _parse_webhook_url(webhook.text().strip() if webhook else None)
            dry_run = _parse_bool(dry.text() if dry else None, "dry_run")
            if upload is None:
                raise BatchInputError(
                    'A JSONL file is required in the "input" field', error_code=CODE_INPUT_MISSING
                )
            return parse_jsonl(upload.data, limits), webhook_url, dry_run
        if request.content_type == "application/json":
            try:
                body = json.loads(request.body)
            except ValueError as exc:
                raise BatchInputError(
                    "Request body must be valid JSON", error_code=CODE_INVALID_REQUEST
                ) from exc
            if not isinstance(body, dict):
                raise BatchInputError(
                    "Request body must be a JSON object", error_code=CODE_INVALID_REQUEST
                )
            webhook_url = _parse_webhook_url(body.get("webhook_url"))
            dry_run = _parse_bool(body.get("dry_run"), "dry_run")
            if "rows" not in body:
                raise BatchInputError('"rows" is required', error_code=CODE_INPUT_MISSING)
            return parse_rows(body["rows"], limits), webhook_url, dry_run
        raise BatchInputError(
            "Content-Type must be multipart/form-data or application/json",
            error_code=CODE_INVALID_REQUEST,
        )

    # -- read ---------------------------------------------------------------------------------

    def get_batch(self, batch_id: str) -> Response:
        fault = self.faults.take_get_fault()
        if fault is not None:
            return Response.json(fault, errors.error_body(fault))
        batch = self.store.get(batch_id)
        if batch is None:
            return Response.json(404, errors.not_found())
        return Response.json(200, self.batch_json(batch))

    def list_batches(self, request: Request) -> Response:
        fault = self.faults.take_get_fault()
        if fault is not None:
            return Response.json(fault, errors.error_body(fault))
        query = request.query
        status = query.get("status", [None])[0] or None
        if status is not None and status not in BATCH_STATUSES:
            message = "status must be one of: " + ", ".join(BATCH_STATUSES)
            return Response.json(400, errors.error_body(400, message))
        bounds: dict[str, float | None] = {}
        for name in ("created_after", "created_before"):
            raw = query.get(name, [None])[0] or None
            try:
                bounds[name] = parse_iso8601(raw) if raw is not None else None
            except ValueError:
                message = f"{name} must be an ISO 8601 date-time"
                return Response.json(400, errors.error_body(400, message))
        batches = self.store.query(
            status=status,
            created_after=bounds["created_after"],
            created_before=bounds["created_before"],
        )
        now = self.clock.now()
        public_url = self.public_url()
        return Response.json(200, [batch.to_response(now, public_url) for batch in batches])

    # -- results and media --------------------------------------------------------------------

    def result_redirect(self, batch_id: str) -> Response:
        batch = self.store.get(batch_id)
        if batch is None:
            return Response.json(404, errors.not_found())
        if not batch.is_terminal(self.clock.now()):
            return Response.json(404, errors.not_found("Batch results are not available yet"))
        expires = int(self.clock.now() + self.settings.result_url_ttl)
        signature = self.signer.sign(batch_id, expires)
        location = (
            f"{self.signed_base()}/signed/{batch_id}/result.jsonl"
            f"?expires={expires}&signature={signature}"
        )
        return Response(302, b"", None, {"Location": location, "Cache-Control": "no-store"})

    def signed_result(self, batch_id: str, request: Request) -> Response:
        fault = self.faults.take_download_fault()
        if fault is not None:
            return _s3_error(fault, "InternalError", "We encountered an internal error.")
        query = request.query
        expires_raw = query.get("expires", [""])[0]
        signature = query.get("signature", [""])[0]
        if not expires_raw or not signature:
            return _s3_error(
                403,
                "AccessDenied",
                "Query-string authentication requires the signature and expires parameters",
            )
        try:
            expires = int(expires_raw)
        except ValueError:
            return _s3_error(403, "AccessDenied", "Invalid date (should be seconds since epoch)")
        if not self.signer.verify(batch_id, expires, signature):
            return _s3_error(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        now = self.clock.now()
        if now > expires:
            return _s3_error(
                403,
                "AccessDenied",
                "Request has expired",
                Expires=str(expires),
                ServerTime=str(int(now)),
            )
        batch = self.store.get(batch_id)
        if batch is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        lines = batch.result_lines(self.public_url())
        body = "".join(_compact(line) + "\n" for line in lines).encode()
        return Response(200, body, NDJSON, {"Content-Disposition": "inline; filename=result.jsonl"})

    def media(self, generation_id: str) -> Response:
        if not self.store.generation_ready(generation_id):
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return Response(200, tiny_mp4(), "video/mp4")
