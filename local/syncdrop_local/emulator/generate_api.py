"""Routes of Sync's Generate API in the emulator (sync-api.md §4, §6).

- ``POST /v2/generate`` — JSON CreateGenerationDto, optional ``Idempotency-Key``; 201 with the
  Generation object, 200 with the same generation again for a replay of its key and body.
- ``GET /v2/generate/{id}`` — the Generation object, or 404.
- ``GET /v2/generations?ids=a,b&status=`` — a bare JSON array; unknown ids are left out.

Order of checks on create (after the API key and the ``rate_limit_*`` faults, see
:mod:`.api`): the request-rate limit (429 ``rate_limit_exceeded``), ``generate_5xx_rate``, the
idempotency key (400 ``INVALID_IDEMPOTENCY_KEY``), the JSON body, a replay of the key (200, or
422 for another body: it creates nothing, so it comes before the limits), validation (400),
``generation_concurrency_429_rate`` and the plan's generation concurrency (429
``concurrency_limit_reached``), creation, then the after-create faults (a lost answer, 503
``IDEMPOTENCY_OUTCOME_UNKNOWN``). Gets and lists take the get/list faults of batches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import errors
from .assets import AssetRoutes
from .clock import Clock
from .faults import FaultPlan
from .generate_input import check_generate_body, idempotency_key, read_body
from .generations import (
    GENERATION_STATUSES,
    CreateOutcome,
    Generation,
    GenerationStore,
    canonical_json,
)
from .rate_limit import SlidingWindowLimit
from .records import GenerateTally
from .server import Request, Response
from .settings import EmulatorSettings
from .validation import BatchInputError

GENERATE = re.compile(r"^/v2/generate/?$")
GENERATION_ITEM = re.compile(r"^/v2/generate/(?P<id>[^/]+)/?$")
GENERATIONS = re.compile(r"^/v2/generations/?$")

Slowed = Callable[[str, Callable[[], Response]], Response]


def _refusal(exc: BatchInputError) -> Response:
    return Response.json(
        exc.status, errors.error_body(exc.status, exc.message, errorCode=exc.error_code)
    )


def _query_list(request: Request, name: str) -> list[str]:
    """Values of a list parameter sent comma-separated (``ids=a,b``) or repeated (``ids=a&ids=b``,
    as the SDK sends it)."""
    values = request.query.get(name, [])
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


class GenerateRoutes:
    """Answers the Generate API routes; generation state lives in the store."""

    def __init__(
        self,
        *,
        settings: EmulatorSettings,
        store: GenerationStore,
        faults: FaultPlan,
        clock: Clock,
        tally: GenerateTally,
        limit: SlidingWindowLimit,
        public_url: Callable[[], str],
        slowed: Slowed,
        assets: AssetRoutes | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.faults = faults
        self.clock = clock
        self.tally = tally
        self.limit = limit
        self.public_url = public_url
        self.slowed = slowed
        # An assetId must be one of this account's assets, as in a batch line.
        self.assets = assets

    def generation_json(self, generation: Generation, now: float | None = None) -> dict[str, Any]:
        """The Generation object as of ``now`` (emulated; default the clock's time)."""
        return generation.to_response(self.clock.now() if now is None else now, self.public_url())

    def is_create(self, request: Request) -> bool:
        return request.method == "POST" and GENERATE.match(request.path) is not None

    def received(self) -> None:
        """Count one create POST, whatever its answer will be."""
        self.tally.received()
        self.limit.saw(self.clock.now())

    def handle(self, request: Request) -> Response | None:
        """The answer for a Generate API route, or ``None`` when the path is not one."""
        path = request.path
        if GENERATE.match(path):
            if request.method == "POST":
                return self.slowed("generate", lambda: self.create(request))
            return Response.json(404, errors.not_found(f"Cannot {request.method} {path}"))
        if (match := GENERATION_ITEM.match(path)) and request.method == "GET":
            generation_id = match["id"]
            return self.slowed("get", lambda: self.get(generation_id))
        if GENERATIONS.match(path) and request.method == "GET":
            return self.slowed("list", lambda: self.list(request))
        return None

    # -- create -------------------------------------------------------------------------------

    def create(self, request: Request) -> Response:
        if not self.limit.admit(self.clock.now(), self.settings.generate_rate_limit):
            return Response.json(429, errors.rate_limited())
        status = self.faults.take_generate_error()
        if status is not None:
            return Response.json(status, errors.error_body(status))
        try:
            key = idempotency_key(request)
            body = read_body(request)
        except BatchInputError as exc:
            return _refusal(exc)
        if key is not None:
            self.tally.saw_key(key)
        earlier = self.store.replay(key, canonical_json(body))
        if earlier is not None:
            return self._replay(earlier)
        try:
            check_generate_body(body)
            if self.assets is not None:
                self.assets.check_payload(self.settings.api_key, body, None)
        except BatchInputError as exc:
            return _refusal(exc)
        if self.faults.take_generation_concurrency_limit():
            return Response.json(429, errors.generation_concurrency_limit())
        settings = self.settings
        outcome = self.store.create(
            body,
            idempotency_key=key,
            timing=settings.generation_timing,
            limit=settings.generation_limit,
            failure_rate=settings.failure_rate,
        )
        if outcome.kind == "limited":
            return Response.json(429, errors.generation_concurrency_limit())
        if outcome.kind != "created" or outcome.generation is None:
            return self._replay(outcome)  # a copy with the same key got there first
        self.tally.created()
        if self.assets is not None:
            self.assets.record_payload_use(body)
        return self._after_create(outcome.generation, key)

    def _replay(self, earlier: CreateOutcome) -> Response:
        if earlier.kind == "mismatch" or earlier.generation is None:
            return Response.json(422, errors.idempotency_key_reused())
        self.tally.replayed()
        return Response.json(200, self.generation_json(earlier.generation))

    def _after_create(self, generation: Generation, key: str | None) -> Response:
        answer = Response.json(201, self.generation_json(generation))
        if self.faults.take_lost_answer(key):
            # Headers go out, then the connection is reset before any of the body.
            answer.cut_after = 0
            answer.reset = True
            return answer
        unknown, named = self.faults.take_unknown_outcome()
        if unknown:
            body = errors.idempotency_outcome_unknown(generation.id if named else None)
            return Response.json(503, body)
        return answer

    # -- read ---------------------------------------------------------------------------------

    def get(self, generation_id: str) -> Response:
        fault = self.faults.take_get_fault()
        if fault is not None:
            return Response.json(fault, errors.error_body(fault))
        generation = self.store.get(generation_id)
        if generation is None:
            return Response.json(404, errors.generation_not_found())
        return Response.json(200, self.generation_json(generation))

    def list(self, request: Request) -> Response:
        fault = self.faults.take_list_fault()
        if fault is not None:
            return Response.json(fault, errors.error_body(fault))
        statuses = set(_query_list(request, "status"))
        unknown = statuses - set(GENERATION_STATUSES)
        if unknown:
            message = "status must be one of: " + ", ".join(GENERATION_STATUSES)
            return Response.json(400, errors.error_body(400, message))
        ids = _query_list(request, "ids")
        if ids:
            found = (self.store.get(generation_id) for generation_id in dict.fromkeys(ids))
            chosen = [generation for generation in found if generation is not None]
        else:
            chosen = sorted(self.store.all(), key=lambda item: item.ordinal, reverse=True)
        now = self.clock.now()
        answers = [self.generation_json(generation, now) for generation in chosen]
        if statuses:
            answers = [answer for answer in answers if answer["status"] in statuses]
        return Response.json(200, answers)
