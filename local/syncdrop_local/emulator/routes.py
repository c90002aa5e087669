"""Route templates of the emulator's requests, for counting requests by route, not by path."""

from __future__ import annotations

import re

from .assets import asset_route_family

# Known routes; any other path has its id-like segments replaced (see :func:`route_template`).
ROUTE_TEMPLATES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^/v2/batch/?$"), "/v2/batch"),
    (re.compile(r"^/v2/batch/[^/]+/?$"), "/v2/batch/{id}"),
    (re.compile(r"^/v2/batches/[^/]+/result/?$"), "/v2/batches/{id}/result"),
    (re.compile(r"^/v2/generate/?$"), "/v2/generate"),
    (re.compile(r"^/v2/generate/[^/]+/?$"), "/v2/generate/{id}"),
    (re.compile(r"^/v2/generations/?$"), "/v2/generations"),
    (re.compile(r"^/v2/analyze/cost/?$"), "/v2/analyze/cost"),
    (re.compile(r"^/signed/[^/]+/result\.jsonl$"), "/signed/{id}/result.jsonl"),
    (re.compile(r"^/media/[^/]+\.mp4$"), "/media/{id}.mp4"),
)
# A segment holding a digit, or a long one, is an id (uuids, batch_..., asset ids), not a word.
_ID_SEGMENT = re.compile(r".*\d.*|.{21,}")


def route_template(path: str) -> str:
    """``/v2/generate/1f0c...`` -> ``/v2/generate/{id}``; unknown routes keep their words."""
    for pattern, template in ROUTE_TEMPLATES:
        if pattern.match(path):
            return template
    segments = path.rstrip("/").split("/") or [""]
    return "/".join("{id}" if _ID_SEGMENT.fullmatch(part) else part for part in segments) or "/"


def route_key(method: str, path: str) -> str:
    """``"GET /v2/generate/{id}"``; the Assets API's routes by their own names."""
    return asset_route_family(method, path) or f"{method} {route_template(path)}"
