"""Sync's cost estimate in the emulator: ``POST /v2/analyze/cost`` (sync-api.md §4.4).

Sync documents the route as taking "identical parameters to the POST /v2/generate endpoint"
and answering 200 with a JSON array of ``{estimatedFrameCount, estimatedGenerationCost}``
(docs.sync.so/api-reference/endpoint/analyze/post-cost; syncsdk 0.3.0). The body goes through
the same checks as a generation (400 with Sync's error body, an ``assetId`` this key never
registered included); the API key and the ``rate_limit_*`` faults come first (see :mod:`.api`).

What the docs leave open, and the emulator's choice (docs/emulator.md, "Cost estimate"):

- Sync measures the input media; the emulator fetches nothing and takes every input to last
  :data:`MEDIA_SECONDS` (the length of every output it makes), at ``options.fps`` when the
  body gives one, else :data:`DEFAULT_FPS` (Sync quotes its prices "at 25 fps").
- The array holds one estimate, for the one generation the body describes.
- Prices are the upper end of the per-second ranges on Sync's billing page (no plan discount):
  :data:`USD_PER_SECOND`, billed per output frame (per-second rate / 25 per frame).
"""

from __future__ import annotations

import re
from typing import Any

from . import errors
from .assets import AssetRoutes
from .batches import OUTPUT_DURATION_SECONDS
from .generate_input import check_generate_body, read_body
from .server import Request, Response
from .settings import EmulatorSettings
from .validation import CODE_INVALID_REQUEST, BatchInputError

ANALYZE_COST = re.compile(r"^/v2/analyze/cost/?$")
MEDIA_SECONDS = OUTPUT_DURATION_SECONDS
DEFAULT_FPS = 25.0
PRICED_FPS = 25.0  # Sync's per-second prices are per frame at this rate
# sync.so/docs/product/billing (read 3 Dec 2026): lipsync-2 $0.04-0.05/s, lipsync-2-pro
# $0.067-0.083/s, sync-3 $0.107-0.133/s at 25 fps. The stored pages price neither
# lipsync-1.9.0-beta nor react-1: the emulator charges them as lipsync-2 and lipsync-2-pro.
USD_PER_SECOND: dict[str, float] = {
    "lipsync-2": 0.05,
    "lipsync-2-pro": 0.083,
    "sync-3": 0.133,
    "lipsync-1.9.0-beta": 0.05,
    "react-1": 0.083,
}


def _fps(body: dict[str, Any]) -> float:
    options = body.get("options")
    fps = options.get("fps") if isinstance(options, dict) else None
    if fps is None:
        return DEFAULT_FPS
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps <= 240:
        raise BatchInputError(
            '"options.fps" must be a number above 0 and at most 240',
            error_code=CODE_INVALID_REQUEST,
        )
    return float(fps)


def estimate(body: dict[str, Any]) -> dict[str, float]:
    """The estimate for one checked generation body."""
    frames = round(MEDIA_SECONDS * _fps(body))
    per_frame = USD_PER_SECOND[body["model"]] / PRICED_FPS
    return {"estimatedFrameCount": frames, "estimatedGenerationCost": round(frames * per_frame, 6)}


class CostRoutes:
    """Answers ``POST /v2/analyze/cost``; it creates nothing, counts toward no limit and takes no
    fault of its own (only the ``rate_limit_*`` ones every ``/v2`` route takes)."""

    def __init__(
        self,
        *,
        settings: EmulatorSettings,
        assets: AssetRoutes | None = None,
    ) -> None:
        self.settings = settings
        self.assets = assets

    def handle(self, request: Request) -> Response | None:
        """The answer for the cost route, or ``None`` when the path is not it."""
        if not ANALYZE_COST.match(request.path):
            return None
        if request.method != "POST":
            return Response.json(404, errors.not_found(f"Cannot {request.method} {request.path}"))
        return self.answer(request)

    def answer(self, request: Request) -> Response:
        try:
            body = check_generate_body(read_body(request))
            if self.assets is not None:
                self.assets.check_payload(self.settings.api_key, body, None)
            return Response.json(200, [estimate(body)])
        except BatchInputError as exc:
            return Response.json(
                exc.status, errors.error_body(exc.status, exc.message, errorCode=exc.error_code)
            )
