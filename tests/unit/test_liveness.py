"""Every way a job can stall ends in a final outcome with a reason, and in its one email.

Attempt budgets (a chunk's fan-out, the intake of a file), the fan-out lease, and the job
deadline after which the reconciler finishes a job with what is known; on in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta

import pytest

from syncdrop.adapters.result_download import ResultDownloadError, ResultUrlRefused
from syncdrop.crash_points import SimulatedCrash
from syncdrop.domain.completion import ReportInProgress, handle_results_message
from syncdrop.domain.copy_outputs import copy_slice
from syncdrop.domain.fan_out import (
    FAN_OUT_ATTEMPTS,
    FanOutBusy,
    FanOutOutcome,
    FanOutPolicy,
    fan_out_chunk,
)
from syncdrop.domain.intake import IntakeLimits, accept_upload
from syncdrop.domain.reconcile import ReconcilePolicy, reconcile
from syncdrop.domain.reporting import FinishOutcome, finish_job
from syncdrop.domain.services import Services
from syncdrop.errors import StorageError, SyncUnavailable
from syncdrop.intake import IntakeRules
from syncdrop.jobs import ChunkStatus, JobStatus, UploadRef
from syncdrop.messages import ResultsMessage
from syncdrop.report import JobReport, ResultCounts, completed_email
from syncdrop.sync_models import Batch, BatchStatus
from tests.fakes.stores import (
    FakeJobStore,
    FakeObjectStore,
    FakeResultStore,
    FakeSync,
)
from tests.support.csv_files import campaign_rows, to_csv
from tests.unit.test_completion import JOB, T0, World, broken, done
from tests.unit.test_copy_outputs import MP4, copying_world

DEADLINE = timedelta(hours=48)
POLICY = ReconcilePolicy(
    batch_concurrency=3,
    webhook_base="https://h/sync/webhook",
    submitting_grace=timedelta(0),
    poll_after=timedelta(0),
)


@dataclass
class Failing:
    """A result file whose every read fails with ``error`` (a refused or broken link)."""

    error: Exception

    def __iter__(self) -> Iterator[bytes]:
        raise self.error


def handle(world: World, message: ResultsMessage) -> FanOutOutcome | FinishOutcome:
    return handle_results_message(world.services, message, batch_concurrency=3, webhook_base="")


def chunk_message(n: int = 1) -> ResultsMessage:
    return ResultsMessage.for_chunk(JOB, n, f"batch_{n}")


def rows_of(world: World) -> dict[str, dict[str, object]]:
    return {key: item for (job, key), item in world.results.items.items() if job == JOB}


# --- fan-out: permanent errors end the chunk at once ------------------------------------------
def test_a_refused_result_url_fails_the_chunk_at_once_and_frees_its_slot():
    world = World()
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [])
    refused = ResultUrlRefused("The batch's outputUrl points at evil.example; it is not fetched.")
    world.lines.files["https://api.sync.so/v2/batches/batch_1/result"] = Failing(refused)  # type: ignore[assignment]
    assert handle(world, chunk_message()) is FanOutOutcome.WRITTEN
    chunk = world.jobs.chunks[(JOB, 1)]
    assert (chunk.status, chunk.results_written) == (ChunkStatus.FAILED, True)
    assert world.jobs.open_batch_holders() == set()
    assert {r["status"] for r in rows_of(world).values()} == {"FAILED"}
    assert all("evil.example" in str(r["error_message"]) for r in rows_of(world).values())
    (email,) = world.notifier.published
    assert "3 failed" in email.subject


def test_a_batch_sync_describes_in_a_form_syncdrop_cannot_read_fails_the_chunk():
    class GarbledSync(FakeSync):
        def get_batch(self, batch_id: str) -> Batch:
            return Batch.model_validate({"id": batch_id, "status": 42})

    world = World()
    world.submit(1, "batch_1")
    world.services = Services(**{**_fields(world.services), "sync": GarbledSync()})
    assert handle(world, chunk_message()) is FanOutOutcome.WRITTEN
    assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.FAILED
    assert all(
        "not one syncdrop can read" in str(r["error_message"]) for r in rows_of(world).values()
    )
    assert len(world.notifier.published) == 1


def test_a_damaged_manifest_fails_the_chunk_at_once():
    world = World()
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [done("c1r1")])
    world.objects.objects[world.jobs.chunks[(JOB, 1)].manifest_key] = b"{not json"
    assert handle(world, chunk_message()) is FanOutOutcome.WRITTEN
    chunk = world.jobs.chunks[(JOB, 1)]
    assert (chunk.status, chunk.results_written) == (ChunkStatus.FAILED, True)
    assert world.jobs.open_batch_holders() == set()
    assert len(world.notifier.published) == 1


# --- fan-out: transient errors spend a budget ---------------------------------------------------
def test_a_result_file_that_keeps_failing_spends_the_budget_then_fails_its_rows():
    world = World()
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [])
    broken_link = ResultDownloadError("api.sync.so answered 503 to the result download", status=503)
    world.lines.files["https://api.sync.so/v2/batches/batch_1/result"] = Failing(broken_link)  # type: ignore[assignment]
    for _ in range(FAN_OUT_ATTEMPTS - 1):  # SQS redeliveries and reconciler re-enqueues alike
        with pytest.raises(ResultDownloadError):
            handle(world, chunk_message())
        assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.SUBMITTED
    assert handle(world, chunk_message()) is FanOutOutcome.WRITTEN
    assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.FAILED
    assert world.jobs.open_batch_holders() == set()
    reasons = {str(r["error_message"]) for r in rows_of(world).values()}
    (reason,) = reasons
    assert "batch_1" in reason
    assert "answered 503" in reason
    assert f"{FAN_OUT_ATTEMPTS} attempts" in reason
    assert len(world.notifier.published) == 1


def test_attempts_that_died_without_a_word_count_too():
    world = World()
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [done("c1r1")])
    policy = FanOutPolicy(lease=timedelta(minutes=6), attempts=2)
    real = world.results.put_rows

    def killed(job_id: str, items: object) -> int:
        raise SimulatedCrash("fan-out killed by its timeout")

    world.results.put_rows = killed  # type: ignore[method-assign, assignment]
    for _ in range(2):
        with pytest.raises(SimulatedCrash):
            fan_out_chunk(world.services, JOB, 1, policy)
        with pytest.raises(FanOutBusy):  # the dead worker's lease still holds
            fan_out_chunk(world.services, JOB, 1, policy)
        world.now += timedelta(minutes=7)
    world.results.put_rows = real  # type: ignore[method-assign]
    assert fan_out_chunk(world.services, JOB, 1, policy) is FanOutOutcome.WRITTEN
    assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.FAILED
    assert "after 2 attempts" in str(rows_of(world)["0000000002"]["error_message"])


def test_sync_being_down_spends_no_attempt():
    class DownSync(FakeSync):
        def get_batch(self, batch_id: str) -> Batch:
            raise SyncUnavailable("Sync answered 503", status=503)

    world = World()
    world.submit(1, "batch_1")
    world.services = Services(**{**_fields(world.services), "sync": DownSync()})
    for _ in range(FAN_OUT_ATTEMPTS * 2):
        with pytest.raises(SyncUnavailable):
            handle(world, chunk_message())
    chunk = world.jobs.chunks[(JOB, 1)]
    assert (chunk.status, chunk.fan_out_attempts) == (ChunkStatus.SUBMITTED, 0)


# --- fan-out: the lease --------------------------------------------------------------------------
def test_a_late_duplicate_fan_out_never_overwrites_a_copied_video():
    """The duplicate reads the chunk open, pauses; the first fans out and the copies land."""
    world = copying_world()
    first = world.services

    class PausingSync(FakeSync):
        def get_batch(self, batch_id: str) -> Batch:
            # The duplicate has read the chunk as open; meanwhile the other worker finishes.
            assert fan_out_chunk(first, JOB, 1) is FanOutOutcome.WRITTEN
            for task in world.outputs.tasks:  # type: ignore[attr-defined]
                copy_slice(first, task, last_attempt=False)
            resumed.append(len(writes))
            return world.sync.get_batch(batch_id)

    writes: list[object] = []
    resumed: list[int] = []
    late = Services(**{**_fields(first), "sync": PausingSync()})
    real = world.results.put_rows
    world.results.put_rows = lambda job_id, items: writes.append(items) or real(job_id, items)  # type: ignore[method-assign, assignment, func-returns-value]
    with pytest.raises(FanOutBusy):
        fan_out_chunk(late, JOB, 1)
    assert len(writes) == resumed[0] > 0  # the duplicate wrote nothing after it resumed
    row = rows_of(world)["0000000002"]
    assert (row["copy_status"], row["s3_uri"]) == ("COPIED", "s3://bkt/outputs/c/c1r1.mp4")
    assert fan_out_chunk(late, JOB, 1) is FanOutOutcome.ALREADY_DONE  # its retry


def test_only_the_lease_holder_closes_the_chunk():
    world = World()
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [done("c1r1")])
    chunk = world.jobs.chunks[(JOB, 1)]
    assert world.jobs.claim_fan_out(chunk, "holder", now=T0, stale_before=T0 - timedelta(1))
    assert not world.jobs.close_chunk(
        chunk, ChunkStatus.COMPLETED, completed=1, failed=2, now=T0, token="someone-else"
    )
    with pytest.raises(FanOutBusy):
        fan_out_chunk(world.services, JOB, 1)
    assert rows_of(world) == {}


# --- the job deadline ----------------------------------------------------------------------------
def deadline_world() -> World:
    """Three chunks: one finished, one Sync never finishes, one still waiting for a slot."""
    world = World(chunks=3)
    world.jobs.jobs[JOB].deadline = T0 + DEADLINE
    world.submit(1, "batch_1")
    world.finish_at_sync(
        "batch_1", BatchStatus.COMPLETED, [done("c1r1"), done("c1r2"), broken("c1r3")]
    )
    world.submit(2, "batch_2")
    assert fan_out_chunk(world.services, JOB, 1) is FanOutOutcome.WRITTEN
    return world


def test_a_batch_sync_never_finishes_is_reported_timed_out_at_the_deadline():
    world = deadline_world()
    world.now = T0 + DEADLINE - timedelta(minutes=1)
    full = ReconcilePolicy(batch_concurrency=1, webhook_base="", poll_after=timedelta(days=9))
    assert reconcile(world.services, full).past_deadline == 0
    world.now = T0 + DEADLINE + timedelta(minutes=1)
    world.queue.sent.clear()
    report = reconcile(world.services, POLICY)
    assert report.past_deadline == 1
    assert world.sync.created == []  # chunk 3 is not sent once the deadline has passed
    assert world.jobs.chunks[(JOB, 3)].status is ChunkStatus.FAILED
    assert world.queue.sent.count(ResultsMessage.for_job(JOB)) == 1
    assert handle(world, ResultsMessage.for_job(JOB)) is FinishOutcome.SENT
    rows = rows_of(world)
    assert {k: r["status"] for k, r in rows.items()} == {
        "0000000002": "COMPLETED",
        "0000000003": "COMPLETED",
        "0000000004": "FAILED",
        "0000000005": "TIMED_OUT",
        "0000000006": "TIMED_OUT",
        "0000000007": "TIMED_OUT",
        "0000000008": "FAILED",
        "0000000009": "FAILED",
        "0000000010": "FAILED",
    }
    assert "deadline passed (48 h" in str(rows["0000000005"]["error_message"])
    assert "Never sent to Sync" in str(rows["0000000008"]["error_message"])
    (email,) = world.notifier.published
    assert "3 timed out" in email.subject
    assert "Timed out" in email.body
    assert email.attributes["timed_out"] == "3"
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert csv_text.count("TIMED_OUT") == 3
    # Done: the job leaves the deadline index; the reconciler does not send it again.
    assert reconcile(world.services, POLICY).past_deadline == 0


def test_a_batch_that_finishes_after_the_deadline_rewrites_the_csv_without_a_second_email():
    world = deadline_world()
    world.now = T0 + DEADLINE + timedelta(minutes=1)
    reconcile(world.services, POLICY)
    handle(world, ResultsMessage.for_job(JOB))
    assert world.jobs.chunks[(JOB, 2)].status is ChunkStatus.SUBMITTED  # still open at Sync
    world.finish_at_sync("batch_2", BatchStatus.COMPLETED, [done(f"c2r{i}") for i in (1, 2, 3)])
    world.now += timedelta(hours=3)
    assert handle(world, chunk_message(2)) is FanOutOutcome.WRITTEN
    assert len(world.notifier.published) == 1
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert "TIMED_OUT" not in csv_text
    assert "https://cdn/c2r3.mp4" in csv_text
    assert world.jobs.open_batch_holders() == set()


def test_two_late_writers_never_rewrite_the_csv_at_once():
    world = deadline_world()
    world.now = T0 + DEADLINE + timedelta(minutes=1)
    handle(world, ResultsMessage.for_job(JOB))
    assert world.jobs.claim_rewrite(JOB, "other", now=world.now, stale_before=world.now)
    with pytest.raises(ReportInProgress):  # the message comes back after the other one
        handle(world, ResultsMessage.for_job(JOB))
    world.jobs.finish_rewrite(JOB, "other")
    assert finish_job(world.services, JOB) is FinishOutcome.REWRITTEN
    assert len(world.notifier.published) == 1


def test_a_job_whose_intake_died_ends_failed_at_the_deadline():
    world = World()
    job = world.jobs.jobs[JOB]
    job.status, job.deadline, job.chunk_count = JobStatus.RECEIVED, T0 + DEADLINE, 0
    world.now = T0 + DEADLINE + timedelta(seconds=1)
    reconcile(world.services, POLICY)
    assert handle(world, ResultsMessage.for_job(JOB)) is FinishOutcome.SENT
    (email,) = world.notifier.published
    assert "could not be processed" in email.subject
    assert "could not finish reading this file before its deadline" in email.body
    assert world.jobs.jobs[JOB].status is JobStatus.FAILED
    # Its chunks recorded before intake died never reach Sync.
    assert {c.status for c in world.jobs.chunks.values()} == {ChunkStatus.FAILED}
    assert world.sync.created == []


def test_a_copy_that_never_finishes_does_not_hold_the_email_past_the_deadline():
    world = copying_world()
    world.jobs.jobs[JOB].deadline = T0 + DEADLINE
    handle(world, chunk_message())
    world.now = T0 + DEADLINE + timedelta(minutes=1)
    reconcile(world.services, POLICY)
    assert handle(world, ResultsMessage.for_job(JOB)) is FinishOutcome.SENT
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert csv_text.count("NOT_COPIED") == 2
    # The copies land later: the CSV is rewritten once the chunk's copies are done.
    for task in world.outputs.tasks:  # type: ignore[attr-defined]
        copy_slice(world.services, task, last_attempt=False)
    assert handle(world, world.queue.sent[-1]) is FinishOutcome.REWRITTEN
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert "NOT_COPIED" not in csv_text
    assert "s3://bkt/outputs/c/c1r2.mp4" in csv_text
    assert len(world.notifier.published) == 1
    assert world.objects.objects["outputs/c/c1r2.mp4"] == MP4


def test_a_chunk_whose_submission_was_never_confirmed_is_not_sent_after_the_deadline():
    world = World()
    world.jobs.jobs[JOB].deadline = T0 + DEADLINE
    chunk = world.jobs.get_chunk(JOB, 1)
    assert chunk is not None
    world.jobs.claim_for_submission(chunk, limit=3, now=T0)  # the POST's answer was lost
    world.now = T0 + DEADLINE + timedelta(minutes=1)
    reconcile(world.services, POLICY)
    assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.FAILED
    assert world.sync.created == []
    for message in list(world.queue.sent):
        handle(world, message)
    assert {r["status"] for r in rows_of(world).values()} == {"FAILED"}
    assert len(world.notifier.published) == 1


# --- intake: the last receive ends the job ------------------------------------------------------
LIMITS = IntakeLimits(
    rules=IntakeRules(), max_upload_bytes=1_000_000, min_lines=20, max_lines=500, max_bytes=5 << 20
)


class FlakyUploads(FakeObjectStore):
    def open_upload(self, upload: UploadRef):  # type: ignore[no-untyped-def]
        raise StorageError("S3 get s3://bkt/incoming/a.csv failed: SlowDown")


def test_an_upload_that_cannot_be_read_on_its_last_receive_ends_the_job_failed():
    body = to_csv(campaign_rows(30))
    objects = FlakyUploads(uploads={("bkt", "incoming/a.csv"): body})
    services = Services(
        jobs=FakeJobStore(),
        results=FakeResultStore(),
        objects=objects,
        sync=FakeSync(),
        clock=lambda: T0,
    )
    upload = UploadRef("bkt", "incoming/a.csv", "v1", size=len(body))
    with pytest.raises(StorageError):
        accept_upload(services, upload, LIMITS, last_attempt=False, attempts=4)
    outcome = accept_upload(services, upload, LIMITS, last_attempt=True, attempts=5)
    assert outcome.job.status is JobStatus.FAILED
    assert "after 5 attempts" in outcome.job.message
    assert "SlowDown" in outcome.job.message
    stored = services.jobs.get_job(upload.job_id)
    assert stored is not None
    assert stored.status is JobStatus.FAILED
    assert stored.deadline == T0 + timedelta(hours=48)


def _fields(services: Services) -> dict[str, object]:
    return {name: getattr(services, name) for name in services.__dataclass_fields__}


def test_a_failure_after_the_chunk_closed_never_overwrites_its_rows():
    world = copying_world()
    world.outputs.send_copies = lambda *_a, **_k: (_ for _ in ()).throw(  # type: ignore[attr-defined, method-assign]
        StorageError("SQS down")
    )
    policy = FanOutPolicy(attempts=1)  # the last attempt: the failure would spend the budget
    with pytest.raises(StorageError):  # the message comes back
        fan_out_chunk(world.services, JOB, 1, policy)
    assert rows_of(world)["0000000002"]["status"] == "COMPLETED"
    assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.COMPLETED
    del world.outputs.send_copies  # type: ignore[attr-defined]
    assert fan_out_chunk(world.services, JOB, 1, policy) is FanOutOutcome.ALREADY_DONE
    assert sum(len(t.row_keys) for t in world.outputs.tasks) == 3  # type: ignore[attr-defined]


def test_a_chunk_whose_manifest_is_gone_still_ends_at_the_deadline():
    world = deadline_world()
    del world.objects.objects[world.jobs.chunks[(JOB, 2)].manifest_key]
    world.now = T0 + DEADLINE + timedelta(minutes=1)
    assert handle(world, ResultsMessage.for_job(JOB)) is FinishOutcome.SENT
    assert len(world.notifier.published) == 1


def test_the_email_counts_timed_out_rows_apart_and_says_what_happens_to_them():
    report = JobReport(
        job_id="j",
        file_name="a.csv",
        bucket="b",
        key="incoming/a.csv",
        counts=ResultCounts(1200, 3, 2, 1215, 10),
        top_errors=[],
        started_at=T0,
        finished_at=T0 + DEADLINE,
        results_uri="s3://b/results/a.results.csv",
        results_link="https://b.example/results/a.results.csv",
        link_expires_at=None,
    )
    email = completed_email(report)
    assert email.subject.endswith("1,200 done, 3 failed, 10 timed out, 2 rejected")
    assert email.attributes["status"] == "COMPLETED_WITH_FAILURES"
    assert "  Timed out    10   Sync had not finished it" in email.body
    assert "  Failed        3" in email.body
    assert "written again with their" in email.body
    quiet = completed_email(replace(report, counts=ResultCounts(3, 0, 0, 3)))
    assert "timed_out" not in quiet.attributes
    assert "Timed out" not in quiet.body
