"""A job's progress read from its tables on moto: chunks by Query, copies counted on the rows of
the chunks still copying (at most once a second), a job of single generations by its rows."""

from __future__ import annotations

from typing import Any

from syncdrop import keys
from syncdrop.adapters.dynamo_copies import DynamoCopyLedger
from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop_local.job_progress import CopyCount, ProgressReader
from syncdrop_local.runtime.stack import LocalStack

JOB = "job-0123456789abcdef01234567"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def put_job(stack: LocalStack, route: str = "batch", job: str = JOB, **fields: Any) -> None:
    item = {
        **keys.job_key(job),
        "job_id": {"S": job},
        "status": {"S": fields.get("status", "RUNNING")},
        "message": {"S": "40 rows in 2 batches;\n2 rows rejected"},
        "rows": {"N": "42"},
        "valid": {"N": "40"},
        "rejected": {"N": "2"},
        "route": {"S": route},
    }
    stack.client("dynamodb").put_item(TableName=stack.ref("JobTable"), Item=item)


def put_chunk(stack: LocalStack, number: int, status: str, job: str = JOB, **fields: Any) -> None:
    item: dict[str, Any] = {
        **keys.chunk_key(job, number),
        "job_id": {"S": job},
        "number": {"N": str(number)},
        "rows": {"N": "20"},
        "status": {"S": status},
        "kind": {"S": fields.pop("kind", "BATCH")},
        "line": {"S": "x" * 1000},  # a single generation's Sync line: never read here
    }
    for name, value in fields.items():
        item[name] = {"BOOL": value} if isinstance(value, bool) else {"S": str(value)}
        if name.startswith("rows_"):
            item[name] = {"N": str(value)}
    stack.client("dynamodb").put_item(TableName=stack.ref("JobTable"), Item=item)


def put_rows(
    stack: LocalStack, first: int, statuses: list[str], copying: bool = True, job: str = JOB
) -> None:
    rows = []
    for n, status in enumerate(statuses, start=first):
        row: dict[str, object] = {"row_key": keys.row_key(n), "status": status}
        if copying and status == "COMPLETED":
            row["copy_status"] = "PENDING"
        rows.append(row)
    DynamoResultStore(stack.client("dynamodb"), stack.ref("ResultsTable")).put_rows(job, rows)


def reader(stack: LocalStack, clock: Clock) -> ProgressReader:
    return ProgressReader(
        stack.client("dynamodb"), stack.ref("JobTable"), stack.ref("ResultsTable"), clock=clock
    )


def test_chunks_rows_and_copies_as_the_stack_recorded_them(moto_stack: LocalStack) -> None:
    put_job(moto_stack)
    put_chunk(moto_stack, 2, "SUBMITTED", last_sync_status="PROCESSING")
    put_chunk(
        moto_stack,
        1,
        "COMPLETED",
        results_written=True,
        copies_done=False,
        rows_completed=19,
        rows_failed=1,
        first_row_key=keys.row_key(1),
        last_row_key=keys.row_key(20),
    )
    put_rows(moto_stack, 1, ["COMPLETED"] * 19 + ["FAILED"])
    put_rows(moto_stack, 21, ["REJECTED"] * 2)  # rejected rows sit beside them
    ledger = DynamoCopyLedger(
        moto_stack.client("dynamodb"),
        job_table=moto_stack.ref("JobTable"),
        results_table=moto_stack.ref("ResultsTable"),
    )
    for n in range(1, 6):
        ledger.record_copy(JOB, 1, keys.row_key(n), s3_uri=f"s3://b/{n}.mp4", error=None)
    ledger.record_copy(JOB, 1, keys.row_key(6), s3_uri=None, error="HTTP 403")
    clock = Clock()
    progress_reader = reader(moto_stack, clock)

    progress = progress_reader.read(JOB)

    assert progress is not None
    assert (progress.status, progress.message) == (
        "RUNNING",
        "40 rows in 2 batches; 2 rows rejected",
    )
    one, two = progress.chunks
    assert (one.number, one.status, one.done, one.failed, one.at_sync) == (
        1,
        "COMPLETED",
        19,
        1,
        20,
    )
    assert one.copies == CopyCount(to_copy=19, over=6, failed=1)
    assert (two.number, two.status, two.sync_status, two.done, two.copies.to_copy) == (
        2,
        "SUBMITTED",
        "PROCESSING",
        0,
        0,
    )
    assert progress.totals.at_sync == 40

    # Copies go on; they are counted again only once a second has passed.
    ledger.record_copy(JOB, 1, keys.row_key(7), s3_uri="s3://b/7.mp4", error=None)
    clock.now += 0.5
    assert progress_reader.read(JOB).chunks[0].copies.over == 6  # type: ignore[union-attr]
    clock.now += 0.6
    assert progress_reader.read(JOB).chunks[0].copies.over == 7  # type: ignore[union-attr]

    assert progress_reader.rows_not_done(JOB) == 3  # one failed, two rejected


def test_a_chunk_whose_copies_are_over_is_counted_once(moto_stack: LocalStack) -> None:
    put_job(moto_stack)
    put_chunk(
        moto_stack,
        1,
        "COMPLETED",
        results_written=True,
        copies_done=True,
        rows_completed=2,
        rows_failed=0,
        first_row_key=keys.row_key(1),
        last_row_key=keys.row_key(2),
    )
    put_rows(moto_stack, 1, ["COMPLETED", "COMPLETED"], copying=False)  # CopyOutputs off
    clock = Clock()
    progress_reader = reader(moto_stack, clock)
    first = progress_reader.read(JOB)
    put_rows(moto_stack, 1, ["COMPLETED", "COMPLETED"])  # would count as pending copies now
    clock.now += 60

    assert first is not None
    assert first.chunks[0].copies == CopyCount()
    again = progress_reader.read(JOB)
    assert again is not None
    assert again.chunks[0].copies == CopyCount()  # not read again


def test_one_reader_keeps_each_jobs_counts_apart(moto_stack: LocalStack) -> None:
    other = "job-76543210fedcba9876543210"
    for job, copying in ((JOB, False), (other, True)):
        put_job(moto_stack, job=job)
        put_chunk(
            moto_stack,
            1,
            "COMPLETED",
            job=job,
            results_written=True,
            copies_done=True,
            rows_completed=2,
            rows_failed=0,
            first_row_key=keys.row_key(1),
            last_row_key=keys.row_key(2),
        )
        put_rows(moto_stack, 1, ["COMPLETED", "COMPLETED"], copying=copying, job=job)
    progress_reader = reader(moto_stack, Clock())

    first, second = progress_reader.read(JOB), progress_reader.read(other)

    assert first is not None
    assert first.chunks[0].copies == CopyCount()
    assert second is not None
    assert second.chunks[0].copies == CopyCount(to_copy=2, over=0, failed=0)


def test_single_generations_are_one_line_counted_on_the_jobs_rows(moto_stack: LocalStack) -> None:
    put_job(moto_stack, route="generate")
    for n in range(1, 41):
        put_chunk(moto_stack, n, "SUBMITTED", kind="GENERATION")
    put_rows(moto_stack, 1, ["COMPLETED"] * 30 + ["FAILED", "TIMED_OUT"])
    put_rows(moto_stack, 41, ["REJECTED"] * 2)

    progress = reader(moto_stack, Clock()).read(JOB)

    assert progress is not None
    (line,) = progress.chunks
    assert (line.label, line.rows, line.done, line.failed) == ("single generations", 40, 30, 2)
    assert line.copies == CopyCount(to_copy=30, over=0, failed=0)


def test_an_unknown_job_reads_as_none(moto_stack: LocalStack) -> None:
    assert reader(moto_stack, Clock()).read(JOB) is None
