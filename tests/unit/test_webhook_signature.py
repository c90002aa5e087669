"""Sync webhook signature verification: the published vector, every verdict, and properties."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import syncdrop.webhook_signature as verifier
from syncdrop.webhook_signature import (
    COMPACT_FALLBACK_MAX_BYTES,
    SignatureVerdict,
    verify_sync_signature,
)
from syncdrop_local.emulator import (
    signature_header_value,
    verify_signature_header,
    webhook_signature,
)

SECRET = "whsec_test_secret"
T = 1700000000
BODY = b'{"id":"batch_abc123","status":"COMPLETED"}'
V1 = "5a801d07f1dc2b1a85312f62617dfdc87ac317723f474f936814114c1137f4fb"
HEADER = f"t={T},v1={V1}"
ARABIC_INDIC_T = "\u0661\u0667" + "\u0660" * 8  # 1700000000 in non-ASCII digits


def sign(body: bytes, *, t: int = T, secret: str = SECRET) -> str:
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(
    headers: dict[str, str],
    body: bytes = BODY,
    secret: str | None = SECRET,
    *,
    now: float = T,
) -> SignatureVerdict:
    return verify_sync_signature(headers, body, secret, now=now)


# -- the published test vector -----------------------------------------------------------------


def test_published_vector_is_valid() -> None:
    assert sign(BODY) == HEADER
    assert verify({"Sync-Signature": HEADER}) is SignatureVerdict.VALID


def test_pretty_printed_body_is_valid_through_the_compact_fallback() -> None:
    pretty = json.dumps(json.loads(BODY), indent=2).encode()
    assert pretty != BODY
    assert verify({"Sync-Signature": HEADER}, pretty) is SignatureVerdict.VALID


def test_tampered_body_is_a_mismatch() -> None:
    tampered = BODY.replace(b"COMPLETED", b"FAILED")
    assert verify({"Sync-Signature": HEADER}, tampered) is SignatureVerdict.MISMATCH


def test_wrong_secret_is_a_mismatch() -> None:
    assert verify({"Sync-Signature": HEADER}, secret="whsec_other") is SignatureVerdict.MISMATCH
    # The prefix is part of the key: the bare secret does not verify.
    assert verify({"Sync-Signature": HEADER}, secret="test_secret") is SignatureVerdict.MISMATCH


@pytest.mark.parametrize("offset", [301, -301, 10_000])
def test_timestamp_outside_the_window_is_stale(offset: int) -> None:
    assert verify({"Sync-Signature": HEADER}, now=T + offset) is SignatureVerdict.STALE


@pytest.mark.parametrize("offset", [300, -300, 0])
def test_timestamp_at_the_edge_of_the_window_is_accepted(offset: int) -> None:
    assert verify({"Sync-Signature": HEADER}, now=T + offset) is SignatureVerdict.VALID


def test_a_nan_clock_fails_closed() -> None:
    assert verify({"Sync-Signature": HEADER}, now=float("nan")) is SignatureVerdict.STALE


def test_stale_is_reported_even_for_a_wrong_signature() -> None:
    headers = {"Sync-Signature": f"t={T},v1={'0' * 64}"}
    assert verify(headers, now=T + 301) is SignatureVerdict.STALE


def test_custom_tolerance() -> None:
    verdict = verify_sync_signature(
        {"Sync-Signature": HEADER}, BODY, SECRET, now=T + 30, tolerance_seconds=10
    )
    assert verdict is SignatureVerdict.STALE


def test_negative_tolerance_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="tolerance"):
        verify_sync_signature({}, BODY, SECRET, now=T, tolerance_seconds=-1)


# -- headers ---------------------------------------------------------------------------------


def test_missing_header() -> None:
    assert verify({}) is SignatureVerdict.MISSING
    assert verify({"Content-Type": "application/json"}) is SignatureVerdict.MISSING


@pytest.mark.parametrize(
    "name", ["Sync-Signature", "sync-signature", "SYNC-SIGNATURE", "X-Signature-Primary",
             "x-signature-primary"]
)  # fmt: skip
def test_both_documented_header_names_in_any_case(name: str) -> None:
    assert verify({name: HEADER}) is SignatureVerdict.VALID


def test_sync_signature_wins_over_x_signature_primary() -> None:
    headers = {"x-signature-primary": "garbage", "sync-signature": HEADER}
    assert verify(headers) is SignatureVerdict.VALID
    headers = {"x-signature-primary": HEADER, "sync-signature": f"t={T},v1={'0' * 64}"}
    assert verify(headers) is SignatureVerdict.MISMATCH


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        f"v1={V1}",
        f"t=abc,v1={V1}",
        f"t={T}",
        f"t={T},v1=",
        f"t={T},v1=not-hex",
        f"t={T},t={T},v1={V1}",
        f"t={T},t={T + 1},v1={V1}",
        f"t={T},v0={V1}",
        f"v0=abc,v1={V1}",
        f"t={T},V1={V1}",
        f"t={T},v1={V1},v1=not-hex",
        f"t={T},v1={V1},=abc",
        f"t={T},v1={V1},v 0=abc",
        f"t={T},v1={V1},0v=abc",
        f"t={T},v1={V1},{'k' * 33}=abc",
        f"t={T},v1={V1},scheme",
        f"t={T};v1={V1}",
        f"t={T},,v1={V1}",
        f"t=-{T},v1={V1}",
        f"t={T}.5,v1={V1}",
        f"t=1{'0' * 40},v1={V1}",
        "garbage",
        "Bearer abc.def",
        f"t={ARABIC_INDIC_T},v1={V1}",
    ],
)
def test_malformed_headers(value: str) -> None:
    assert verify({"Sync-Signature": value}) is SignatureVerdict.MALFORMED


def test_spaces_around_parts_are_tolerated() -> None:
    headers = {"Sync-Signature": f"  t = {T} ,  v1={V1}  "}
    assert verify(headers) is SignatureVerdict.VALID


def test_upper_case_hex_is_accepted() -> None:
    assert verify({"Sync-Signature": f"t={T},v1={V1.upper()}"}) is SignatureVerdict.VALID


@pytest.mark.parametrize(
    "value",
    [
        f"t={T},v1={V1},v0=abc",
        f"v0=abc,t={T},v1={V1}",
        f"t={T},v2={'f' * 64},v1={V1}",
        f"scheme=hmac-sha256,t={T},v1={V1}",
        f"t={T},v1={V1},v2=,kid=key_2024-01",
        f"t={T},v1={V1},v0=not hex at all; really",
    ],
)
def test_other_schemes_entries_are_ignored_and_a_valid_v1_passes(value: str) -> None:
    assert verify({"Sync-Signature": value}) is SignatureVerdict.VALID


def test_other_schemes_entries_never_stand_in_for_v1() -> None:
    # A matching digest under another scheme's name is not a v1 signature.
    assert verify({"Sync-Signature": f"t={T},v2={V1}"}) is SignatureVerdict.MALFORMED
    wrong = f"t={T},v1={'0' * 64},v0={V1}"
    assert verify({"Sync-Signature": wrong}) is SignatureVerdict.MISMATCH


def test_any_of_several_v1_entries_may_match() -> None:
    rotated = f"t={T},v1={'a' * 64},v1={V1}"
    assert verify({"Sync-Signature": rotated}) is SignatureVerdict.VALID
    old_first = f"t={T},v1={V1},v1={'b' * 64}"
    assert verify({"Sync-Signature": old_first}) is SignatureVerdict.VALID


# -- the secret ------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [None, "", "   "])
def test_no_secret_never_validates(secret: str | None) -> None:
    assert verify({"Sync-Signature": HEADER}, secret=secret) is SignatureVerdict.NO_SECRET
    assert verify({}, secret=secret) is SignatureVerdict.NO_SECRET


def test_a_header_signed_with_an_empty_key_does_not_pass_without_a_secret() -> None:
    assert verify({"Sync-Signature": sign(BODY, secret="")}, secret="") is (
        SignatureVerdict.NO_SECRET
    )


# -- bodies ----------------------------------------------------------------------------------


def test_non_ascii_body_signed_raw() -> None:
    body = '{"id":"batch_1","error":"café ☕ 失败"}'.encode()
    assert verify({"Sync-Signature": sign(body)}, body) is SignatureVerdict.VALID


def test_non_ascii_body_pretty_printed_matches_a_json_stringify_signature() -> None:
    compact = '{"id":"batch_1","message":"café"}'.encode()
    pretty = json.dumps(json.loads(compact), indent=2, ensure_ascii=True).encode()
    assert b"caf\\u00e9" in pretty
    assert verify({"Sync-Signature": sign(compact)}, pretty) is SignatureVerdict.VALID


def test_non_json_body_that_does_not_match_is_a_mismatch() -> None:
    body = b"\xff\xfe not json"
    assert verify({"Sync-Signature": HEADER}, body) is SignatureVerdict.MISMATCH
    assert verify({"Sync-Signature": sign(body)}, body) is SignatureVerdict.VALID


def pretty_body_of(size: int) -> tuple[bytes, bytes]:
    """A compact JSON body of about ``size`` bytes and its pretty-printed form."""
    compact = json.dumps(
        {"id": "batch_1", "status": "COMPLETED", "note": "n" * size}, separators=(",", ":")
    ).encode()
    return compact, json.dumps(json.loads(compact), indent=2).encode()


def test_a_small_pretty_body_still_gets_the_compact_fallback() -> None:
    compact, pretty = pretty_body_of(COMPACT_FALLBACK_MAX_BYTES - 200)
    assert len(pretty) <= COMPACT_FALLBACK_MAX_BYTES
    assert verify({"Sync-Signature": sign(compact)}, pretty) is SignatureVerdict.VALID


def test_a_large_body_is_never_parsed_for_the_compact_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compact, pretty = pretty_body_of(COMPACT_FALLBACK_MAX_BYTES)
    assert len(pretty) > COMPACT_FALLBACK_MAX_BYTES

    def no_parsing(*args: object, **kwargs: object) -> object:
        raise AssertionError("a large webhook body was parsed")

    monkeypatch.setattr(verifier.json, "loads", no_parsing)
    assert verify({"Sync-Signature": sign(compact)}, pretty) is SignatureVerdict.MISMATCH
    # Its own bytes, signed, still verify: the bound only limits the second try.
    assert verify({"Sync-Signature": sign(pretty)}, pretty) is SignatureVerdict.VALID


def test_deeply_nested_json_does_not_raise() -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    assert verify({"Sync-Signature": HEADER}, body) is SignatureVerdict.MISMATCH


def test_verdict_carries_nothing_secret() -> None:
    verdict = verify({"Sync-Signature": HEADER}, secret="whsec_other")
    assert str(verdict) == "mismatch"
    assert SECRET not in repr(verdict)
    assert V1 not in repr(verdict)


# -- agreement with the emulator's signer ------------------------------------------------------


def test_emulator_signer_matches_the_vector() -> None:
    assert webhook_signature(SECRET, T, BODY) == V1
    assert signature_header_value(SECRET, T, BODY) == HEADER


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=512),
    t=st.integers(min_value=0, max_value=4_000_000_000),
    secret=st.text(min_size=1, max_size=40).filter(str.strip),
    header_name=st.sampled_from(["Sync-Signature", "X-Signature-Primary", "sync-signature"]),
    skew=st.integers(min_value=-300, max_value=300),
)
def test_whatever_the_emulator_signs_verifies(
    body: bytes, t: int, secret: str, header_name: str, skew: int
) -> None:
    header = signature_header_value(secret, t, body)
    assert verify_signature_header(header, body, secret, now=t + skew)
    verdict = verify_sync_signature({header_name: header}, body, secret, now=t + skew)
    assert verdict is SignatureVerdict.VALID


@settings(max_examples=100, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=5))
def test_emulator_webhook_bodies_verify(payload: dict[str, str]) -> None:
    # The emulator sends compact UTF-8 JSON and signs exactly those bytes.
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    header = signature_header_value("whsec_local", T, body)
    verdict = verify_sync_signature({"Sync-Signature": header}, body, "whsec_local", now=T)
    assert verdict is SignatureVerdict.VALID


# -- properties ------------------------------------------------------------------------------

_hex = st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=70)
_plausible_values = st.one_of(
    st.text(max_size=120),
    st.builds(lambda t, v: f"t={t},v1={v}", st.integers(T - 400, T + 400), _hex),
    st.builds(lambda v: f"t={T},v1={v}", _hex),
    st.builds(lambda v: f"t={T},v1={v},v1={v[::-1]}", _hex),
)
_header_names = st.one_of(
    st.sampled_from(["Sync-Signature", "sync-signature", "X-Signature-Primary", "Content-Type"]),
    st.text(max_size=20),
)


@settings(max_examples=400, deadline=None)
@given(
    headers=st.dictionaries(_header_names, _plausible_values, max_size=4),
    body=st.one_of(st.binary(max_size=256), st.just(BODY)),
    secret=st.one_of(st.none(), st.text(max_size=30)),
    now=st.one_of(st.floats(allow_nan=True), st.just(float(T))),
)
def test_random_input_never_raises_and_never_validates_unsigned(
    headers: dict[str, str], body: bytes, secret: str | None, now: float
) -> None:
    verdict = verify_sync_signature(headers, body, secret, now=now)
    assert isinstance(verdict, SignatureVerdict)
    assert verdict is not SignatureVerdict.VALID


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=256),
    secret=st.text(min_size=1, max_size=30).filter(str.strip),
    other=st.text(min_size=1, max_size=30),
)
def test_only_the_right_secret_validates(body: bytes, secret: str, other: str) -> None:
    headers = {"Sync-Signature": sign(body, secret=secret)}
    assert verify(headers, body, secret) is SignatureVerdict.VALID
    # HMAC pads short keys with zero bytes, so "k" and "k\x00" are the same key.
    if other.rstrip("\x00") != secret.rstrip("\x00"):
        assert verify(headers, body, other) is not SignatureVerdict.VALID
