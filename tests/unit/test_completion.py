"""Webhook matching, fan-out, the one email and the reconciler, with in-memory fakes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from syncdrop.domain.completion import handle_results_message
from syncdrop.domain.fan_out import BATCH_FAILED, NO_RESULT, FanOutOutcome, fan_out_chunk
from syncdrop.domain.reconcile import ReconcilePolicy, reconcile
from syncdrop.domain.reporting import FinishOutcome, finish_job
from syncdrop.domain.services import Services
from syncdrop.domain.webhooks import WebhookOutcome, accept_webhook
from syncdrop.errors import StorageError
from syncdrop.jobs import Chunk, ChunkStatus, Job, JobStatus, UploadRef, chunk_keys
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import Batch, BatchStatus
from syncdrop.webhook_url import webhook_url_for
from tests.fakes.stores import (
    FakeJobStore,
    FakeNotifier,
    FakeObjectStore,
    FakeResultLines,
    FakeResultsQueue,
    FakeResultStore,
    FakeSync,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
JOB = "job-c"
WEBHOOK_BASE = "https://h/sync/webhook"
OUTPUT = "https://api.sync.so/v2/batches/batch_1/result"


class World:
    """A job with one or more chunks of ``rows`` rows, and every fake the domain needs."""

    def __init__(self, chunks: int = 1, rows: int = 3) -> None:
        self.now = T0
        self.jobs = FakeJobStore()
        self.results = FakeResultStore()
        self.objects = FakeObjectStore()
        self.sync = FakeSync()
        self.queue = FakeResultsQueue()
        self.notifier = FakeNotifier()
        self.lines = FakeResultLines()
        self.services = Services(
            jobs=self.jobs,
            results=self.results,
            objects=self.objects,
            sync=self.sync,
            clock=lambda: self.now,
            results_queue=self.queue,
            notifier=self.notifier,
            result_lines=self.lines,
        )
        upload = UploadRef("bkt", "incoming/c.csv", "v1", size=100)
        self.jobs.create_job(
            Job(
                job_id=JOB,
                upload=upload,
                status=JobStatus.RUNNING,
                created_at=T0,
                rows=chunks * rows,
                valid=chunks * rows,
                chunk_count=chunks,
                columns=["request_id", "video_url", "name"],
            )
        )
        for n in range(1, chunks + 1):
            input_key, manifest_key = chunk_keys(JOB, n)
            manifest = [
                {
                    "row": (n - 1) * rows + i + 1,
                    "request_id": f"c{n}r{i}",
                    "columns": {"name": f"N{i}"},
                }
                for i in range(1, rows + 1)
            ]
            self.objects.objects[manifest_key] = "\n".join(json.dumps(m) for m in manifest).encode()
            self.objects.objects[input_key] = b"{}\n"
            self.jobs.put_chunk(
                Chunk(JOB, n, ChunkStatus.QUEUED, rows, input_key, manifest_key, updated_at=T0)
            )

    def submit(self, n: int, batch_id: str) -> Chunk:
        chunk = self.jobs.get_chunk(JOB, n)
        assert chunk is not None
        self.jobs.claim_for_submission(chunk, limit=10, now=T0)
        self.jobs.mark_submitted(chunk, batch_id, now=T0)
        result = self.jobs.get_chunk(JOB, n)
        assert result is not None
        return result

    def finish_at_sync(self, batch_id: str, status: BatchStatus, lines: list[dict]) -> None:
        url = f"https://api.sync.so/v2/batches/{batch_id}/result"
        self.sync.batches[batch_id] = Batch(id=batch_id, status=status, outputUrl=url)
        self.lines.files[url] = [json.dumps(line).encode() for line in lines]


def done(request_id: str) -> dict:
    return {
        "request_id": request_id,
        "status": "COMPLETED",
        "error": None,
        "response": {
            "id": f"gen-{request_id}",
            "outputUrl": f"https://cdn/{request_id}.mp4",
            "outputDuration": 2.5,
        },
    }


def broken(request_id: str) -> dict:
    return {
        "request_id": request_id,
        "status": "FAILED",
        "error": {"code": "NO_FACE", "message": "No face"},
        "response": None,
    }


# --- webhooks (more in test_accept_webhook.py) ---------------------------------------------
def signed_batch(batch_id: str, status: BatchStatus, *, job: str = JOB, chunk: int = 1) -> Batch:
    """A webhook body as Sync signs it: the batch and the webhookUrl syncdrop gave it."""
    return Batch(id=batch_id, status=status, webhookUrl=webhook_url_for(WEBHOOK_BASE, job, chunk))


def test_terminal_webhook_for_the_chunks_batch_is_enqueued():
    world = World()
    world.submit(1, "batch_1")
    batch = signed_batch("batch_1", BatchStatus.COMPLETED)
    assert accept_webhook(world.services, batch, webhook_base=WEBHOOK_BASE) is (
        WebhookOutcome.ENQUEUED
    )
    assert world.queue.sent == [ResultsMessage.for_chunk(JOB, 1, "batch_1")]


def test_non_terminal_webhook_is_recorded_only():
    world = World()
    world.submit(1, "batch_1")
    batch = signed_batch("batch_1", BatchStatus.PROCESSING)
    assert accept_webhook(world.services, batch, webhook_base=WEBHOOK_BASE) is (
        WebhookOutcome.RECORDED
    )
    assert world.queue.sent == []
    assert world.jobs.chunks[(JOB, 1)].last_sync_status == "PROCESSING"


@pytest.mark.parametrize(
    ("job", "chunk", "batch_id"),
    [("job-x", 1, "batch_1"), (JOB, 9, "batch_1"), (JOB, 1, "batch_other")],
)
def test_webhooks_for_unknown_chunks_or_other_batches_change_nothing(job, chunk, batch_id):
    world = World()
    world.submit(1, "batch_1")
    batch = signed_batch(batch_id, BatchStatus.COMPLETED, job=job, chunk=chunk)
    assert accept_webhook(world.services, batch, webhook_base=WEBHOOK_BASE) is (
        WebhookOutcome.UNKNOWN_BATCH
    )
    assert world.queue.sent == []
    assert world.jobs.chunks[(JOB, 1)].last_sync_status == ""


def test_a_webhook_adopts_the_batch_of_a_chunk_whose_post_answer_was_lost():
    world = World()
    chunk = world.jobs.get_chunk(JOB, 1)
    assert chunk is not None
    world.jobs.claim_for_submission(chunk, limit=3, now=T0)  # SUBMITTING, answer lost
    batch = signed_batch("batch_9", BatchStatus.COMPLETED)
    assert accept_webhook(world.services, batch, webhook_base=WEBHOOK_BASE) is (
        WebhookOutcome.ENQUEUED
    )
    stored = world.jobs.chunks[(JOB, 1)]
    assert (stored.status, stored.batch_id) == (ChunkStatus.SUBMITTED, "batch_9")


# --- fan-out ------------------------------------------------------------------------------
def test_fan_out_joins_results_with_the_manifest_and_closes_the_chunk():
    world = World(rows=3)
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [done("c1r1"), broken("c1r2")])
    assert fan_out_chunk(world.services, JOB, 1) is FanOutOutcome.WRITTEN
    items = [world.results.items[(JOB, f"{n:010d}")] for n in (2, 3, 4)]  # header is row 1
    assert [i["status"] for i in items] == ["COMPLETED", "FAILED", "FAILED"]
    assert items[0]["output_url"] == "https://cdn/c1r1.mp4"
    assert items[0]["generation_id"] == "gen-c1r1"
    assert items[0]["output_duration"] == "2.5"
    assert json.loads(str(items[0]["columns"])) == {"name": "N1"}
    assert (items[1]["error_code"], items[1]["error_message"]) == ("NO_FACE", "No face")
    assert items[2]["error_message"] == NO_RESULT  # Sync's file had no line for it
    chunk = world.jobs.chunks[(JOB, 1)]
    assert (chunk.status, chunk.results_written) == (ChunkStatus.COMPLETED, True)
    assert world.jobs.holders == set()


def test_fan_out_twice_writes_once_and_reports_already_done():
    world = World()
    world.submit(1, "batch_1")
    world.finish_at_sync(
        "batch_1", BatchStatus.COMPLETED, [done("c1r1"), done("c1r2"), done("c1r3")]
    )
    fan_out_chunk(world.services, JOB, 1)
    world.lines.files.clear()  # a second download would now fail
    assert fan_out_chunk(world.services, JOB, 1) is FanOutOutcome.ALREADY_DONE


def test_fan_out_waits_when_sync_says_the_batch_is_still_running():
    world = World()
    world.submit(1, "batch_1")
    assert fan_out_chunk(world.services, JOB, 1) is FanOutOutcome.NOT_READY
    assert world.results.items == {}
    assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.SUBMITTED


def test_a_batch_failed_by_sync_fails_every_row_with_a_reason():
    world = World()
    world.submit(1, "batch_1")
    url = "https://api.sync.so/v2/batches/batch_1/result"
    world.sync.batches["batch_1"] = Batch(id="batch_1", status=BatchStatus.FAILED, outputUrl="")
    assert url not in world.lines.files
    fan_out_chunk(world.services, JOB, 1)
    statuses = {(i["status"], i["error_message"]) for i in world.results.items.values()}
    assert statuses == {("FAILED", BATCH_FAILED)}
    assert world.jobs.chunks[(JOB, 1)].status is ChunkStatus.FAILED


def test_a_chunk_refused_at_submission_fails_its_rows_with_syncs_message():
    world = World()
    chunk = world.jobs.get_chunk(JOB, 1)
    assert chunk is not None
    world.jobs.fail_chunk(chunk, "Sync refused the batch: Line 2: bad url", now=T0)
    assert fan_out_chunk(world.services, JOB, 1) is FanOutOutcome.WRITTEN
    reasons = {i["error_message"] for i in world.results.items.values()}
    assert reasons == {"Sync refused the batch: Line 2: bad url"}
    assert len(world.results.items) == 3


# --- the one email ------------------------------------------------------------------------
def complete_everything(world: World, chunks: int) -> None:
    for n in range(1, chunks + 1):
        world.submit(n, f"batch_{n}")
        world.finish_at_sync(
            f"batch_{n}", BatchStatus.COMPLETED, [done(f"c{n}r{i}") for i in (1, 2, 3)]
        )


def test_the_job_is_reported_once_when_its_last_chunk_closes():
    world = World(chunks=2)
    complete_everything(world, 2)
    first = handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    assert first is FanOutOutcome.WRITTEN
    assert world.notifier.published == []  # chunk 2 still open
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 2, "batch_2"),
        batch_concurrency=2,
        webhook_base="",
    )
    assert len(world.notifier.published) == 1
    # Duplicates of both messages and a job message change nothing.
    for message in (
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        ResultsMessage.for_chunk(JOB, 2, "batch_2"),
        ResultsMessage.for_job(JOB),
    ):
        handle_results_message(world.services, message, batch_concurrency=2, webhook_base="")
    assert len(world.notifier.published) == 1
    assert world.jobs.jobs[JOB].status is JobStatus.COMPLETED
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert csv_text.count("COMPLETED") == 6


def test_a_crash_before_the_email_is_recovered_after_the_lease():
    world = World()
    complete_everything(world, 1)
    world.notifier.fail_next = True
    with pytest.raises(StorageError):
        handle_results_message(
            world.services,
            ResultsMessage.for_chunk(JOB, 1, "batch_1"),
            batch_concurrency=2,
            webhook_base="",
        )
    assert finish_job(world.services, JOB) is FinishOutcome.BUSY  # the lease still holds
    world.now = T0 + timedelta(minutes=20)
    assert finish_job(world.services, JOB) is FinishOutcome.SENT
    assert finish_job(world.services, JOB) is FinishOutcome.ALREADY_SENT
    assert len(world.notifier.published) == 1


def test_a_refused_file_gets_the_failed_file_email():
    world = World()
    world.jobs.jobs[JOB].status = JobStatus.FAILED
    world.jobs.jobs[JOB].message = "The header has no video_url column."
    assert finish_job(world.services, JOB) is FinishOutcome.SENT
    (email,) = world.notifier.published
    assert "could not be processed" in email.subject
    assert "video_url" in email.body


# --- reconcile ----------------------------------------------------------------------------
POLICY = ReconcilePolicy(
    batch_concurrency=3,
    webhook_base=WEBHOOK_BASE,
    submitting_grace=timedelta(0),
    poll_after=timedelta(0),
)


def test_reconcile_adopts_a_batch_created_before_a_crash_and_requeues_the_rest():
    world = World(chunks=2)
    for n in (1, 2):
        chunk = world.jobs.get_chunk(JOB, n)
        assert chunk is not None
        world.jobs.claim_for_submission(chunk, limit=3, now=T0)
    world.sync.batches["batch_7"] = Batch(
        id="batch_7",
        status=BatchStatus.PROCESSING,
        webhookUrl=f"https://h/sync/webhook?job={JOB}&chunk=1",
    )
    world.now = T0 + timedelta(minutes=1)
    report = reconcile(world.services, POLICY)
    assert (report.adopted, report.requeued) == (1, 1)
    assert world.jobs.chunks[(JOB, 1)].batch_id == "batch_7"
    # chunk 2 had no batch at Sync: back in the queue and, capacity allowing, submitted again
    assert world.jobs.chunks[(JOB, 2)].status is ChunkStatus.SUBMITTED
    assert len(world.sync.created) == 1


def test_reconcile_never_adopts_another_deployments_batch_for_the_same_job_and_chunk():
    """Every app of a Sync organisation lists the same batches; only our URL makes one ours."""
    world = World()
    chunk = world.jobs.get_chunk(JOB, 1)
    assert chunk is not None
    world.jobs.claim_for_submission(chunk, limit=3, now=T0)
    world.sync.batches["batch_theirs"] = Batch(
        id="batch_theirs",
        status=BatchStatus.PROCESSING,
        webhookUrl=webhook_url_for("https://other.example.com/sync/webhook", JOB, 1),
    )
    world.now = T0 + timedelta(minutes=1)
    report = reconcile(world.services, POLICY)
    assert (report.adopted, report.requeued) == (0, 1)
    assert world.jobs.chunks[(JOB, 1)].batch_id != "batch_theirs"


def test_reconcile_polls_quiet_batches_and_enqueues_finished_ones():
    world = World()
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, [])
    world.now = T0 + timedelta(hours=1)
    report = reconcile(world.services, POLICY)
    assert report.enqueued == 1
    assert world.queue.sent == [ResultsMessage.for_chunk(JOB, 1, "batch_1")]


def test_reconcile_restarts_a_report_whose_worker_died():
    world = World()
    world.jobs.claim_report(JOB, "dead-worker", now=T0, stale_before=T0)
    world.now = T0 + timedelta(hours=1)
    report = reconcile(world.services, POLICY)
    assert report.reports_restarted == 1
    assert ResultsMessage.for_job(JOB) in world.queue.sent
