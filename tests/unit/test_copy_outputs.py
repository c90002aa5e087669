"""CopyOutputs: every finished video copied into the bucket once, before the one email."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from syncdrop.crash_points import SimulatedCrash
from syncdrop.domain.completion import handle_results_message
from syncdrop.domain.copy_outputs import CopyOutcome, CopyTask, copy_output
from syncdrop.domain.fan_out import fan_out_chunk
from syncdrop.domain.reporting import FinishOutcome, finish_job
from syncdrop.errors import TransientError
from syncdrop.messages import BadMessage, ResultsMessage
from syncdrop.sync_models import BatchStatus
from tests.fakes.stores import FakeCopyLedger, FakeOutputsQueue
from tests.unit.test_completion import JOB, World, broken, done

MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64


def copying_world() -> World:
    world = World(rows=3)
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
    world.finish_at_sync(
        "batch_1", BatchStatus.COMPLETED, [done("c1r1"), done("c1r2"), broken("c1r3")]
    )
    for rid in ("c1r1", "c1r2"):
        world.lines.media[f"https://cdn/{rid}.mp4"] = MP4
    return world


def run_copies(world: World, *, last_attempt: bool = False) -> list[CopyOutcome]:
    tasks = [CopyTask(*t) for t in world.outputs.tasks]  # type: ignore[attr-defined]
    return [copy_output(world.services, t, last_attempt=last_attempt) for t in tasks]


def test_fan_out_queues_one_copy_per_finished_video_and_holds_the_report():
    world = copying_world()
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    assert world.outputs.tasks == [
        (JOB, 1, "0000000002", "outputs/c/"),
        (JOB, 1, "0000000003", "outputs/c/"),
    ]  # type: ignore[attr-defined]
    chunk = world.jobs.chunks[(JOB, 1)]
    assert (chunk.copies_done, chunk.copies_enqueued) == (False, True)
    assert (chunk.first_row_key, chunk.last_row_key) == ("0000000002", "0000000004")
    assert world.notifier.published == []  # the email waits for the copies


def test_copies_land_in_outputs_and_the_report_points_at_them():
    world = copying_world()
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    assert run_copies(world) == [CopyOutcome.COPIED, CopyOutcome.COPIED]
    assert world.objects.objects["outputs/c/c1r1.mp4"] == MP4
    assert world.queue.sent[-1] == ResultsMessage.for_job(JOB)  # the last copy wakes the report
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
    assert run_copies(world) == [CopyOutcome.ALREADY_DONE, CopyOutcome.ALREADY_DONE]
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent.count(ResultsMessage.for_job(JOB)) == 1


def test_a_failing_copy_is_retried_then_recorded_so_the_job_still_finishes():
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    world.lines.media_errors.append(TransientError("Sync's link answered 503"))
    with pytest.raises(TransientError):
        run_copies(world)  # the queue will deliver it again
    world.lines.media_errors.append(TransientError("Sync's link answered 503"))
    assert run_copies(world, last_attempt=True) == [CopyOutcome.GAVE_UP, CopyOutcome.COPIED]
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
    assert len(world.outputs.tasks) == 3  # every manifest row; rows without a video do nothing  # type: ignore[attr-defined]


def test_a_copy_task_that_is_not_one_goes_to_the_dlq():
    with pytest.raises(BadMessage):
        CopyTask.from_json('{"job_id": "x"}')


def test_the_chunk_is_done_only_when_its_last_copy_is_recorded():
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    first, second = [CopyTask(*t) for t in world.outputs.tasks]  # type: ignore[attr-defined]
    assert copy_output(world.services, first, last_attempt=False) is CopyOutcome.COPIED
    assert world.jobs.chunks[(JOB, 1)].copies_done is False
    assert world.queue.sent == []
    assert copy_output(world.services, second, last_attempt=False) is CopyOutcome.COPIED
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
    assert run_copies(world, last_attempt=True) == [CopyOutcome.GAVE_UP, CopyOutcome.COPIED]
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


def test_a_crash_after_recording_the_last_copy_is_repaired_by_its_redelivery():
    world = copying_world()
    fan_out_chunk(world.services, JOB, 1)
    ledger = world.services.copies
    real = ledger.mark_copies_done  # type: ignore[union-attr]

    def dies(job_id: str, chunk: int) -> None:
        raise SimulatedCrash("copy worker killed")

    ledger.mark_copies_done = dies  # type: ignore[method-assign, union-attr]
    first, second = [CopyTask(*t) for t in world.outputs.tasks]  # type: ignore[attr-defined]
    copy_output(world.services, first, last_attempt=False)
    with pytest.raises(SimulatedCrash):
        copy_output(world.services, second, last_attempt=False)
    assert world.jobs.chunks[(JOB, 1)].copies_done is False
    ledger.mark_copies_done = real  # type: ignore[method-assign, union-attr]
    assert copy_output(world.services, second, last_attempt=False) is CopyOutcome.ALREADY_DONE
    assert world.jobs.chunks[(JOB, 1)].copies_done is True
    assert world.queue.sent == [ResultsMessage.for_job(JOB)]


def test_a_copy_task_lost_to_the_dlq_is_reported_as_not_copied_at_the_deadline():
    world = copying_world()
    world.jobs.jobs[JOB].deadline = world.now + timedelta(hours=48)
    fan_out_chunk(world.services, JOB, 1)
    first, _lost = [CopyTask(*t) for t in world.outputs.tasks]  # type: ignore[attr-defined]
    copy_output(world.services, first, last_attempt=False)
    assert finish_job(world.services, JOB) is FinishOutcome.NOT_YET
    world.now += timedelta(hours=48, minutes=1)
    assert world.jobs.jobs_past_deadline(now=world.now) == [JOB]
    assert finish_job(world.services, JOB) is FinishOutcome.SENT
    csv_text = world.objects.objects["results/c.results.csv"].decode("utf-8-sig")
    assert "NOT_COPIED" in csv_text
    assert "https://cdn/c1r2.mp4" in csv_text
    assert "s3://bkt/outputs/c/c1r1.mp4" in csv_text
    assert len(world.notifier.published) == 1
