"""Rows' s3:// media on their way to Sync: as Sync assets, never as links to the bucket.

Each media file is uploaded to Sync once (domain/media_assets.py) and the batch line or the
generation names it by ``assetId``; https:// links go as they are.
"""

from __future__ import annotations

from typing import Any

from syncdrop.domain.media_assets import (
    media_uris,
    substitute_asset_lines,
    substitute_assets,
)
from syncdrop.domain.services import Services
from syncdrop.errors import MediaRefused

__all__ = ["MediaRefused", "with_assets", "with_assets_lines"]


def with_assets_lines(services: Services, jsonl: bytes) -> bytes:
    """A chunk's JSONL with every s3:// input named by its Sync asset id."""
    if b'"s3://' not in jsonl:
        return jsonl
    kinds = media_uris(jsonl)
    ids = services.media_assets().asset_ids(kinds, kinds)
    return substitute_asset_lines(jsonl, ids)


def with_assets(services: Services, payload: dict[str, Any]) -> dict[str, Any]:
    """One generation's payload with every s3:// input named by its Sync asset id."""
    kinds = media_uris(payload)
    if not kinds:
        return dict(payload)
    ids = services.media_assets().asset_ids(kinds, kinds)
    return substitute_assets(payload, ids)
