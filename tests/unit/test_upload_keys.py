"""Keys intake refuses, uploads S3 will not hand over, and keys shown to a person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncdrop.domain.intake import REFUSED_UPLOAD, IntakeLimits, accept_upload
from syncdrop.domain.services import Services
from syncdrop.intake import IntakeRules
from syncdrop.jobs import JobStatus, UploadRef
from syncdrop.s3_events import KEY_SHOWN_CHARS, hidden_characters, printable_key
from tests.fakes.stores import FakeJobStore, FakeObjectStore, FakeResultStore, FakeSync
from tests.support.csv_files import campaign_rows, to_csv

LIMITS = IntakeLimits(
    rules=IntakeRules(), max_upload_bytes=1_000_000, min_lines=20, max_lines=500, max_bytes=5 << 20
)


def services_with(key: str, *, refused: bool = False) -> tuple[Services, UploadRef]:
    body = to_csv(campaign_rows(25))
    objects = FakeObjectStore(uploads={("bkt", key): body})
    if refused:
        objects.refused.add(("bkt", key))
    services = Services(
        jobs=FakeJobStore(),
        results=FakeResultStore(),
        objects=objects,
        sync=FakeSync(),
        clock=lambda: datetime(2026, 11, 29, tzinfo=UTC),
    )
    return services, UploadRef("bkt", key, "v1", size=None)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("incoming/pay\nBcc: x@evil.example.csv", "\\n"),
        ("incoming/inv\u202eoice.csv", "\\u202e"),
        ("incoming/a\u200bb.csv", "\\u200b"),
        ("incoming/a\u2029b.csv", "\\u2029"),
        ("incoming/a\x00b.csv", "\\x00"),
    ],
)
def test_a_key_with_control_or_format_characters_is_refused_before_it_is_read(key, shown):
    services, upload = services_with(key)
    outcome = accept_upload(services, upload, LIMITS)
    assert outcome.job.status is JobStatus.FAILED
    assert outcome.chunks == []
    assert f"({shown})" in outcome.job.message
    assert "Rename the file" in outcome.job.message
    assert "\n" not in outcome.job.message
    assert "\u202e" not in outcome.job.message
    assert isinstance(services.objects, FakeObjectStore)
    assert services.objects.objects == {}  # no chunk file written


@pytest.mark.parametrize(
    "key", ["incoming/été 2026 (final).csv", "incoming/日本語/キャンペーン.csv"]
)
def test_visible_unicode_and_spaces_are_fine(key):
    services, upload = services_with(key)
    assert accept_upload(services, upload, LIMITS).job.status is JobStatus.RUNNING


def test_a_tab_is_a_control_character_too():
    services, upload = services_with("incoming/a\tb.csv")
    assert "(\\t)" in accept_upload(services, upload, LIMITS).job.message


def test_an_upload_s3_refuses_to_hand_over_ends_the_job_with_a_reason_to_act_on():
    services, upload = services_with("incoming/a.csv", refused=True)
    outcome = accept_upload(services, upload, LIMITS)
    assert outcome.job.status is JobStatus.FAILED
    assert outcome.job.message == REFUSED_UPLOAD
    assert "AccessDenied" in REFUSED_UPLOAD
    assert "Upload it again" in REFUSED_UPLOAD


def test_a_retried_delivery_of_a_refused_upload_does_not_read_it_again():
    services, upload = services_with("incoming/a.csv", refused=True)
    accept_upload(services, upload, LIMITS)
    again = accept_upload(services, upload, LIMITS)
    assert again.fresh is False
    assert again.job.status is JobStatus.FAILED


@given(st.text(max_size=2000))
def test_a_printable_key_is_one_bounded_line_without_hidden_characters(key):
    shown = printable_key(key)
    assert len(shown) <= KEY_SHOWN_CHARS
    assert hidden_characters(shown) == []
    if not hidden_characters(key) and len(key) <= KEY_SHOWN_CHARS:
        assert shown == key
