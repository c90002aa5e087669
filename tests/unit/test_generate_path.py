"""Rows as single generations, with in-memory fakes: the route, the Idempotency-Key, the
generation slots, the pace, a 402 turning batches into generations, fan-out, the email."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from syncdrop.domain.completion import handle_results_message
from syncdrop.domain.fan_out import FanOutOutcome
from syncdrop.domain.generation_submit import GenerationLimits
from syncdrop.domain.intake import IntakeLimits, accept_upload
from syncdrop.domain.reconcile import ReconcilePolicy, reconcile
from syncdrop.domain.routes import choose_route
from syncdrop.domain.services import Services
from syncdrop.domain.submission import submit_ready_chunks
from syncdrop.domain.webhooks import SyncNotice, WebhookOutcome, accept_webhook
from syncdrop.errors import (
    SyncBackPressure,
    SyncOutcomeUnknown,
    SyncRateLimited,
    SyncRejected,
)
from syncdrop.intake import IntakeRules
from syncdrop.jobs import ChunkKind, ChunkStatus, JobStatus, SubmitMode, UploadRef
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import Generation, GenerationStatus
from syncdrop.webhook_url import webhook_url_for
from tests.fakes.stores import (
    FakeJobStore,
    FakeNotifier,
    FakeObjectStore,
    FakeResultsQueue,
    FakeResultStore,
    FakeSync,
)
from tests.support.csv_files import campaign_rows, to_csv

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
BASE = "https://h/sync/webhook"
LIMITS = IntakeLimits(
    rules=IntakeRules(), max_upload_bytes=1_000_000, min_lines=20, max_lines=500, max_bytes=5 << 20
)
# No waiting for turns in these tests: the pace has its own test below.
FAST = GenerationLimits(concurrency=3, per_minute=6000, max_wait=0.0)


class World:
    def __init__(self) -> None:
        self.now = T0
        self.jobs = FakeJobStore()
        self.results = FakeResultStore()
        self.objects = FakeObjectStore()
        self.sync = FakeSync()
        self.queue = FakeResultsQueue()
        self.notifier = FakeNotifier()
        self.services = Services(
            jobs=self.jobs,
            results=self.results,
            objects=self.objects,
            sync=self.sync,
            clock=self.tick,
            results_queue=self.queue,
            notifier=self.notifier,
        )

    def tick(self) -> datetime:
        """Time moves on between calls, as it does between requests: the pace has turns."""
        self.now += timedelta(seconds=1)
        return self.now

    def drop(self, rows: int, key: str = "incoming/a.csv", limits: IntakeLimits = LIMITS):
        body = to_csv(campaign_rows(rows))
        self.objects.uploads[("bkt", key)] = body
        upload = UploadRef("bkt", key, "v1", size=len(body))
        return accept_upload(self.services, upload, limits)

    def submit(self, job_id: str | None = None, mode: SubmitMode = SubmitMode.AUTO):
        return submit_ready_chunks(
            self.services,
            batch_concurrency=3,
            webhook_base=BASE,
            job_id=job_id,
            generation=FAST,
            mode=mode,
        )

    def finish_generations(self, status: GenerationStatus = GenerationStatus.COMPLETED) -> None:
        for generation_id, generation in list(self.sync.generations.items()):
            if not generation.status.is_terminal:
                done = status is GenerationStatus.COMPLETED
                self.sync.generations[generation_id] = Generation(
                    id=generation_id,
                    status=status,
                    output_url=f"https://cdn.sync.so/{generation_id}.mp4" if done else None,
                    output_duration=4.5 if done else None,
                    error=None if done else "no face found",
                    error_code=None if done else "face_not_found",
                )

    def deliver_all(self) -> None:
        """Hand every queued results message to fan_out_results, as SQS would."""
        while self.queue.sent:
            message = self.queue.sent.pop(0)
            handle_results_message(
                self.services,
                message,
                batch_concurrency=3,
                webhook_base=BASE,
                generation=FAST,
            )

    def finish(self, job_id: str) -> None:
        for chunk in self.jobs.job_chunks(job_id):
            if chunk.status is ChunkStatus.SUBMITTED:
                self.queue.send(ResultsMessage.for_chunk(job_id, chunk.number, chunk.batch_id))


def test_a_small_file_goes_as_one_generation_per_row_in_auto_mode():
    world = World()
    outcome = world.drop(7)
    job = outcome.job
    assert job.status is JobStatus.RUNNING
    assert job.route == "generate"
    assert "7 valid rows are fewer than the 20 a Sync batch needs" in job.route_note
    assert job.chunk_count == 7
    assert [c.kind for c in outcome.chunks] == [ChunkKind.GENERATION] * 7
    first = world.jobs.get_chunk(job.job_id, 1)
    assert first is not None
    assert first.rows == 1
    assert first.input_key == ""
    assert json.loads(first.line)["request_id"] == "r1"
    assert json.loads(first.manifest)["columns"]["first_name"] == "Name 1"


def test_a_big_file_goes_by_batch_in_auto_mode_and_every_file_by_generate_in_generate_mode():
    world = World()
    assert world.drop(30).job.route == "batch"
    generate = replace(LIMITS, mode=SubmitMode.GENERATE)
    outcome = world.drop(30, key="incoming/b.csv", limits=generate)
    assert outcome.job.route == "generate"
    assert outcome.job.chunk_count == 30


def test_route_reasons_name_the_mode_and_the_minimum():
    assert choose_route(SubmitMode.AUTO, 1, 20).reason.startswith("1 valid row is fewer")
    assert choose_route(SubmitMode.AUTO, 20, 20).path == "batch"
    assert choose_route(SubmitMode.BATCH, 3, 20).path == "batch"
    assert "402" in choose_route(SubmitMode.AUTO, 500, 20, "no batch access").reason


def test_each_row_is_posted_once_with_its_own_key_and_webhook_under_the_generation_limit():
    world = World()
    job = world.drop(7).job
    report = world.submit(job.job_id)
    assert len(world.sync.generate_posts) == 3  # GenerationConcurrency
    keys = [key for key, _ in world.sync.generate_posts]
    assert keys == [f"syncdrop-{job.job_id}-{n:06d}" for n in (1, 2, 3)]
    payload = world.sync.generate_posts[0][1]
    assert payload["webhookUrl"] == webhook_url_for(BASE, job.job_id, 1)
    assert payload["model"] == "lipsync-2"
    assert "request_id" not in payload
    assert report.left_queued == 4
    assert world.jobs.open_generation_holders() == {f"{job.job_id}#{n}" for n in (1, 2, 3)}
    assert world.jobs.open_batch_holders() == set()


def test_generation_slots_do_not_hold_back_batches():
    world = World()
    small = world.drop(7).job
    big = world.drop(40, key="incoming/big.csv").job
    world.submit()
    states = {(c.job_id, c.kind): c.status for c in world.jobs.chunks.values()}
    assert states[(big.job_id, ChunkKind.BATCH)] is ChunkStatus.SUBMITTED
    assert len(world.sync.created) == 1  # the big file's batch
    assert sum(1 for c in world.jobs.job_chunks(small.job_id) if c.batch_id) == 3


def test_an_unknown_outcome_is_asked_again_with_the_same_key_and_makes_one_generation():
    world = World()
    job = world.drop(1).job
    world.sync.generate_errors.append(SyncOutcomeUnknown("no answer"))
    report = world.submit(job.job_id)
    assert report.unknown == 1
    chunk = world.jobs.get_chunk(job.job_id, 1)
    assert chunk is not None
    assert chunk.status is ChunkStatus.SUBMITTING
    world.now += timedelta(minutes=11)
    policy = ReconcilePolicy(batch_concurrency=3, webhook_base=BASE, generation=FAST)
    result = reconcile(world.services, policy)
    assert result.reposted == 1
    assert result.adopted == 1
    chunk = world.jobs.get_chunk(job.job_id, 1)
    assert chunk is not None
    assert chunk.status is ChunkStatus.SUBMITTED
    keys = [key for key, _ in world.sync.generate_posts]
    assert keys == [chunk.idempotency_key] * 2
    assert len(world.sync.generations) == 1
    assert chunk.batch_id == next(iter(world.sync.generations))


def test_429s_leave_the_row_queued_and_stop_generations_for_now():
    for error in (SyncBackPressure("busy", status=429), SyncRateLimited("slow", status=429)):
        world = World()
        job = world.drop(5).job
        world.sync.generate_errors.append(error)
        report = world.submit(job.job_id)
        assert len(world.sync.generate_posts) == 1
        assert report.left_queued == 5
        assert report.stopped[ChunkKind.GENERATION] in ("back-pressure", "rate")
        assert world.jobs.open_generation_holders() == set()
        assert {c.status for c in world.jobs.job_chunks(job.job_id)} == {ChunkStatus.QUEUED}


def test_a_refused_row_fails_alone_with_syncs_reason():
    world = World()
    job = world.drop(2).job
    world.sync.generate_errors.append(SyncRejected("video is 45 s; at most 30 s", status=400))
    world.submit(job.job_id)
    first, second = world.jobs.job_chunks(job.job_id)
    assert first.status is ChunkStatus.FAILED
    assert "at most 30 s" in first.error
    assert second.status is ChunkStatus.SUBMITTED


def test_the_pace_leaves_rows_queued_when_no_turn_comes_in_time():
    world = World()
    job = world.drop(3).job
    slow = GenerationLimits(concurrency=3, per_minute=1, max_wait=0.5)
    report = submit_ready_chunks(
        world.services, batch_concurrency=3, webhook_base=BASE, job_id=job.job_id, generation=slow
    )
    assert len(world.sync.generate_posts) == 1  # the next turn is a minute away
    assert report.stopped[ChunkKind.GENERATION] == "rate"
    assert [c.status for c in world.jobs.job_chunks(job.job_id)] == [
        ChunkStatus.SUBMITTED,
        ChunkStatus.QUEUED,
        ChunkStatus.QUEUED,
    ]


def test_a_402_for_batches_sends_the_rows_as_generations_and_is_remembered():
    world = World()
    job = world.drop(45, limits=replace(LIMITS, max_lines=25)).job
    assert job.route == "batch"
    assert job.chunk_count == 2
    world.sync.next_errors.append(SyncRejected("plan has no batch access", status=402))
    world.submit(job.job_id)
    stored = world.jobs.get_job(job.job_id)
    assert stored is not None
    assert stored.route == "generate"
    assert "HTTP 402" in stored.route_note
    assert "Sync said: plan has no batch access." in stored.route_note
    chunks = world.jobs.job_chunks(job.job_id)
    assert [c.status for c in chunks if c.kind is ChunkKind.BATCH] == [ChunkStatus.REPLACED] * 2
    generations = [c for c in chunks if c.kind is ChunkKind.GENERATION]
    assert len(generations) == 45
    assert stored.chunk_count == 2 + 45
    assert len(world.sync.created) == 0
    assert len(world.sync.generate_posts) == 3
    assert world.jobs.open_batch_holders() == set()
    # The next big file is planned as generations at once, with the same reason.
    assert (
        stored.message
        == "45 rows as single generations (Sync refused batches: HTTP 402); 0 rows rejected"
    )
    later = world.drop(30, key="incoming/later.csv").job
    assert later.route == "generate"
    assert "HTTP 402" in later.route_note


def test_rows_end_in_the_results_and_one_email_says_how_they_were_sent():
    world = World()
    job = world.drop(5).job
    world.submit(job.job_id)
    for _ in range(5):  # each finished generation frees a slot for the next row
        world.finish_generations()
        world.finish(job.job_id)
        world.deliver_all()
    rows = {r["request_id"]: r for r in world.results.job_rows(job.job_id)}
    assert len(rows) == 5
    assert {r["status"] for r in rows.values()} == {"COMPLETED"}
    assert rows["r1"]["output_url"].startswith("https://cdn.sync.so/gen_")
    assert rows["r1"]["generation_id"].startswith("gen_")
    assert len(world.sync.generations) == 5
    assert len(world.notifier.published) == 1
    body = world.notifier.published[0].body
    assert "How the rows were sent:" in body
    assert "single generation" in body


def test_a_failed_generation_is_a_failed_row_with_syncs_reason():
    world = World()
    job = world.drop(1).job
    world.submit(job.job_id)
    world.finish_generations(GenerationStatus.FAILED)
    world.finish(job.job_id)
    world.deliver_all()
    (row,) = list(world.results.job_rows(job.job_id))
    assert row["status"] == "FAILED"
    assert row["error_message"] == "no face found"
    assert row["error_code"] == "face_not_found"


def test_a_signed_generation_webhook_is_a_hint_and_fan_out_asks_sync():
    world = World()
    job = world.drop(1).job
    world.submit(job.job_id)
    chunk = world.jobs.get_chunk(job.job_id, 1)
    assert chunk is not None
    assert chunk.batch_id
    body = SyncNotice.model_validate(
        {
            "id": chunk.batch_id,
            "status": "COMPLETED",
            "webhookUrl": webhook_url_for(BASE, job.job_id, 1),
            "input": [],
            "model": "lipsync-2",
        }
    )
    assert accept_webhook(world.services, body, webhook_base=BASE) is WebhookOutcome.ENQUEUED
    message = world.queue.sent.pop()
    # Sync's GET still says PENDING: the webhook body alone writes nothing.
    outcome = handle_results_message(
        world.services, message, batch_concurrency=3, webhook_base=BASE, generation=FAST
    )
    assert outcome is FanOutOutcome.NOT_READY
    assert list(world.results.job_rows(job.job_id)) == []


def test_quiet_generations_are_polled_in_groups():
    world = World()
    job = world.drop(3).job
    world.submit(job.job_id)
    world.finish_generations()
    world.now += timedelta(minutes=31)
    policy = ReconcilePolicy(batch_concurrency=3, webhook_base=BASE, generation=FAST)
    report = reconcile(world.services, policy)
    assert report.polled == 3
    assert report.enqueued == 3
    assert {m.chunk for m in world.queue.sent} == {1, 2, 3}


def test_a_dry_run_of_a_small_file_plans_single_generations_and_sends_nothing():
    world = World()
    job = world.drop(5, key="incoming/dry-run/small.csv").job
    assert job.status is JobStatus.VALIDATED
    assert "5 rows would go to Sync as single generations" in job.message
    world.queue.send(ResultsMessage.for_job(job.job_id))
    world.deliver_all()
    (email,) = world.notifier.published
    assert "Planned: 5 single generations, one POST /v2/generate per row." in email.body
    assert "no row is valid" not in email.body
    assert world.sync.generate_posts == []
    assert world.sync.created == []
