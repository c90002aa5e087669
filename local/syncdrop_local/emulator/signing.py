"""HMAC signing used by the Sync emulator: webhook ``Sync-Signature`` headers and result URLs."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time

_SIGNATURE_HEADER = re.compile(r"t=(\d+),v1=([0-9a-fA-F]+)")


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}." + body`` keyed with the secret used verbatim.

    The ``whsec_`` prefix is part of the key, as in Sync's own verification snippets.
    """
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header_value(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Sync-Signature`` header value: ``t=<unix>,v1=<hex>``."""
    return f"t={timestamp},v1={webhook_signature(secret, timestamp, body)}"


def verify_signature_header(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    tolerance_seconds: float | None = 300,
    now: float | None = None,
) -> bool:
    """Check a ``t=…,v1=…`` header against the raw body (and the timestamp's freshness)."""
    match = _SIGNATURE_HEADER.fullmatch((header or "").strip())
    if match is None:
        return False
    timestamp = int(match.group(1))
    if tolerance_seconds is not None:
        current = time.time() if now is None else now
        if abs(current - timestamp) > tolerance_seconds:
            return False
    expected = webhook_signature(secret, timestamp, body)
    return hmac.compare_digest(expected, match.group(2).lower())


class UrlSigner:
    """Signs and checks ``(batch id, expiry)`` pairs for the emulator's result download URLs."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)

    def sign(self, resource: str, expires: int) -> str:
        message = f"{resource}\n{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def verify(self, resource: str, expires: int, signature: str) -> bool:
        return hmac.compare_digest(self.sign(resource, expires), signature.lower())
