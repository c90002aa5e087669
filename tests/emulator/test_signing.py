"""Webhook signature and result-URL signing."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop_local.emulator import (
    signature_header_value,
    verify_signature_header,
    webhook_signature,
)
from syncdrop_local.emulator.signing import UrlSigner

VECTOR_BODY = b'{"id":"batch_abc123","status":"COMPLETED"}'
VECTOR_V1 = "5a801d07f1dc2b1a85312f62617dfdc87ac317723f474f936814114c1137f4fb"


def test_signature_matches_the_published_test_vector() -> None:
    assert webhook_signature("whsec_test_secret", 1700000000, VECTOR_BODY) == VECTOR_V1
    assert (
        signature_header_value("whsec_test_secret", 1700000000, VECTOR_BODY)
        == f"t=1700000000,v1={VECTOR_V1}"
    )


def test_verify_accepts_vector_and_rejects_tampering_and_staleness() -> None:
    header = f"t=1700000000,v1={VECTOR_V1}"
    assert verify_signature_header(header, VECTOR_BODY, "whsec_test_secret", now=1700000100)
    assert not verify_signature_header(
        header, VECTOR_BODY.replace(b"COMPLETED", b"FAILED"), "whsec_test_secret", now=1700000100
    )
    assert not verify_signature_header(header, VECTOR_BODY, "whsec_test_secret", now=1700001000)
    assert not verify_signature_header(header, VECTOR_BODY, "test_secret", now=1700000100)
    assert not verify_signature_header(None, VECTOR_BODY, "whsec_test_secret")
    assert not verify_signature_header("v1=abc", VECTOR_BODY, "whsec_test_secret")


@settings(max_examples=50, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), body=st.binary(max_size=300))
def test_sign_then_verify_round_trips(secret: str, body: bytes) -> None:
    now = int(time.time())
    header = signature_header_value(secret, now, body)
    assert verify_signature_header(header, body, secret)
    assert not verify_signature_header(header, body + b"x", secret)


def test_url_signer_binds_resource_and_expiry() -> None:
    signer = UrlSigner(b"k" * 32)
    signature = signer.sign("batch_1", 100)
    assert signer.verify("batch_1", 100, signature)
    assert not signer.verify("batch_1", 101, signature)
    assert not signer.verify("batch_2", 100, signature)
    assert not UrlSigner(b"j" * 32).verify("batch_1", 100, signature)
