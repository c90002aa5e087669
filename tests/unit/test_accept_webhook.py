"""accept_webhook: the chunk comes from the signed body's webhookUrl, never from the query alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from syncdrop.domain.services import Services
from syncdrop.domain.webhooks import WebhookOutcome, accept_webhook
from syncdrop.jobs import Chunk, ChunkStatus, chunk_keys
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import Batch, BatchStatus
from syncdrop.webhook_url import webhook_url_for
from tests.fakes.stores import (
    FakeJobStore,
    FakeObjectStore,
    FakeResultsQueue,
    FakeResultStore,
    FakeSync,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
BASE = "https://abc.execute-api.us-east-1.amazonaws.com/sync/webhook"
JOB_A = "job-aaaaaaaaaaaaaaaaaaaaaaaa"
JOB_B = "job-bbbbbbbbbbbbbbbbbbbbbbbb"


class World:
    """Job A's chunk 1 holds batch_a; job B's chunk 1 is SUBMITTING (its POST answer lost)."""

    def __init__(self) -> None:
        self.jobs = FakeJobStore()
        self.queue = FakeResultsQueue()
        self.services = Services(
            jobs=self.jobs,
            results=FakeResultStore(),
            objects=FakeObjectStore(),
            sync=FakeSync(),
            clock=lambda: T0,
            results_queue=self.queue,
        )
        for job in (JOB_A, JOB_B):
            chunk = Chunk(job, 1, ChunkStatus.QUEUED, 20, *chunk_keys(job, 1), updated_at=T0)
            self.jobs.put_chunk(chunk)
            self.jobs.claim_for_submission(chunk, limit=10, now=T0)
        self.jobs.mark_submitted(self.chunk(JOB_A), "batch_a", now=T0)
        self.before = self.state()

    def chunk(self, job: str) -> Chunk:
        found = self.jobs.get_chunk(job, 1)
        assert found is not None
        return found

    def state(self) -> dict[tuple[str, int], Chunk]:
        return {key: replace(chunk) for key, chunk in self.jobs.chunks.items()}

    def accept(self, batch: Batch, **query: str) -> WebhookOutcome:
        return accept_webhook(
            self.services,
            batch,
            webhook_base=BASE,
            query_job=query.get("job"),
            query_chunk=query.get("chunk"),
        )

    def unchanged(self) -> bool:
        return self.state() == self.before and self.queue.sent == []


def body_for(job: str, batch_id: str = "batch_a", *, base: str = BASE) -> Batch:
    """What Sync signs: the batch, and the webhookUrl syncdrop gave it for ``job``'s chunk 1."""
    return Batch(
        id=batch_id, status=BatchStatus.COMPLETED, webhookUrl=webhook_url_for(base, job, 1)
    )


@pytest.mark.parametrize(
    "query",
    [{}, {"job": JOB_A, "chunk": "1"}, {"job": JOB_A}, {"chunk": "1"}],
    ids=["no-query", "same-query", "job-only", "chunk-only"],
)
def test_the_signed_body_names_the_chunk_and_a_missing_or_matching_query_is_fine(query):
    world = World()
    assert world.accept(body_for(JOB_A), **query) is WebhookOutcome.ENQUEUED
    assert world.queue.sent == [ResultsMessage.for_chunk(JOB_A, 1, "batch_a")]
    assert world.chunk(JOB_A).last_sync_status == "COMPLETED"


@pytest.mark.parametrize(
    "query",
    [
        {"job": JOB_B, "chunk": "1"},
        {"job": JOB_B},
        {"job": JOB_A, "chunk": "2"},
        {"chunk": "01"},
        {"job": ""},
        {"job": f"{JOB_A},{JOB_B}"},  # HTTP API joins a repeated parameter with commas
    ],
)
def test_a_query_naming_another_job_or_chunk_is_misdirected_and_changes_nothing(query):
    world = World()
    assert world.accept(body_for(JOB_A), **query) is WebhookOutcome.MISDIRECTED
    assert world.unchanged()


def test_a_replay_of_a_jobs_webhook_to_a_submitting_chunk_does_not_adopt_its_batch():
    """Job A's genuine delivery, sent again to ``?job=B&chunk=1`` while B waits for its POST."""
    world = World()
    assert world.accept(body_for(JOB_A), job=JOB_B, chunk="1") is WebhookOutcome.MISDIRECTED
    assert world.chunk(JOB_B).status is ChunkStatus.SUBMITTING
    assert world.chunk(JOB_B).batch_id is None
    assert world.unchanged()


def test_the_signed_owner_may_adopt_the_batch_whose_post_answer_was_lost():
    world = World()
    assert world.accept(body_for(JOB_B, "batch_b"), job=JOB_B, chunk="1") is (
        WebhookOutcome.ENQUEUED
    )
    chunk = world.chunk(JOB_B)
    assert (chunk.status, chunk.batch_id) == (ChunkStatus.SUBMITTED, "batch_b")
    assert world.queue.sent == [ResultsMessage.for_chunk(JOB_B, 1, "batch_b")]


@pytest.mark.parametrize(
    "base",
    [
        "https://other-app.example.com/hooks/sync",  # another app of the same Sync organisation
        "https://abc.execute-api.us-east-1.amazonaws.com/prod/sync/webhook",
        "http://abc.execute-api.us-east-1.amazonaws.com/sync/webhook",
    ],
)
def test_a_body_signed_for_another_webhook_url_is_misdirected(base):
    world = World()
    assert world.accept(body_for(JOB_B, "batch_b", base=base)) is WebhookOutcome.MISDIRECTED
    assert world.accept(body_for(JOB_A, base=base), job=JOB_A, chunk="1") is (
        WebhookOutcome.MISDIRECTED
    )
    assert world.unchanged()


def test_a_body_whose_webhook_url_is_not_one_syncdrop_writes_is_misdirected():
    world = World()
    batch = Batch(id="batch_a", status=BatchStatus.COMPLETED, webhookUrl=f"{BASE}?job={JOB_A}")
    assert world.accept(batch, job=JOB_A, chunk="1") is WebhookOutcome.MISDIRECTED
    assert world.unchanged()


def test_without_a_deployment_webhook_url_nothing_is_ours():
    world = World()
    outcome = accept_webhook(world.services, body_for(JOB_A), webhook_base="", query_job=JOB_A)
    assert outcome is WebhookOutcome.MISDIRECTED
    assert world.unchanged()


# --- a signed body without webhookUrl (Sync documents it as optional) ------------------------
def bare(batch_id: str, status: BatchStatus = BatchStatus.COMPLETED) -> Batch:
    return Batch(id=batch_id, status=status)


def test_without_webhook_url_the_query_finds_a_chunk_that_already_holds_the_batch():
    world = World()
    assert world.accept(bare("batch_a"), job=JOB_A, chunk="1") is WebhookOutcome.ENQUEUED
    assert world.queue.sent == [ResultsMessage.for_chunk(JOB_A, 1, "batch_a")]
    assert world.accept(bare("batch_a", BatchStatus.PROCESSING), job=JOB_A, chunk="1") is (
        WebhookOutcome.RECORDED
    )


def test_without_webhook_url_a_batch_is_never_adopted_from_the_query():
    world = World()
    for batch_id in ("batch_a", "batch_b"):
        assert world.accept(bare(batch_id), job=JOB_B, chunk="1") is (WebhookOutcome.UNKNOWN_BATCH)
    assert world.chunk(JOB_B).batch_id is None
    assert world.unchanged()


@pytest.mark.parametrize(
    "query",
    [{}, {"job": JOB_A}, {"chunk": "1"}, {"job": JOB_A, "chunk": "x"}, {"job": "", "chunk": "1"}],
)
def test_without_webhook_url_or_a_usable_query_the_batch_is_unknown(query):
    world = World()
    assert world.accept(bare("batch_a"), **query) is WebhookOutcome.UNKNOWN_BATCH
    assert world.unchanged()


def test_a_signed_body_for_another_batch_of_a_known_chunk_is_unknown():
    world = World()
    assert world.accept(body_for(JOB_A, "batch_other")) is WebhookOutcome.UNKNOWN_BATCH
    assert world.unchanged()


def test_a_signed_body_for_a_chunk_that_does_not_exist_is_unknown():
    world = World()
    batch = Batch(
        id="batch_a", status=BatchStatus.COMPLETED, webhookUrl=webhook_url_for(BASE, JOB_A, 9)
    )
    assert world.accept(batch) is WebhookOutcome.UNKNOWN_BATCH
    assert world.unchanged()
