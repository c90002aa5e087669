"""A job's progress read from its tables on moto: chunks by Query, their copies from the counts
on each chunk item (a chunk written by an earlier version, without them, counted on its rows at
most once a second), a job of single generations by its rows."""

from __future__ import annotations

from typing import Any

import pytest

from syncdrop import keys
from syncdrop.adapters.dynamo_copies import DynamoCopyLedger
from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop.jobs import ChunkStatus
from syncdrop_local.job_progress import CopyCount, ProgressReader
from syncdrop_local.runtime.stack import LocalStack
from tests.integration.test_dynamo_job_store import T0, chunk

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
        if isinstance(value, bool):
            item[name] = {"BOOL": value}
        elif isinstance(value, int):
            item[name] = {"N": str(value)}
        else:
            item[name] = {"S": str(value)}
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


def reader(stack: LocalStack, clock: Clock, client: Any = None) -> ProgressReader:
    return ProgressReader(
        client or stack.client("dynamodb"),
        stack.ref("JobTable"),
        stack.ref("ResultsTable"),
        clock=clock,
    )


class RecordingClient:
    """A DynamoDB client that notes each request's operation and table, then makes it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        request = getattr(self._client, operation)

        def call(**kwargs: Any) -> Any:
            self.calls.append((operation, kwargs))
            return request(**kwargs)

        return call

    def queries_of(self, table: str) -> list[dict[str, Any]]:
        return [k for op, k in self.calls if op == "query" and k["TableName"] == table]


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


def test_copies_are_the_counts_closed_slices_add_to_the_chunk_not_its_rows(
    moto_stack: LocalStack,
) -> None:
    db = moto_stack.client("dynamodb")
    put_job(moto_stack)
    jobs = DynamoJobStore(db, moto_stack.ref("JobTable"))
    jobs.put_chunk(chunk(JOB, 1))
    queued = jobs.get_chunk(JOB, 1)
    assert queued is not None
    jobs.claim_for_submission(queued, limit=5, now=T0)
    jobs.mark_submitted(queued, "batch_1", now=T0)
    submitted = jobs.get_chunk(JOB, 1)
    assert submitted is not None
    row_range = (keys.row_key(1), keys.row_key(20))
    assert jobs.close_chunk(
        submitted,
        ChunkStatus.COMPLETED,
        completed=20,
        failed=0,
        now=T0,
        copies=20,
        row_keys=row_range,
    )
    # Every row still PENDING: counted on the rows, no copy would be over.
    put_rows(moto_stack, 1, ["COMPLETED"] * 20)
    ledger = DynamoCopyLedger(
        db, job_table=moto_stack.ref("JobTable"), results_table=moto_stack.ref("ResultsTable")
    )
    client = RecordingClient(db)
    progress_reader = reader(moto_stack, Clock(), client)

    def copies() -> CopyCount:
        progress = progress_reader.read(JOB)
        assert progress is not None
        return progress.chunks[0].copies

    assert copies() == CopyCount(to_copy=20, over=0, failed=0)
    ledger.close_slice(JOB, 1, 0, videos=12, failed=1)
    assert copies() == CopyCount(to_copy=20, over=12, failed=1)
    ledger.close_slice(JOB, 1, 0, videos=12, failed=1)  # a redelivered slice
    assert copies() == CopyCount(to_copy=20, over=12, failed=1)
    ledger.close_slice(JOB, 1, 1, videos=8, failed=0)
    ledger.mark_copies_done(JOB, 1)
    assert copies() == CopyCount(to_copy=20, over=20, failed=1)
    assert client.queries_of(moto_stack.ref("ResultsTable")) == []
    assert len(client.queries_of(moto_stack.ref("JobTable"))) == 4  # the client saw every read


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({"copies_done": False}, CopyCount(to_copy=20, over=0, failed=0)),
        ({"copies_done": False, "copies_over": 25}, CopyCount(to_copy=20, over=20, failed=0)),
        (
            {"copies_done": True, "copies_over": 15, "copies_failed": 3},
            CopyCount(to_copy=20, over=20, failed=3),
        ),
    ],
    ids=["none-closed", "never-above-to-copy", "over-once-done"],
)
def test_a_chunks_copies_are_never_more_than_it_has_and_all_over_once_done(
    moto_stack: LocalStack, counts: dict[str, Any], expected: CopyCount
) -> None:
    put_job(moto_stack)
    put_chunk(
        moto_stack,
        1,
        "COMPLETED",
        results_written=True,
        rows_completed=20,
        rows_failed=0,
        copies_to_make=20,
        **counts,
    )

    progress = reader(moto_stack, Clock()).read(JOB)

    assert progress is not None
    assert progress.chunks[0].copies == expected


def test_only_a_chunk_without_counts_has_its_rows_read(moto_stack: LocalStack) -> None:
    put_job(moto_stack)
    put_chunk(
        moto_stack,
        1,
        "COMPLETED",
        results_written=True,
        copies_done=False,
        rows_completed=20,
        rows_failed=0,
        copies_to_make=20,
        copies_over=5,
        first_row_key=keys.row_key(1),
        last_row_key=keys.row_key(20),
    )
    put_chunk(  # written by an earlier version
        moto_stack,
        2,
        "COMPLETED",
        results_written=True,
        copies_done=False,
        rows_completed=20,
        rows_failed=0,
        first_row_key=keys.row_key(21),
        last_row_key=keys.row_key(40),
    )
    put_rows(moto_stack, 1, ["COMPLETED"] * 40)
    client = RecordingClient(moto_stack.client("dynamodb"))

    progress = reader(moto_stack, Clock(), client).read(JOB)

    assert progress is not None
    assert [c.copies for c in progress.chunks] == [
        CopyCount(to_copy=20, over=5, failed=0),
        CopyCount(to_copy=20, over=0, failed=0),
    ]
    (query,) = client.queries_of(moto_stack.ref("ResultsTable"))
    values = query["ExpressionAttributeValues"]
    assert (values[":first"], values[":last"]) == (
        {"S": keys.row_key(21)},
        {"S": keys.row_key(40)},
    )


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
