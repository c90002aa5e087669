"""The job table's items for single generations, against moto: one-row chunks, their own
slots and index partition, a batch chunk replaced by generations, the request pace."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.domain.generation_chunks import generation_chunk
from syncdrop.jobs import ChunkKind, ChunkStatus, Job, JobStatus
from syncdrop.ports import Claim
from tests.integration.test_dynamo_job_store import T0, chunk, job


def store_of(moto_stack) -> DynamoJobStore:
    return DynamoJobStore(moto_stack.client("dynamodb"), moto_stack.ref("JobTable"))


def running(store: DynamoJobStore, job_id: str, chunks: int) -> Job:
    recorded = store.create_job(job(job_id))
    recorded.status, recorded.chunk_count, recorded.route = JobStatus.RUNNING, chunks, "generate"
    assert store.finish_intake(recorded)
    return recorded


def rows(job_id: str, count: int, start: int = 1):
    return [
        generation_chunk(
            job_id,
            n,
            json.dumps({"request_id": f"r{n}", "payload": {"model": "lipsync-2"}}),
            json.dumps({"row": n + 1, "request_id": f"r{n}", "columns": {}}),
            T0 + timedelta(milliseconds=n),
        )
        for n in range(start, start + count)
    ]


def test_generation_chunks_are_recorded_once_with_their_line_and_manifest(moto_stack):
    store = store_of(moto_stack)
    running(store, "job-g", 250)
    store.put_generation_chunks(rows("job-g", 250))  # three transactions
    first = store.get_chunk("job-g", 1)
    assert first is not None
    assert first.kind is ChunkKind.GENERATION
    assert first.rows == 1
    assert json.loads(first.line)["request_id"] == "r1"
    assert json.loads(first.manifest)["row"] == 2
    # A retried intake meets the recorded ones and keeps their state.
    assert store.claim_for_submission(first, limit=3, now=T0) is Claim.CLAIMED
    store.put_generation_chunks(rows("job-g", 250))
    again = store.get_chunk("job-g", 1)
    assert again is not None
    assert again.status is ChunkStatus.SUBMITTING
    assert len(store.job_chunks("job-g")) == 250


def test_generations_have_their_own_slots_and_index_partition(moto_stack):
    store = store_of(moto_stack)
    running(store, "job-g", 5)
    store.put_generation_chunks(rows("job-g", 5))
    store.put_chunk(chunk("job-b", 1))
    generations = store.open_chunks(ChunkStatus.QUEUED, kind=ChunkKind.GENERATION)
    assert [c.number for c in generations] == [1, 2, 3, 4, 5]
    assert [c.job_id for c in store.open_chunks(ChunkStatus.QUEUED)] == ["job-b"]
    claims = [store.claim_for_submission(c, limit=2, now=T0) for c in generations]
    assert claims == [Claim.CLAIMED, Claim.CLAIMED] + [Claim.NO_CAPACITY] * 3
    # The batch slots are untouched by full generation slots.
    batch = store.get_chunk("job-b", 1)
    assert batch is not None
    assert store.claim_for_submission(batch, limit=1, now=T0) is Claim.CLAIMED
    assert store.open_generation_holders() == {"job-g#1", "job-g#2"}
    assert store.open_batch_holders() == {"job-b#1"}
    submitting = store.open_chunks(ChunkStatus.SUBMITTING, kind=ChunkKind.GENERATION)
    assert [c.number for c in submitting] == [1, 2]


def test_closing_a_generation_frees_its_slot_and_counts_it_on_the_job(moto_stack):
    store = store_of(moto_stack)
    running(store, "job-g", 2)
    store.put_generation_chunks(rows("job-g", 2))
    for n in (1, 2):
        c = store.get_chunk("job-g", n)
        assert c is not None
        store.claim_for_submission(c, limit=3, now=T0)
        store.mark_submitted(c, f"gen-{n}", now=T0)
        assert store.close_chunk(c, ChunkStatus.COMPLETED, completed=1, failed=0, now=T0)
        assert not store.close_chunk(c, ChunkStatus.COMPLETED, completed=1, failed=0, now=T0)
        stored = store.get_job("job-g")
        assert stored is not None
        assert stored.chunks_closed == n
    assert store.open_generation_holders() == set()
    assert store.open_chunks(ChunkStatus.SUBMITTED, kind=ChunkKind.GENERATION) == []


def test_a_replaced_batch_chunk_ends_once_and_the_job_counts_its_rows(moto_stack):
    store = store_of(moto_stack)
    running(store, "job-r", 1)
    batch = chunk("job-r", 1)
    store.put_chunk(batch)
    assert store.claim_for_submission(batch, limit=1, now=T0) is Claim.CLAIMED
    generations = rows("job-r", 20, start=10_001)
    replace = {"now": T0, "message": "20 rows as single generations"}
    assert store.replace_with_generations(batch, generations, "no batches", **replace)
    assert not store.replace_with_generations(batch, generations, "no batches", **replace)
    stored = store.get_job("job-r")
    assert stored is not None
    assert (stored.chunk_count, stored.chunks_closed, stored.route) == (21, 1, "generate")
    assert stored.route_note == "no batches"
    assert stored.message == "20 rows as single generations"
    replaced = store.get_chunk("job-r", 1)
    assert replaced is not None
    assert replaced.status is ChunkStatus.REPLACED
    assert replaced.results_written
    assert replaced.copies_done
    assert store.open_batch_holders() == set()
    queued = store.open_chunks(ChunkStatus.QUEUED, kind=ChunkKind.GENERATION)
    assert len(queued) == 20


def test_a_batch_refusal_is_remembered_for_a_day(moto_stack):
    store = store_of(moto_stack)
    assert store.batch_refusal(now=T0) is None
    store.record_batch_refusal("plan has no batch access", now=T0)
    assert store.batch_refusal(now=T0 + timedelta(hours=23)) == "plan has no batch access"
    assert store.batch_refusal(now=T0 + timedelta(hours=25)) is None


def test_turns_of_the_pace_are_an_interval_apart(moto_stack):
    store = store_of(moto_stack)
    assert store.take_generate_turn(now=T0, interval=2.0) == 0.0
    assert store.take_generate_turn(now=T0 + timedelta(seconds=0.5), interval=2.0) == 1.5
    assert store.take_generate_turn(now=T0 + timedelta(seconds=2), interval=2.0) == 0.0


def test_concurrent_callers_never_take_the_same_turn(moto_stack, moto_world):
    """Eight threads ask at one instant: exactly one turn is taken, the others wait."""
    store = store_of(moto_stack)
    granted: list[float] = []
    start = threading.Barrier(8)

    def ask() -> None:
        start.wait()
        granted.append(store.take_generate_turn(now=T0, interval=1.0))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(granted)[0] == 0.0
    assert sum(1 for wait in granted if wait == 0.0) == 1
    assert all(wait > 0 for wait in sorted(granted)[1:])


def test_rows_with_long_lines_are_recorded_in_transactions_under_4_mb(moto_stack):
    from syncdrop.adapters.dynamo_chunks import TRANSACTION_BYTES, _transaction_groups

    store = store_of(moto_stack)
    running(store, "job-l", 25)
    long_script = "x" * 200_000  # a TTS script near the longest line a batch could take
    chunks = [
        generation_chunk(
            "job-l", n, json.dumps({"request_id": f"r{n}", "s": long_script}), "{}", T0
        )
        for n in range(1, 26)
    ]
    groups = _transaction_groups(chunks)
    assert len(groups) > 1
    assert all(sum(len(c.line) for c in group) <= TRANSACTION_BYTES for group in groups)
    assert [c.number for group in groups for c in group] == list(range(1, 26))
    store.put_generation_chunks(chunks)
    assert len(store.job_chunks("job-l")) == 25
