"""Verify the signature on a Sync webhook before syncdrop trusts anything in its body.

Sync signs ``f"{t}." + body`` with HMAC-SHA256, keyed with the organisation's webhook secret
used verbatim (``whsec_`` prefix included), and sends ``t=<unix seconds>,v1=<hex digest>`` in
``Sync-Signature`` (its payload reference calls the header ``X-Signature-Primary``). This module
is pure: the caller passes the clock, the headers, the raw body and the secret; it never sees a
body larger than receive_webhook's limit (``MAX_BODY_BYTES``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from enum import StrEnum

# Looked up in this order, case-insensitively (HTTP API v2 lower-cases header names).
SIGNATURE_HEADERS = ("sync-signature", "x-signature-primary")

DEFAULT_TOLERANCE_SECONDS = 300

# receive_webhook answers 413 above this, before reading anything: a batch webhook is ~1 KB.
MAX_BODY_BYTES = 64 * 1024
# Re-serialising JSON costs ~30x the body in memory and CPU: only bodies this small get the
# compact-JSON second try (a batch webhook is ~1 KB; Sync signs the bytes it sends anyway).
COMPACT_FALLBACK_MAX_BYTES = 16 * 1024

# A unix timestamp in seconds; 12 digits reach the year 33658 and keep the arithmetic in range.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_HEX = re.compile(r"[0-9a-fA-F]+")
# Another scheme's entry (``v0=``, ``v2=``, ``scheme=``) is skipped: a scheme Sync adds later
# must not refuse every webhook.
_OTHER_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")


class SignatureVerdict(StrEnum):
    """What :func:`verify_sync_signature` found. Only ``VALID`` means the body may be trusted."""

    VALID = "valid"
    NO_SECRET = "no_secret"  # noqa: S105 - no webhook secret configured: refuse everything  # nosec B105
    MISSING = "missing"  # no signature header at all
    MALFORMED = "malformed"  # not exactly one ``t=<digits>`` and one or more ``v1=<hex>``
    STALE = "stale"  # the timestamp is outside the tolerance window (a replay, or a bad clock)
    MISMATCH = "mismatch"  # well formed and fresh, but signed with another secret or body


def verify_sync_signature(
    headers: Mapping[str, str],
    raw_body: bytes,
    secret: str | None,
    *,
    now: float,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> SignatureVerdict:
    """Check a webhook's signature header against its raw body. Never raises on bad input.

    Several ``v1=`` entries are accepted (any may match, as during a secret rotation); entries
    of other schemes (``v0=``, ``v2=``, ...) are ignored. The raw body is checked first; if it
    does not match, is at most ``COMPACT_FALLBACK_MAX_BYTES`` and is JSON, its compact
    re-serialisation (what ``JSON.stringify`` would produce) is tried too, since Sync's
    examples hash that. The verdict never carries the signature, the secret or the body.
    """
    if tolerance_seconds < 0:
        raise ValueError("tolerance_seconds must not be negative")
    if not secret or not secret.strip():
        return SignatureVerdict.NO_SECRET
    header = _signature_header(headers)
    if header is None:
        return SignatureVerdict.MISSING
    parsed = _parse(header)
    if parsed is None:
        return SignatureVerdict.MALFORMED
    timestamp, candidates = parsed
    # Written as "not within" so that a NaN clock fails closed.
    if not abs(now - timestamp) <= tolerance_seconds:
        return SignatureVerdict.STALE
    key = secret.encode()
    prefix = f"{timestamp}.".encode()
    if _matches(key, prefix + raw_body, candidates):
        return SignatureVerdict.VALID
    compact = _compact_json(raw_body) if len(raw_body) <= COMPACT_FALLBACK_MAX_BYTES else None
    if compact is not None and compact != raw_body and _matches(key, prefix + compact, candidates):
        return SignatureVerdict.VALID
    return SignatureVerdict.MISMATCH


def _signature_header(headers: Mapping[str, str]) -> str | None:
    found: dict[str, object] = {}
    for name, value in headers.items():
        if isinstance(name, str):
            found.setdefault(name.lower(), value)
    for name in SIGNATURE_HEADERS:
        if name in found:
            header = found[name]
            return header if isinstance(header, str) else ""
    return None


def _parse(header: str) -> tuple[int, list[str]] | None:
    """``(t, [v1, ...])`` from ``t=<digits>,v1=<hex>,...``; ``None`` for anything else.

    Exactly one ``t`` and at least one ``v1`` are required; a ``v1`` that is not hex refuses
    the header; other well-named keys are skipped.
    """
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        name, value = name.strip(), value.strip()
        if not sep:
            return None
        if name == "t" and timestamp is None and _TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == "v1" and _HEX.fullmatch(value):
            candidates.append(value.lower())
        elif name in ("t", "v1") or not _OTHER_KEY.fullmatch(name):
            return None
    if timestamp is None or not candidates:
        return None
    return timestamp, candidates


def _matches(key: bytes, message: bytes, candidates: list[str]) -> bool:
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    # Compare against every candidate, so the time taken does not depend on which one matched.
    results = [hmac.compare_digest(expected, candidate) for candidate in candidates]
    return any(results)


def _compact_json(raw_body: bytes) -> bytes | None:
    """The body as ``JSON.stringify`` would write it, or ``None`` if it is not JSON."""
    try:
        parsed = json.loads(raw_body)
        return json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # not JSON, not UTF-8, lone surrogates, too deep
        return None
