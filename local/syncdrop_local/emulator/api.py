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
- the Generate API (``POST /v2/generate``, ``GET /v2/generate/{id}``, ``GET /v2/generations``),
  see :mod:`.generate_api`.
- ``POST /v2/analyze/cost`` — Sync's cost estimate for a generation body, see :mod:`.cost_api`.
- ``/v2/assets/...``, the signed ``PUT /uploads/{token}`` and ``GET /files/...`` — the Assets
  API (:mod:`.assets`); a batch line naming an ``assetId`` its API key never registered is a 400.

Every other ``/v2`` route needs ``x-api-key``. Order of checks on create: API key (401),
``rate_limit_next``/``rate_limit_rate`` (429), pre-create faults, plan access (402), request
validation (400), dry run (200), ``concurrency_429_rate`` and batch concurrency (429), creation,
after-create faults, 201. A slow-answer fault holds the finished answer back (see :meth:`_slowed`).
The result routes live in :mod:`.results`.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from . import errors
from .assets import AssetRoutes
from .batches import BATCH_STATUSES, Batch, BatchStore
from .clock import Clock, parse_iso8601
from .cost_api import CostRoutes
from .faults import CreateFault, FaultPlan
from .generate_api import GenerateRoutes
from .generations import GenerationStore
from .media import tiny_mp4
from .multipart import FormPart, MultipartError, parse_multipart
from .rate_limit import SlidingWindowLimit
from .records import CreateTally, GenerateTally
from .results import ResultFiles, media_response
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


def _error_code(response: Response) -> str:
    """The ``errorCode`` of a JSON error answer ("" without one)."""
    try:
        body = json.loads(response.body)
    except ValueError:
        return ""
    code = body.get("errorCode") if isinstance(body, dict) else None
    return code if isinstance(code, str) else ""


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
        generations: GenerationStore | None = None,
        generate_tally: GenerateTally | None = None,
        generate_limit: SlidingWindowLimit | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.faults = faults
        self.clock = clock
        self.tally = tally
        self.signer = signer
        self.stopping = stopping
        self.own_url = own_url
        self.results = ResultFiles(
            settings=settings,
            store=store,
            faults=faults,
            clock=clock,
            signer=signer,
            public_url=self.public_url,
            signed_base=self.signed_base,
        )
        self.assets = AssetRoutes(
            settings=settings,
            faults=faults,
            clock=clock,
            signer=signer,
            public_url=self.public_url,
            signed_base=self.signed_base,
        )
        self.generate = GenerateRoutes(
            settings=settings,
            store=generations or GenerationStore(clock_now=clock.now, seed=settings.seed),
            faults=faults,
            clock=clock,
            tally=generate_tally or GenerateTally(),
            limit=generate_limit or SlidingWindowLimit(),
            public_url=self.public_url,
            slowed=self._slowed,
            assets=self.assets,
        )
        self.cost = CostRoutes(settings=settings, assets=self.assets)

    # -- urls ---------------------------------------------------------------------------------

    def public_url(self) -> str:
        return (self.settings.public_url or self.own_url()).rstrip("/")

    def signed_base(self) -> str:
        return (self.settings.signed_base or self.own_url()).rstrip("/")

    def batch_json(self, batch: Batch, now: float | None = None) -> dict[str, Any]:
        """The ``BatchResponse`` as of ``now`` (emulated; default the clock's time)."""
        return batch.to_response(self.clock.now() if now is None else now, self.public_url())

    # -- dispatch -----------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        path = request.path
        if path == "/healthz":
            return Response.json(200, {"status": "ok"})
        if match := _BATCH_RESULT.match(path):
            return self._method_guard(request, "GET") or self.result_redirect(match["id"])
        if match := _SIGNED_RESULT.match(path):
            batch_id = match["id"]
            return self._method_guard(request, "GET") or self._slowed(
                "result", lambda: self.signed_result(batch_id, request)
            )
        if match := _MEDIA.match(path):
            return self._method_guard(request, "GET") or self.media(match["id"])
        if (answer := self.assets.handle(request)) is not None:
            return answer
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
        if self.generate.is_create(request):
            self.generate.received()
            response = self._v2_routes(request)
            if response.status == 429:
                self.generate.tally.limited(_error_code(response))
            return response
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
        generate_answer = self.generate.handle(request)
        if generate_answer is not None:
            return generate_answer
        cost_answer = self.cost.handle(request)
        if cost_answer is not None:
            return cost_answer
        if _BATCH_COLLECTION.match(request.path):
            if request.method == "POST":
                return self._slowed("create", lambda: self.create(request))
            if request.method == "GET":
                return self._slowed("list", lambda: self.list_batches(request))
        elif (match := _BATCH_ITEM.match(request.path)) and request.method == "GET":
            item_id = match["id"]
            return self._slowed("get", lambda: self.get_batch(item_id))
        return Response.json(404, errors.not_found(f"Cannot {request.method} {request.path}"))

    def _slowed(self, family: str, answer: Callable[[], Response]) -> Response:
        """Answer, then hold the answer back for a slow-answer fault of ``family``.

        The request takes effect first (a create creates its batch), as on a real server whose
        answer is late; a client with a shorter timeout gives up without seeing it.
        """
        response = answer()
        delay = self.faults.take_slow(family)
        if delay > 0:
            self.stopping.wait(delay)
        return response

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
        if not self.settings.has_batch_access:
            return Response.json(402, errors.payment_required())
        try:
            lines, webhook_url, dry_run = self.parse_create(request)
            self.assets.check_lines(request.header("x-api-key") or "", lines)
        except BatchInputError as exc:
            body = errors.error_body(exc.status, exc.message, errorCode=exc.error_code)
            return Response.json(exc.status, body)
        if dry_run:
            self.tally.validated()
            return Response.json(200, {"status": "VALIDATED"})
        if self.faults.take_concurrency_limit():
            return Response.json(429, errors.concurrency_limit())
        settings = self.settings
        batch = self.store.create(
            lines,
            webhook_url=webhook_url,
            timing=settings.timing,
            concurrency=settings.batch_concurrency,
            failure_rate=settings.failure_rate,
            plan_faults=lambda ordinal, ids, failing: self.faults.plan_batch(
                ordinal, ids, already_failing=failing
            ),
        )
        if batch is None:
            return Response.json(429, errors.concurrency_limit())
        self.assets.record_lines_use(lines)
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
        fault = self.faults.take_list_fault()
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

    # -- results and media (see :mod:`.results`) --------------------------------------------

    def result_redirect(self, batch_id: str) -> Response:
        return self.results.redirect(batch_id)

    def signed_result(self, batch_id: str, request: Request) -> Response:
        return self.results.download(batch_id, request)

    def media(self, generation_id: str) -> Response:
        """A batch line's output video, or a completed generation's."""
        generation = self.generate.store.completed(generation_id)
        if generation is None:
            return self.results.media(generation_id)
        # Generations share the output-video faults; ordinal 0 is no batch's.
        return media_response(tiny_mp4(), self.faults.take_media_fault(0, generation.id))
