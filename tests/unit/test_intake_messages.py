"""The job's one-line message (shown by `syncdrop status`) counts in the singular when it is one."""

from __future__ import annotations

from datetime import UTC, datetime

from syncdrop.domain.intake import IntakeLimits, accept_upload
from syncdrop.domain.services import Services
from syncdrop.intake import IntakeRules
from syncdrop.jobs import JobStatus, UploadRef
from tests.fakes.stores import FakeJobStore, FakeObjectStore, FakeResultStore, FakeSync
from tests.support.csv_files import campaign_rows, to_csv

LIMITS = IntakeLimits(
    rules=IntakeRules(), max_upload_bytes=1_000_000, min_lines=20, max_lines=500, max_bytes=5 << 20
)


def planned_message(rows: list[list[str]]) -> str:
    body = to_csv(rows)
    services = Services(
        jobs=FakeJobStore(),
        results=FakeResultStore(),
        objects=FakeObjectStore(uploads={("bkt", "incoming/a.csv"): body}),
        sync=FakeSync(),
        clock=lambda: datetime(2026, 11, 29, tzinfo=UTC),
    )
    outcome = accept_upload(services, UploadRef("bkt", "incoming/a.csv", "v1", len(body)), LIMITS)
    assert outcome.job.status is JobStatus.RUNNING
    return outcome.job.message


def test_one_batch_and_one_rejected_row_read_in_the_singular() -> None:
    rows = campaign_rows(21)
    rows[0][1] = "not a link"
    assert planned_message(rows) == "20 rows in 1 batch; 1 row rejected"


def test_many_batches_and_rows_read_in_the_plural() -> None:
    rows = campaign_rows(503)
    rows[0][1] = rows[1][1] = "not a link"
    assert planned_message(rows) == "501 rows in 2 batches; 2 rows rejected"


def test_one_single_generation_reads_in_the_singular() -> None:
    message = planned_message(campaign_rows(1))
    assert message.startswith("1 row as single generations; 0 rows rejected. ")
