"""The demo's summary.json: rows by status from the results CSV when the job wrote one (or its
results rows otherwise), and Sync's requests as the emulator counted them."""

from __future__ import annotations

import io
from typing import Any

from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop.keys import row_key
from syncdrop.report.result_lines import RowStatus
from syncdrop.report.results_csv import ReportRow, write_results_csv
from syncdrop_local.demo import run_summary
from syncdrop_local.runtime.stack import LocalStack

JOB = "job-0123456789abcdef01234567"
SNAP = {
    "job_id": JOB,
    "status": "COMPLETED",
    "route": "batch",
    "route_note": "5 valid rows: one batch",
    "rows": 5,
}


class Emulator:
    """What run_summary reads of the Sync emulator."""

    max_concurrent_open = 1

    def request_summary(self) -> dict[str, int]:
        return {
            "POST /v2/batch": 1,
            "GET /v2/batch/{id}": 3,
            "distinct_idempotency_keys": 0,
            "OPTIONS /v2/batch": 2,  # not a request syncdrop makes: left out
        }

    def max_generations_open(self) -> int:
        return 0


class NoStack:
    """A stack that must not be read: the CSV has every row."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the stack was read ({name})")


class Runtime:
    def __init__(self, stack: Any) -> None:
        self.stack = stack

    def collect_emails(self) -> list[object]:
        return [object()]


def results_csv() -> bytes:
    """A results CSV as the report writes it, with the person's own "status" column beside ours
    and an error message that spans lines."""
    theirs = {"status": "FAILED"}
    rows = [
        ReportRow(2, "r1", RowStatus.COMPLETED, output_url="s3://b/r1.mp4", columns=theirs),
        ReportRow(3, "r2", RowStatus.COMPLETED, output_url="s3://b/r2.mp4", columns=theirs),
        ReportRow(4, "r3", RowStatus.FAILED, error_message="No face,\nat 0s", columns=theirs),
        ReportRow(5, "r4", RowStatus.REJECTED, error_message="video_url is empty", columns=theirs),
        ReportRow(6, "r5", RowStatus.TIMED_OUT, columns=theirs),
    ]
    out = io.BytesIO()
    write_results_csv(rows, ["request_id", "status"], out)
    return out.getvalue()


def test_the_summary_counts_rows_from_the_results_csv_without_reading_the_stack() -> None:
    data = results_csv()
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs, not part of the header

    summary = run_summary(Runtime(NoStack()), Emulator(), SNAP, results_csv=data)  # type: ignore[arg-type]

    assert summary == {
        "job_id": JOB,
        "status": "COMPLETED",
        "path": "batch",
        "path_reason": "5 valid rows: one batch",
        "rows": {"total": 5, "COMPLETED": 2, "FAILED": 1, "REJECTED": 1, "TIMED_OUT": 1},
        "emails": 1,
        "sync_requests": {"GET /v2/batch/{id}": 3, "POST /v2/batch": 1},
        "distinct_idempotency_keys": 0,
        "most_batches_open_at_sync": 1,
        "most_generations_open_at_sync": 0,
    }


def test_without_a_results_csv_the_jobs_own_rows_are_counted(moto_stack: LocalStack) -> None:
    results = DynamoResultStore(moto_stack.client("dynamodb"), moto_stack.ref("ResultsTable"))
    statuses = ["COMPLETED", "FAILED", "FAILED", "REJECTED"]
    results.put_rows(
        JOB, [{"row_key": row_key(n), "status": s} for n, s in enumerate(statuses, start=2)]
    )
    results.put_rows("job-other", [{"row_key": row_key(2), "status": "COMPLETED"}])
    snap = {**SNAP, "status": "FAILED", "rows": 4}

    summary = run_summary(Runtime(moto_stack), Emulator(), snap)  # type: ignore[arg-type]

    assert summary["rows"] == {"total": 4, "COMPLETED": 1, "FAILED": 2, "REJECTED": 1}
