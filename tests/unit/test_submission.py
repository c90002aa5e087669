"""Submitting chunks: capacity, back-pressure and unknown outcomes (invariants 2 and 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from syncdrop.domain.services import Services
from syncdrop.domain.submission import submit_ready_chunks
from syncdrop.errors import (
    SyncAuthError,
    SyncBackPressure,
    SyncNotSent,
    SyncOutcomeUnknown,
    SyncRejected,
)
from syncdrop.jobs import Chunk, ChunkStatus, SubmitMode, chunk_keys
from syncdrop.messages import ResultsMessage
from syncdrop.webhook_url import webhook_url_for
from tests.fakes.stores import (
    FakeJobStore,
    FakeObjectStore,
    FakeResultsQueue,
    FakeResultStore,
    FakeSync,
)

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def make_services(chunks: int, *, job_id: str = "job-a") -> tuple[Services, FakeJobStore, FakeSync]:
    jobs, objects, sync = FakeJobStore(), FakeObjectStore(), FakeSync()
    for n in range(1, chunks + 1):
        input_key, manifest_key = chunk_keys(job_id, n)
        objects.objects[input_key] = f'{{"request_id":"r{n}"}}\n'.encode()
        jobs.put_chunk(
            Chunk(
                job_id,
                n,
                ChunkStatus.QUEUED,
                20,
                input_key,
                manifest_key,
                updated_at=T0 + timedelta(seconds=n),
            )
        )
    services = Services(
        jobs=jobs,
        results=FakeResultStore(),
        objects=objects,
        sync=sync,
        clock=lambda: T0,
        results_queue=FakeResultsQueue(),
    )
    return services, jobs, sync


def statuses(jobs: FakeJobStore) -> list[str]:
    return [c.status.value for c in jobs.job_chunks("job-a")]


def test_submits_until_the_concurrency_limit_and_leaves_the_rest_queued():
    services, jobs, sync = make_services(5)
    report = submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    assert statuses(jobs) == ["SUBMITTED"] * 3 + ["QUEUED"] * 2
    assert len(sync.created) == 3
    assert report.left_queued == 2
    assert report.stopped_by == "capacity"


def test_a_second_run_submits_nothing_more_while_capacity_is_held():
    services, jobs, sync = make_services(5)
    submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    assert len(sync.created) == 3
    assert len(jobs.holders) == 3


def test_concurrency_429_is_back_pressure_chunk_stays_queued():
    services, jobs, sync = make_services(3)
    sync.next_errors.append(
        SyncBackPressure("limit", status=429, error_code="concurrency_limit_reached")
    )
    report = submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    assert statuses(jobs) == ["QUEUED"] * 3
    assert jobs.holders == set()
    assert report.stopped_by == "back-pressure"
    assert sync.created == []


def test_outcome_unknown_leaves_the_chunk_submitting_and_never_reposts():
    services, jobs, sync = make_services(2)
    sync.next_errors.append(SyncOutcomeUnknown("502"))
    report = submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    assert statuses(jobs) == ["SUBMITTING", "QUEUED"]
    assert report.unknown == 1
    # A retry of the same event must not post chunk 1 again: it is not QUEUED.
    submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    assert statuses(jobs) == ["SUBMITTING", "SUBMITTED"]
    assert len(sync.created) == 2  # the unknown one (which did exist) and chunk 2, once each
    assert "job-a#1" in jobs.holders  # the unknown batch keeps its capacity slot


def test_not_sent_goes_back_to_the_queue():
    services, jobs, sync = make_services(1)
    sync.next_errors.append(SyncNotSent("connection refused"))
    submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    assert statuses(jobs) == ["QUEUED"]
    assert jobs.holders == set()


def test_refused_batch_fails_the_chunk_with_syncs_reason():
    services, jobs, sync = make_services(2)
    sync.next_errors.append(SyncRejected("Line 3: unknown model", status=400))
    submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    chunks = jobs.job_chunks("job-a")
    assert [c.status for c in chunks] == [ChunkStatus.FAILED, ChunkStatus.SUBMITTED]
    assert "Line 3: unknown model" in chunks[0].error
    assert jobs.holders == {"job-a#2"}
    # Its rows still get FAILED results: the chunk goes to fan-out without a batch.
    assert services.queue() == FakeResultsQueue([ResultsMessage.for_chunk("job-a", 1, None)])


def test_402_stops_submitting_other_chunks_in_batch_mode():
    services, jobs, sync = make_services(3)
    sync.next_errors.append(SyncRejected("no batch access", status=402))
    report = submit_ready_chunks(
        services, batch_concurrency=3, webhook_base="", job_id="job-a", mode=SubmitMode.BATCH
    )
    assert statuses(jobs) == ["FAILED", "QUEUED", "QUEUED"]
    assert report.stopped_by == "account"


def test_webhook_url_carries_job_and_chunk():
    url = webhook_url_for(
        "https://abc.execute-api.us-east-1.amazonaws.com/sync/webhook", "job-x", 7
    )
    assert url is not None
    parts = urlsplit(url)
    assert parts.path == "/sync/webhook"
    assert parse_qs(parts.query) == {"job": ["job-x"], "chunk": ["7"]}
    assert webhook_url_for("", "job-x", 7) is None


def test_webhook_url_is_sent_with_the_batch():
    services, _jobs, sync = make_services(1)
    submit_ready_chunks(
        services, batch_concurrency=1, webhook_base="https://h/sync/webhook", job_id="job-a"
    )
    assert sync.created[0][1] == "https://h/sync/webhook?job=job-a&chunk=1"


@pytest.mark.parametrize("limit", [1, 2, 4])
def test_never_more_holders_than_the_limit_across_jobs(limit):
    services, jobs, _sync = make_services(3, job_id="job-a")
    for n in range(1, 4):
        input_key, manifest_key = chunk_keys("job-b", n)
        services.objects.put_bytes(input_key, b"{}\n", "application/jsonl")
        jobs.put_chunk(
            Chunk("job-b", n, ChunkStatus.QUEUED, 20, input_key, manifest_key, updated_at=T0)
        )
    submit_ready_chunks(services, batch_concurrency=limit, webhook_base="", job_id="job-a")
    submit_ready_chunks(services, batch_concurrency=limit, webhook_base="", job_id="job-b")
    submitted = [c for c in jobs.chunks.values() if c.status is ChunkStatus.SUBMITTED]
    assert len(submitted) == limit == len(jobs.holders)


def test_a_refused_api_key_keeps_the_work_queued():
    services, jobs, sync = make_services(2)
    sync.next_errors.append(SyncAuthError("key revoked", status=401))
    report = submit_ready_chunks(services, batch_concurrency=3, webhook_base="", job_id="job-a")
    assert statuses(jobs) == ["QUEUED", "QUEUED"]
    assert jobs.holders == set()
    assert report.stopped_by == "account"
