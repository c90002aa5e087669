"""The webhook URL: built for a chunk, and read back only when it is this deployment's own."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop.webhook_url import chunk_named_by, owner_of, webhook_url_for

BASE = "https://abc.execute-api.us-east-1.amazonaws.com/sync/webhook"
JOB = "job-0123456789abcdef01234567"


def test_the_url_carries_job_and_chunk_in_its_query():
    url = webhook_url_for(BASE, JOB, 7)
    assert url is not None
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == BASE
    assert parse_qs(parts.query) == {"job": [JOB], "chunk": ["7"]}
    assert webhook_url_for("", JOB, 7) is None


def test_a_base_with_its_own_query_keeps_it():
    url = webhook_url_for(f"{BASE}?stage=prod", JOB, 2)
    assert url == f"{BASE}?stage=prod&job={JOB}&chunk=2"
    assert owner_of(url, f"{BASE}?stage=prod") == (JOB, 2)
    assert owner_of(url, BASE) is None  # the base's own query is part of the base


@settings(max_examples=200, deadline=None)
@given(
    job=st.from_regex(r"[A-Za-z0-9._-]{1,128}", fullmatch=True),
    chunk=st.integers(1, 999_999),
    base=st.sampled_from([BASE, "http://127.0.0.1:8080/sync/webhook", f"{BASE}?a=1&b="]),
)
def test_what_is_built_reads_back(job: str, chunk: int, base: str):
    assert owner_of(webhook_url_for(base, job, chunk), base) == (job, chunk)


def test_scheme_and_host_are_compared_without_case():
    shouted = f"HTTPS://ABC.execute-api.us-east-1.amazonaws.com/sync/webhook?job={JOB}&chunk=1"
    assert owner_of(shouted, BASE) == (JOB, 1)


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        f"https://other.execute-api.us-east-1.amazonaws.com/sync/webhook?job={JOB}&chunk=1",
        f"http://abc.execute-api.us-east-1.amazonaws.com/sync/webhook?job={JOB}&chunk=1",
        f"https://abc.execute-api.us-east-1.amazonaws.com/sync/webhook/?job={JOB}&chunk=1",
        f"https://abc.execute-api.us-east-1.amazonaws.com/other/webhook?job={JOB}&chunk=1",
        f"https://abc.execute-api.us-east-1.amazonaws.com:444/sync/webhook?job={JOB}&chunk=1",
        f"https://u@abc.execute-api.us-east-1.amazonaws.com/sync/webhook?job={JOB}&chunk=1",
        f"{BASE}?job={JOB}",
        f"{BASE}?chunk=1",
        f"{BASE}?job={JOB}&chunk=1&chunk=2",
        f"{BASE}?job={JOB}&job=job-x&chunk=1",
        f"{BASE}?job={JOB}&chunk=1&extra=1",
        f"{BASE}?job={JOB}&chunk=01",
        f"{BASE}?job={JOB}&chunk=0",
        f"{BASE}?job={JOB}&chunk=-1",
        f"{BASE}?job={JOB}&chunk=1.0",
        f"{BASE}?job={JOB}&chunk=%C2%B2",  # superscript two: str.isdigit() says yes
        f"{BASE}?job={JOB}&chunk=1234567",
        f"{BASE}?job=&chunk=1",
        f"{BASE}?job=job%20x&chunk=1",
        f"{BASE}?job={'j' * 129}&chunk=1",
        f"{BASE}?job={JOB}&chunk=1&",
        f"{BASE}?job={JOB}&chunk",
        f"https://[::1/sync/webhook?job={JOB}&chunk=1",
    ],
)
def test_anything_syncdrop_did_not_write_for_this_base_has_no_owner(url: str | None):
    assert owner_of(url, BASE) is None


def test_no_base_means_no_owner():
    assert owner_of(webhook_url_for(BASE, JOB, 1), "") is None


@pytest.mark.parametrize(
    ("job", "chunk", "named"),
    [
        (JOB, "1", (JOB, 1)),
        (JOB, "999999", (JOB, 999_999)),
        (None, "1", None),
        (JOB, None, None),
        ("", "1", None),
        (JOB, "01", None),
        (JOB, " 1", None),
        (JOB, "1" * 4301, None),
        ("job/../x", "1", None),
    ],
)
def test_a_query_names_a_chunk_only_as_syncdrop_writes_it(job, chunk, named):
    assert chunk_named_by(job, chunk) == named
