"""CopyOutputs: every finished video copied into the bucket once, before the one email."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest

from syncdrop import copy_tasks, crash_points
from syncdrop.crash_points import SimulatedCrash
from syncdrop.domain.completion import handle_results_message
from syncdrop.domain.copy_outputs import CopyTask, SliceOutcome, copy_slice
from syncdrop.domain.fan_out import fan_out_chunk
from syncdrop.domain.reporting import FinishOutcome, finish_job
from syncdrop.errors import TransientError
from syncdrop.messages import BadMessage, ResultsMessage
from syncdrop.ports import SliceProgress
from syncdrop.sync_models import BatchStatus
from tests.fakes.stores import FakeCopyLedger, FakeOutputsQueue
from tests.unit.test_completion import JOB, World, broken, done

MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64
ROWS = ("0000000002", "0000000003", "0000000004")  # c1r1, c1r2 (copied), c1r3 (failed at Sync)


def copying_world(*lines: dict) -> World:
    """A job of one chunk back from Sync with ``lines`` (c1r1, c1r2 done and c1r3 failed by
    default), its videos served by Sync's links."""
    lines = lines or (done("c1r1"), done("c1r2"), broken("c1r3"))
    world = World(rows=len(lines))
    outputs = FakeOutputsQueue()
    ledger = FakeCopyLedger(world.jobs, world.results)
    world.services = type(world.services)(
        **{
            **{f: getattr(world.services, f) for f in world.services.__dataclass_fields__},
            "outputs_queue": outputs,
            "copies": ledger,
        }
    )
    world.outputs = outputs  # type: ignore[attr-defined]
    world.submit(1, "batch_1")
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, list(lines))
    for line in lines:
        if line["response"]:
            world.lines.media[line["response"]["outputUrl"]] = MP4
    return world


def tasks(world: World) -> list[CopyTask]:
    return list(world.outputs.tasks)  # type: ignore[attr-defined]


def run_copies(world: World, *, last_attempt: bool = False) -> list[SliceOutcome]:
    """Every task queued, and each one a finished slice queues, in queue order."""
    queued = world.outputs.tasks  # type: ignore[attr-defined]
    done: list[SliceOutcome] = []
    while len(done) < len(queued):
        done.append(copy_slice(world.services, queued[len(done)], last_attempt=last_attempt))
    return done


@pytest.fixture
def one_row_slices(monkeypatch):
    """Slices of one row each, so a three-row chunk has three."""
    monkeypatch.setattr(copy_tasks, "SLICE_ROWS", 1)


def test_fan_out_queues_the_chunks_rows_as_slices_and_holds_the_report():
    world = copying_world()
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    # Every row of the chunk, in order: a repair cuts the same slices.
    assert tasks(world) == [CopyTask(JOB, 1, ROWS, "outputs/c/", slice=0, slices=1)]
    chunk = world.jobs.chunks[(JOB, 1)]
    assert (chunk.copies_done, chunk.copies_enqueued) == (False, True)
    assert world.notifier.published == []  # the email waits for the copies


def chain(task: CopyTask) -> list[CopyTask]:
    """The task and every task that follows it in its chain."""
    tasks = [task]
    while (following := tasks[-1].next_in_chain()) is not None:
        tasks.append(following)
    return tasks


def test_slices_cut_every_row_in_order_into_chains():
    keys = [f"{n:010d}" for n in range(1, 131)]
    heads = copy_tasks.slice_tasks("j", 4, keys, prefix="outputs/x/", size=25, chains=2)
    assert [(t.slice, t.slices, t.stride) for t in heads] == [(0, 6, 2), (1, 6, 2)]
    everything = sorted((t for head in heads for t in chain(head)), key=lambda t: t.slice or 0)
    assert [t.slice for t in everything] == [0, 1, 2, 3, 4, 5]
    assert [len(t.row_keys) for t in everything] == [25, 25, 25, 25, 25, 5]
    assert [k for t in everything for k in t.row_keys] == keys
    assert [t.slice for t in chain(heads[0])] == [0, 2, 4]
    assert CopyTask.from_json(heads[1].to_json()) == heads[1]
    # A chunk of fewer slices than chains: one chain a slice.
    few = copy_tasks.slice_tasks("j", 4, keys[:30], prefix=None, size=25, chains=3)
    assert [(t.slice, t.then, t.stride) for t in few] == [(0, (), 2), (1, (), 2)]


def test_copies_land_in_outputs_and_the_report_points_at_them():
    world = copying_world()
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    assert run_copies(world) == [SliceOutcome(copied=2, already_done=1)]
    assert world.objects.objects["outputs/c/c1r1.mp4"] == MP4
    assert world.queue.sent[-1] == ResultsMessage.for_job(JOB)  # the last slice wakes the report
    handle_results_message(
        world.services, world.queue.sent[-1], batch_concurrency=2, webhook_base=""
    )
    (email,) = world.notifier.published
    assert "s3://bkt/outputs/c/" in email.body
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert "s3://bkt/outputs/c/c1r1.mp4" in csv_text
    assert "https://cdn/c1r1.mp4" not in csv_text


def test_a_redelivered_copy_task_counts_once():
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    run_copies(world)
    assert run_copies(world) == [SliceOutcome(already_done=3)]
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent.count(ResultsMessage.for_job(JOB)) == 1


def test_a_failing_copy_is_retried_then_recorded_so_the_job_still_finishes():
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    world.lines.media_errors.append(TransientError("Sync's link answered 503"))
    with pytest.raises(TransientError):
        run_copies(world)  # the queue will deliver it again
    # The other video of the slice was copied and recorded meanwhile; the chunk waits.
    assert world.results.items[(JOB, "0000000003")]["copy_status"] == "COPIED"
    assert world.jobs.chunks[(JOB, 1)].copies_done is False
    world.lines.media_errors.append(TransientError("Sync's link answered 503"))
    assert run_copies(world, last_attempt=True) == [SliceOutcome(gave_up=1, already_done=2)]
    row = world.results.items[(JOB, "0000000002")]
    assert row["copy_status"] == "COPY_FAILED"
    assert "503" in str(row["copy_error"])
    assert world.jobs.chunks[(JOB, 1)].copies_done is True


def test_a_crash_between_closing_the_chunk_and_queueing_its_copies_is_repaired():
    world = copying_world()
    world.outputs.send_copies = lambda *_a, **_k: (_ for _ in ()).throw(TransientError("SQS down"))  # type: ignore[attr-defined, method-assign]
    with pytest.raises(TransientError):
        fan_out_chunk(world.services, JOB, 1)
    assert world.jobs.chunks[(JOB, 1)].copies_enqueued is False
    del world.outputs.send_copies  # type: ignore[attr-defined]
    fan_out_chunk(world.services, JOB, 1)  # the redelivered message
    assert world.jobs.chunks[(JOB, 1)].copies_enqueued is True
    # The same slices as the first fan-out would have cut: rows without a video do nothing.
    assert tasks(world) == [CopyTask(JOB, 1, ROWS, "outputs/c/", slice=0, slices=1)]
    assert run_copies(world) == [SliceOutcome(copied=2, already_done=1)]
    assert world.jobs.chunks[(JOB, 1)].copies_done is True


def mixed_slice_world() -> tuple[World, CopyTask]:
    """One slice of six rows: c1r1 and c1r6 to copy, c1r2 whose link refuses every copy, c1r3
    given up on and c1r5 copied by an earlier delivery, c1r4 failed at Sync (no video)."""
    world = copying_world(
        done("c1r1"), done("c1r2"), done("c1r3"), broken("c1r4"), done("c1r5"), done("c1r6")
    )
    fan_out_chunk(world.services, JOB, 1)
    (task,) = tasks(world)
    ledger = world.services.copies
    assert ledger is not None
    assert ledger.record_copy(JOB, 1, "0000000004", s3_uri=None, error="link refused")
    assert ledger.record_copy(
        JOB, 1, "0000000006", s3_uri="s3://bkt/outputs/c/c1r5.mp4", error=None
    )
    real = world.lines.file_chunks

    @contextmanager
    def refusing(url: str, *, chunk_size: int = 1 << 20) -> Iterator[Iterator[bytes]]:
        if url == "https://cdn/c1r2.mp4":
            raise TransientError("Sync's link answered 403")
        with real(url, chunk_size=chunk_size) as chunks:
            yield chunks

    world.lines.file_chunks = refusing  # type: ignore[method-assign]
    return world, task


def recording_closes(world: World) -> list[tuple[int, dict[str, int]]]:
    """Every close_slice call's slice number and counts, passed on to the fake ledger."""
    ledger = world.services.copies
    real = ledger.close_slice  # type: ignore[union-attr]
    closes: list[tuple[int, dict[str, int]]] = []

    def close_slice(job_id: str, chunk: int, number: int, **counts: int) -> SliceProgress:
        closes.append((number, counts))
        return real(job_id, chunk, number, **counts)

    ledger.close_slice = close_slice  # type: ignore[method-assign, union-attr]
    return closes


def test_a_slice_closes_with_its_videos_and_those_given_up_on():
    world, task = mixed_slice_world()
    closes = recording_closes(world)
    outcome = copy_slice(world.services, task, last_attempt=True)
    assert outcome == SliceOutcome(copied=2, gave_up=1, already_done=3)
    assert world.results.items[(JOB, "0000000003")]["copy_status"] == "COPY_FAILED"
    # Five rows have a video (c1r4 has none); c1r2 now and c1r3 before were given up on.
    assert closes == [(0, {"videos": 5, "failed": 2})]
    assert world.services.copies.slice_counts == {(JOB, 1): [5, 2]}  # type: ignore[union-attr]
    assert world.jobs.chunks[(JOB, 1)].copies_done is True


def test_a_redelivered_slice_closes_with_the_same_counts_and_adds_them_once():
    world, task = mixed_slice_world()
    closes = recording_closes(world)
    crash_points.arm(crash_points.COPY_AFTER_RECORDED)
    try:
        with pytest.raises(SimulatedCrash):
            copy_slice(world.services, task, last_attempt=True)
    finally:
        crash_points.disarm_all()
    assert closes == []  # every row recorded, the slice not closed
    # The redelivery copies nothing, yet closes with the counts its rows now hold.
    assert copy_slice(world.services, task, last_attempt=False) == SliceOutcome(already_done=6)
    assert copy_slice(world.services, task, last_attempt=False) == SliceOutcome(already_done=6)
    assert closes == [(0, {"videos": 5, "failed": 2})] * 2
    assert world.services.copies.slice_counts == {(JOB, 1): [5, 2]}  # type: ignore[union-attr]
    assert world.queue.sent == [ResultsMessage.for_job(JOB)]


@pytest.mark.parametrize(
    "body",
    [
        '{"job_id": "x"}',
        '{"job_id": "x", "chunk": 1, "row_keys": [], "slice": 0, "slices": 1}',
        '{"job_id": "x", "chunk": 1, "row_keys": ["0000000002"], "slice": 3, "slices": 3}',
        '{"job_id": "x", "chunk": 1, "row_keys": ["0000000002"], "slice": 0}',
        "not json",
    ],
    ids=["no-rows", "empty-slice", "slice-out-of-range", "no-count", "not-json"],
)
def test_a_copy_task_that_is_not_one_goes_to_the_dlq(body):
    with pytest.raises(BadMessage):
        CopyTask.from_json(body)


def test_the_chunk_is_done_only_when_its_last_slice_is_closed(one_row_slices):
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    first, second, third = tasks(world)
    assert [t.row_keys for t in (first, second, third)] == [(k,) for k in ROWS]
    assert copy_slice(world.services, first, last_attempt=False) == SliceOutcome(copied=1)
    assert copy_slice(world.services, third, last_attempt=False) == SliceOutcome(already_done=1)
    assert world.jobs.chunks[(JOB, 1)].copies_done is False
    assert world.queue.sent == []
    assert copy_slice(world.services, second, last_attempt=False) == SliceOutcome(copied=1)
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent == [ResultsMessage.for_job(JOB)]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("peer closed connection"),
        RuntimeError("a bug"),
    ],
    ids=["refused", "reset", "unexpected"],
)
def test_any_failure_on_the_last_attempt_is_recorded_so_the_job_still_finishes(error):
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    world.lines.media_errors.append(error)
    with pytest.raises(type(error)):
        run_copies(world)  # not the last attempt: the queue delivers it again
    world.lines.media_errors.append(error)
    assert run_copies(world, last_attempt=True) == [SliceOutcome(gave_up=1, already_done=2)]
    row = world.results.items[(JOB, "0000000002")]
    assert (row["copy_status"], row["output_url"]) == ("COPY_FAILED", "https://cdn/c1r1.mp4")
    assert "could not be copied" in str(row["copy_error"])
    handle_results_message(
        world.services, world.queue.sent[-1], batch_concurrency=2, webhook_base=""
    )
    assert len(world.notifier.published) == 1
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert "COPY_FAILED" in csv_text
    assert "https://cdn/c1r1.mp4" in csv_text


def test_a_crash_after_recording_the_last_slice_is_repaired_by_its_redelivery(one_row_slices):
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    first, second, third = tasks(world)
    copy_slice(world.services, first, last_attempt=False)
    copy_slice(world.services, third, last_attempt=False)
    crash_points.arm(crash_points.COPY_AFTER_RECORDED)
    try:
        with pytest.raises(SimulatedCrash):
            copy_slice(world.services, second, last_attempt=False)
    finally:
        crash_points.disarm_all()
    assert world.results.items[(JOB, "0000000003")]["copy_status"] == "COPIED"
    assert world.jobs.chunks[(JOB, 1)].copies_done is False
    # The redelivery copies nothing again, closes the slice and so the chunk.
    assert copy_slice(world.services, second, last_attempt=False) == SliceOutcome(already_done=1)
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent == [ResultsMessage.for_job(JOB)]


def test_a_copy_task_lost_to_the_dlq_is_reported_as_not_copied_at_the_deadline(one_row_slices):
    world = copying_world()
    world.jobs.jobs[JOB].deadline = world.now + timedelta(hours=48)
    fan_out_chunk(world.services, JOB, 1)
    first, _lost, third = tasks(world)
    copy_slice(world.services, first, last_attempt=False)
    copy_slice(world.services, third, last_attempt=False)
    assert finish_job(world.services, JOB) is FinishOutcome.NOT_YET
    world.now += timedelta(hours=48, minutes=1)
    assert world.jobs.jobs_past_deadline(now=world.now) == [JOB]
    assert finish_job(world.services, JOB) is FinishOutcome.SENT
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert "NOT_COPIED" in csv_text
    assert "https://cdn/c1r2.mp4" in csv_text
    assert "s3://bkt/outputs/c/c1r1.mp4" in csv_text
    assert len(world.notifier.published) == 1


def test_a_one_row_task_of_the_earlier_format_still_copies_and_closes_its_chunk():
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    world.outputs.tasks.clear()  # type: ignore[attr-defined]
    olds = [
        CopyTask.from_json(f'{{"job_id": "{JOB}", "chunk": 1, "row_key": "{k}"}}') for k in ROWS
    ]
    assert [t.slices for t in olds] == [None, None, None]
    outcomes = [copy_slice(world.services, t, last_attempt=False) for t in olds]
    assert outcomes == [
        SliceOutcome(copied=1),
        SliceOutcome(copied=1),
        SliceOutcome(already_done=1),
    ]
    assert world.objects.objects["outputs/c/c1r2.mp4"] == MP4  # the prefix read from the job
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent.count(ResultsMessage.for_job(JOB)) >= 1


def test_the_videos_of_a_slice_are_copied_side_by_side():
    """Two downloads must be open at once for either to finish: one at a time would time out."""
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    both_open = threading.Barrier(2, timeout=10)
    real = world.lines.file_chunks

    @contextmanager
    def meeting(url: str, *, chunk_size: int = 1 << 20) -> Iterator[Iterator[bytes]]:
        both_open.wait()  # BrokenBarrierError if the other never arrives
        with real(url, chunk_size=chunk_size) as chunks:
            yield chunks

    world.lines.file_chunks = meeting  # type: ignore[method-assign]
    assert run_copies(world) == [SliceOutcome(copied=2, already_done=1)]
    assert world.jobs.chunks[(JOB, 1)].copies_done is True


def test_a_finished_slice_queues_the_next_of_its_chain_and_the_chunk_waits_for_it(
    one_row_slices, monkeypatch
):
    monkeypatch.setattr(copy_tasks, "COPY_CHAINS", 2)
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    first, second = tasks(world)  # slices 0 and 1 queued; slice 2 follows slice 0
    assert [(t.slice, t.then) for t in (first, second)] == [(0, ((ROWS[2],),)), (1, ())]
    assert copy_slice(world.services, second, last_attempt=False) == SliceOutcome(copied=1)
    assert copy_slice(world.services, first, last_attempt=False) == SliceOutcome(copied=1)
    third = tasks(world)[-1]
    assert (third.slice, third.row_keys, third.then) == (2, (ROWS[2],), ())
    assert world.jobs.chunks[(JOB, 1)].copies_done is False  # slice 2 is still to come
    assert copy_slice(world.services, third, last_attempt=False) == SliceOutcome(already_done=1)
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent == [ResultsMessage.for_job(JOB)]


def test_a_crash_before_closing_a_slice_queues_its_follower_again_harmlessly(
    one_row_slices, monkeypatch
):
    monkeypatch.setattr(copy_tasks, "COPY_CHAINS", 2)
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    first, _second = tasks(world)
    ledger = world.services.copies
    real = ledger.close_slice  # type: ignore[union-attr]

    def dies(*_args: object, **_counts: int) -> None:
        raise SimulatedCrash("copy worker killed")

    ledger.close_slice = dies  # type: ignore[method-assign, union-attr]
    with pytest.raises(SimulatedCrash):
        copy_slice(world.services, first, last_attempt=False)
    ledger.close_slice = real  # type: ignore[method-assign, union-attr]
    copy_slice(world.services, first, last_attempt=False)  # the redelivery
    followers = [t for t in tasks(world) if t.slice == 2]
    assert len(followers) == 2  # queued by both deliveries; the second run skips its row
    # Slice 0 once more (queueing slice 2 a third time), slice 1, and slice 2 three times
    # (its row failed at Sync: nothing to copy).
    assert run_copies(world) == [
        SliceOutcome(already_done=1),
        SliceOutcome(copied=1),
        SliceOutcome(already_done=1),
        SliceOutcome(already_done=1),
        SliceOutcome(already_done=1),
    ]
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent == [ResultsMessage.for_job(JOB)]
