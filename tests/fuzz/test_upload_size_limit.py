"""accept_upload refuses an upload bigger than MaxUploadMegabytes from its size, reading nothing."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import BinaryIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop.domain.intake import IntakeLimits, accept_upload
from syncdrop.domain.services import Services
from syncdrop.intake import IntakeRules
from syncdrop.jobs import JobStatus, UploadRef
from tests.fakes.stores import FakeJobStore, FakeObjectStore, FakeResultStore, FakeSync

T0 = datetime(2026, 11, 29, tzinfo=UTC)


class UnreadableUpload(io.RawIOBase):
    """An upload stream that fails the test if a single byte is asked of it."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        pytest.fail("the oversized upload was read")


@dataclass
class ObjectsThatMustNotBeRead(FakeObjectStore):
    """Knows the size of every upload (as S3's HeadObject would) but hands out no content."""

    sizes: dict[tuple[str, str], int] = field(default_factory=dict)
    opened: list[UnreadableUpload] = field(default_factory=list)
    forbid_opening: bool = False

    def upload_size(self, upload: UploadRef) -> int:
        return self.sizes[(upload.bucket, upload.key)]

    def open_upload(self, upload: UploadRef) -> BinaryIO:
        if self.forbid_opening:
            pytest.fail("the oversized upload was opened (an S3 GetObject)")
        stream = UnreadableUpload()
        self.opened.append(stream)
        return stream  # type: ignore[return-value]


def refuse(
    megabytes: int, size: int, *, size_in_event: bool, forbid_opening: bool = False
) -> tuple[Services, ObjectsThatMustNotBeRead, UploadRef]:
    objects = ObjectsThatMustNotBeRead(forbid_opening=forbid_opening)
    objects.sizes[("bkt", "incoming/huge.csv")] = size
    services = Services(
        jobs=FakeJobStore(),
        results=FakeResultStore(),
        objects=objects,
        sync=FakeSync(),
        clock=lambda: T0,
    )
    upload = UploadRef("bkt", "incoming/huge.csv", "v1", size=size if size_in_event else None)
    # As template.yaml sets it: MAX_UPLOAD_BYTES is MaxUploadMegabytes followed by 000000.
    limits = IntakeLimits(
        rules=IntakeRules(),
        max_upload_bytes=megabytes * 1_000_000,
        min_lines=20,
        max_lines=500,
        max_bytes=5 << 20,
    )
    outcome = accept_upload(services, upload, limits)
    assert outcome.fresh
    assert outcome.chunks == []
    return services, objects, upload


oversized = st.integers(1, 2_000).flatmap(
    lambda mb: st.tuples(st.just(mb), st.integers(mb * 1_000_000 + 1, 5 * 10**12))
)


@settings(max_examples=60, deadline=None)
@given(limit_and_size=oversized, size_in_event=st.booleans())
def test_an_oversized_upload_fails_its_job_without_a_byte_read(
    limit_and_size: tuple[int, int], size_in_event: bool
) -> None:
    megabytes, size = limit_and_size

    services, objects, upload = refuse(megabytes, size, size_in_event=size_in_event)

    job = services.jobs.get_job(upload.job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
    assert f"({megabytes} MB). Split it into smaller files." in job.message
    assert (job.rows, job.valid, job.chunk_count) == (0, 0, 0)
    results = services.results
    assert isinstance(results, FakeResultStore)
    assert results.items == {}
    assert all(stream.closed for stream in objects.opened)


def test_a_redelivered_event_for_an_oversized_upload_finds_the_failed_job() -> None:
    services, _, upload = refuse(1, 10**9, size_in_event=True)

    again = accept_upload(
        services,
        upload,
        IntakeLimits(
            IntakeRules(), max_upload_bytes=10**6, min_lines=20, max_lines=500, max_bytes=1
        ),
    )

    assert not again.fresh
    assert again.job.status is JobStatus.FAILED


@pytest.mark.parametrize("size_in_event", [True, False])
def test_an_oversized_upload_is_not_even_opened(size_in_event: bool) -> None:
    services, _, upload = refuse(200, 10**12, size_in_event=size_in_event, forbid_opening=True)

    job = services.jobs.get_job(upload.job_id)
    assert job is not None
    assert job.status is JobStatus.FAILED
