"""The adapters behind the liveness guarantee: leases, budgets and the deadline index on moto,
the copy ledger's row writes, slices and range count, and video downloads that never leak
httpx."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from syncdrop.adapters.dynamo_copies import DynamoCopyLedger
from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.dynamo_results import DynamoResultStore, row_key
from syncdrop.adapters.result_download import ResultDownloader, ResultDownloadError
from syncdrop.errors import TransientError
from syncdrop.jobs import ChunkStatus, JobStatus
from syncdrop.keys import chunk_key
from syncdrop.ports import CopyRecord, SliceProgress
from tests.integration.test_dynamo_job_store import T0, chunk, job
from tests.integration.test_result_download import FAST, OUTPUT_URL, SYNC_BASE, FakeResultHost

VIDEO_HOST = "videos.example"


def video_downloader(host: FakeResultHost) -> ResultDownloader:
    return ResultDownloader(
        api_base_url=SYNC_BASE,
        allowed_redirect_hosts=(VIDEO_HOST,),
        policy=FAST,
        transport=httpx.MockTransport(host),
    )


@pytest.fixture
def store(moto_stack) -> DynamoJobStore:
    return DynamoJobStore(moto_stack.client("dynamodb"), moto_stack.ref("JobTable"))


@pytest.fixture
def results(moto_stack) -> DynamoResultStore:
    return DynamoResultStore(moto_stack.client("dynamodb"), moto_stack.ref("ResultsTable"))


@pytest.fixture
def ledger(moto_stack) -> DynamoCopyLedger:
    return DynamoCopyLedger(
        moto_stack.client("dynamodb"),
        job_table=moto_stack.ref("JobTable"),
        results_table=moto_stack.ref("ResultsTable"),
    )


def submitted(store: DynamoJobStore, job_id: str = "job-1", n: int = 1):
    store.create_job(job(job_id))  # closing a chunk counts it on its job
    store.put_chunk(chunk(job_id, n))
    c = store.get_chunk(job_id, n)
    assert c is not None
    store.claim_for_submission(c, limit=5, now=T0)
    store.mark_submitted(c, f"batch_{n}", now=T0)
    return store.get_chunk(job_id, n)


# --- the fan-out lease and budget ----------------------------------------------------------------
def test_one_fan_out_lease_at_a_time_until_it_goes_stale(store):
    c = submitted(store)
    assert store.claim_fan_out(c, "a", now=T0, stale_before=T0 - timedelta(minutes=6)) == 1
    later = T0 + timedelta(minutes=1)
    assert store.claim_fan_out(c, "b", now=later, stale_before=later - timedelta(minutes=6)) == 0
    stale = T0 + timedelta(minutes=7)
    assert store.claim_fan_out(c, "b", now=stale, stale_before=stale - timedelta(minutes=6)) == 2
    assert not store.release_fan_out(c, "a")  # a's lease is gone
    assert store.release_fan_out(c, "b")
    assert store.claim_fan_out(c, "c", now=stale, stale_before=stale - timedelta(minutes=6)) == 3


def test_only_the_lease_holder_closes_and_a_closed_chunk_cannot_be_claimed(store):
    c = submitted(store)
    store.claim_fan_out(c, "holder", now=T0, stale_before=T0)
    keys = (row_key(2), row_key(21))
    closing = {"completed": 20, "failed": 0, "now": T0, "copies": 20, "row_keys": keys}
    assert not store.close_chunk(c, ChunkStatus.COMPLETED, token="other", **closing)
    assert store.close_chunk(c, ChunkStatus.COMPLETED, token="holder", **closing)
    closed = store.get_chunk("job-1", 1)
    assert closed is not None
    assert (closed.results_written, closed.copies_done, closed.copies_enqueued) == (
        True,
        False,
        False,
    )
    assert (closed.first_row_key, closed.last_row_key) == keys
    assert store.open_batch_holders() == set()
    later = T0 + timedelta(hours=1)
    assert not store.claim_fan_out(c, "late", now=later, stale_before=later)


def chunk_item(moto_stack, job_id: str, n: int) -> dict[str, Any]:
    """The chunk item as stored (empty: none), with attributes the domain's Chunk lacks."""
    found = moto_stack.client("dynamodb").get_item(
        TableName=moto_stack.ref("JobTable"), Key=chunk_key(job_id, n), ConsistentRead=True
    )
    return found.get("Item", {})


def test_close_chunk_writes_the_copies_it_queued_once(store, moto_stack):
    copying, nothing = submitted(store, n=1), submitted(store, n=2)
    assert store.close_chunk(
        copying, ChunkStatus.COMPLETED, completed=19, failed=1, now=T0, copies=19
    )
    assert store.close_chunk(nothing, ChunkStatus.FAILED, completed=0, failed=20, now=T0)
    # A second close (a redelivered fan-out) changes nothing, whatever it would count.
    assert not store.close_chunk(
        copying, ChunkStatus.COMPLETED, completed=20, failed=0, now=T0, copies=20
    )
    one, two = chunk_item(moto_stack, "job-1", 1), chunk_item(moto_stack, "job-1", 2)
    assert one["copies_to_make"] == {"N": "19"}
    assert two["copies_to_make"] == {"N": "0"}
    assert "copies_over" not in one  # added by the slices as they close


def test_the_fan_out_budget_is_counted_with_each_claim_and_keeps_the_last_error(store):
    c = submitted(store)
    for token in ("a", "b", "c"):
        store.claim_fan_out(c, token, now=T0, stale_before=T0)
        store.release_fan_out(c, token)
    store.record_fan_out_error(c, "api.sync.so answered 503")
    stored = store.get_chunk("job-1", 1)
    assert stored is not None
    assert (stored.fan_out_attempts, stored.fan_out_error) == (3, "api.sync.so answered 503")


def test_a_queued_chunk_fails_only_while_queued(store):
    store.put_chunk(chunk("job-1", 1))
    store.put_chunk(chunk("job-1", 2))
    one, two = store.job_chunks("job-1")
    store.claim_for_submission(two, limit=5, now=T0)
    assert store.fail_queued_chunk(one, "never sent", now=T0)
    assert not store.fail_queued_chunk(two, "never sent", now=T0)  # a POST may be in flight
    assert store.open_chunks(ChunkStatus.QUEUED) == []
    assert [c.status for c in store.job_chunks("job-1")] == [
        ChunkStatus.FAILED,
        ChunkStatus.SUBMITTING,
    ]


# --- the deadline index --------------------------------------------------------------------------
def test_jobs_past_their_deadline_come_from_one_query_until_reported(store):
    for name, hours in (("job-early", 1), ("job-late", 48)):
        j = job(name)
        j.deadline = T0 + timedelta(hours=hours)
        store.create_job(j)
    store.create_job(job("job-without"))  # created before deadlines existed
    assert store.jobs_past_deadline(now=T0) == []
    assert store.jobs_past_deadline(now=T0 + timedelta(hours=2)) == ["job-early"]
    stored = store.get_job("job-early")
    assert stored is not None
    assert stored.deadline == T0 + timedelta(hours=1)
    now = T0 + timedelta(hours=49)
    assert store.jobs_past_deadline(now=now) == ["job-early", "job-late"]
    assert store.claim_report("job-early", "t", now=now, stale_before=now - timedelta(hours=1))
    assert store.jobs_past_deadline(now=now) == ["job-late"]  # being reported
    assert store.finish_report("job-early", "t", JobStatus.COMPLETED, now=now)
    assert store.jobs_past_deadline(now=now) == ["job-late"]
    done = store.get_job("job-early")
    assert done is not None
    assert done.finished_at_deadline


def test_one_rewrite_of_an_emailed_job_at_a_time(store):
    store.create_job(job())
    assert not store.claim_rewrite("job-1", "a", now=T0, stale_before=T0)  # not emailed yet
    store.claim_report("job-1", "r", now=T0, stale_before=T0)
    store.finish_report("job-1", "r", JobStatus.COMPLETED, now=T0)
    assert store.claim_rewrite("job-1", "a", now=T0, stale_before=T0 - timedelta(minutes=16))
    assert not store.claim_rewrite("job-1", "b", now=T0, stale_before=T0 - timedelta(minutes=16))
    assert store.finish_rewrite("job-1", "a")
    assert store.claim_rewrite("job-1", "b", now=T0, stale_before=T0 - timedelta(minutes=16))


# --- the copy ledger -----------------------------------------------------------------------------
def test_a_copy_is_one_conditional_row_write_and_the_chunk_range_is_counted(
    store, results, ledger, moto_stack
):
    store.put_chunk(chunk("job-1", 1))
    rows = [
        {"row_key": row_key(n), "row_number": n, "status": "COMPLETED", "copy_status": "PENDING"}
        for n in range(2, 152)
    ]
    rows.append({"row_key": row_key(152), "row_number": 152, "status": "FAILED"})
    rows.append(
        {
            "row_key": row_key(500),
            "row_number": 500,
            "status": "COMPLETED",
            "copy_status": "PENDING",
        }
    )  # another chunk
    results.put_rows("job-1", rows)
    first, last = row_key(2), row_key(152)
    assert ledger.copies_pending("job-1", first, last) > 0
    for n in range(2, 151):
        assert ledger.record_copy("job-1", 1, row_key(n), s3_uri=f"s3://b/{n}.mp4", error=None)
    assert ledger.copies_pending("job-1", first, last) == 1  # the first page from the end
    assert ledger.record_copy("job-1", 1, row_key(151), s3_uri=None, error="link refused")
    assert not ledger.record_copy("job-1", 1, row_key(151), s3_uri="s3://b/x.mp4", error=None)
    assert ledger.copies_pending("job-1", first, last) == 0  # past several pages, none left
    row = results.get_row("job-1", row_key(151))
    assert row is not None
    assert (row["copy_status"], row["copy_error"]) == (
        "COPY_FAILED",
        "link refused",
    )
    before = moto_stack.client("dynamodb").get_item(
        TableName=moto_stack.ref("JobTable"),
        Key={"pk": {"S": "JOB#job-1"}, "sk": {"S": "CHUNK#00001"}},
    )["Item"]
    assert "copies_pending" not in before  # the chunk item is not written per copy
    ledger.mark_copies_done("job-1", 1)
    ledger.mark_copies_done("job-1", 1)
    ledger.mark_copies_done("job-1", 9)  # no such chunk: nothing happens
    stored = store.get_chunk("job-1", 1)
    assert stored is not None
    assert stored.copies_done


def test_a_slice_is_read_in_one_request_recorded_once_and_closed_on_its_chunk(
    store, results, ledger
):
    store.put_chunk(chunk("job-1", 1))
    rows = [
        {"row_key": row_key(n), "row_number": n, "status": "COMPLETED", "copy_status": "PENDING"}
        for n in range(2, 62)
    ]
    rows.append({"row_key": row_key(62), "row_number": 62, "status": "FAILED"})
    results.put_rows("job-1", rows)
    keys = [row_key(n) for n in range(2, 64)]  # row 63 does not exist
    found = ledger.rows("job-1", keys)
    assert sorted(found) == keys[:-1]
    assert found[row_key(2)]["copy_status"] == "PENDING"
    assert "copy_status" not in found[row_key(62)]
    # A row recorded before (by an earlier delivery) is left as it was; the others are recorded.
    assert ledger.record_copy("job-1", 1, row_key(5), s3_uri=None, error="link refused")
    copies = [
        CopyRecord(row_key(n), f"s3://b/{n}.mp4" if n != 7 else None, None if n != 7 else "gone")
        for n in range(2, 62)
    ]
    assert ledger.record_copies("job-1", copies) == {row_key(n) for n in range(2, 62)} - {
        row_key(5)
    }
    assert ledger.record_copies("job-1", copies) == set()  # a redelivery records nothing
    after = ledger.rows("job-1", keys)
    assert after[row_key(5)]["copy_status"] == "COPY_FAILED"
    assert after[row_key(7)]["copy_status"] == "COPY_FAILED"
    assert {after[row_key(n)]["copy_status"] for n in (2, 6, 61)} == {"COPIED"}
    row = results.get_row("job-1", row_key(2))
    assert row is not None
    assert row["s3_uri"] == "s3://b/2.mp4"
    # Slices close into a set on the chunk: a slice closed twice counts once.
    assert ledger.close_slice("job-1", 1, 0) == SliceProgress(slices_done=1, copies_done=False)
    assert ledger.close_slice("job-1", 1, 0) == SliceProgress(slices_done=1, copies_done=False)
    assert ledger.close_slice("job-1", 1, 2) == SliceProgress(slices_done=2, copies_done=False)
    ledger.mark_copies_done("job-1", 1)
    assert ledger.close_slice("job-1", 1, 1) == SliceProgress(slices_done=3, copies_done=True)
    assert ledger.close_slice("job-1", 9, 0) == SliceProgress(slices_done=0, copies_done=True)
    assert store.get_chunk("job-1", 9) is None  # a stray task creates no chunk


def test_a_slice_adds_its_videos_to_the_chunk_once_however_often_it_is_closed(
    store, ledger, moto_stack
):
    store.put_chunk(chunk("job-1", 1))

    def counts() -> tuple[int, int, set[str]]:
        item = chunk_item(moto_stack, "job-1", 1)
        return (
            int(item["copies_over"]["N"]),
            int(item["copies_failed"]["N"]),
            set(item["copy_slices_done"]["NS"]),
        )

    first = ledger.close_slice("job-1", 1, 0, videos=50, failed=2)
    assert first == SliceProgress(slices_done=1, copies_done=False)
    assert counts() == (50, 2, {"0"})
    # A redelivered slice: the chunk as it was, counts not added again.
    again = ledger.close_slice("job-1", 1, 0, videos=50, failed=2)
    assert again == SliceProgress(slices_done=1, copies_done=False)
    assert counts() == (50, 2, {"0"})
    second = ledger.close_slice("job-1", 1, 1, videos=13, failed=0)
    assert second == SliceProgress(slices_done=2, copies_done=False)
    assert counts() == (63, 2, {"0", "1"})
    ledger.mark_copies_done("job-1", 1)
    late = ledger.close_slice("job-1", 1, 1, videos=13, failed=0)
    assert late == SliceProgress(slices_done=2, copies_done=True)
    assert counts() == (63, 2, {"0", "1"})


def test_closing_a_slice_of_a_chunk_that_does_not_exist_creates_nothing(ledger, moto_stack):
    for _ in range(2):
        stray = ledger.close_slice("job-1", 9, 0, videos=5, failed=1)
        assert stray == SliceProgress(slices_done=0, copies_done=True)
    assert chunk_item(moto_stack, "job-1", 9) == {}


# --- video downloads -----------------------------------------------------------------------------
def test_a_video_download_refused_until_the_retries_run_out_is_a_transient_syncdrop_error():
    host = FakeResultHost([b"video"], refuse_first=10, location=f"https://{VIDEO_HOST}/v.mp4?sig=1")
    downloader = video_downloader(host)
    with (
        pytest.raises(ResultDownloadError, match="timed out") as err,
        downloader.file_chunks(OUTPUT_URL) as chunks,
    ):
        list(chunks)
    assert isinstance(err.value, TransientError)
    assert isinstance(err.value.__cause__, httpx.TransportError)
    assert "sig=" not in str(err.value)


def test_a_video_download_reset_mid_stream_is_a_transient_syncdrop_error():
    host = FakeResultHost(
        [b"a", b"b", b"c"], broken_bodies=1, cut_after=1, location=f"https://{VIDEO_HOST}/v.mp4"
    )
    downloader = video_downloader(host)
    with (
        pytest.raises(ResultDownloadError, match="mid-file"),
        downloader.file_chunks(OUTPUT_URL) as chunks,
    ):
        list(chunks)
