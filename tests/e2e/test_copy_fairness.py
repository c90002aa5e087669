"""Copies of one file do not hold another file's email: a big file's videos are copied a few
slices at a time, so a small file dropped after it is copied and reported before it ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.csv_files import campaign_rows, to_csv

BIG_ROWS = 400  # one chunk: 8 slices of 50 in 3 chains, so 3 copy tasks queued at a time
SMALL_ROWS = 20  # one chunk, one slice


def _job_id(system: Any, key: str) -> str | None:
    return next((j["job_id"] for j in system.jobs() if j["key"] == key), None)


def _chunks(system: Any, job_id: str) -> list[dict[str, Any]]:
    return list(system.snapshot(job_id)["chunks"])


def _pump_until(system: Any, sources: list[Any], done: Callable[[], bool]) -> None:
    for _ in range(400):
        if done():
            return
        moved = sum(source.poll_once() for source in sources)
        system.emulator.advance(10_000)  # Sync finishes every batch; its webhooks go out
        if not moved:
            system.runtime.run_schedules()  # a webhook lost in between is polled for
    raise AssertionError("the stack did not get there in 400 rounds")


def _rows_written(system: Any, key: str) -> Callable[[], bool]:
    def check() -> bool:
        job_id = _job_id(system, key)
        chunks = _chunks(system, job_id) if job_id else []
        return bool(chunks) and all(c["status"] == "COMPLETED" for c in chunks)

    return check


def test_a_small_files_email_does_not_wait_for_a_big_files_copies(local_system):
    system = local_system(parameters={"CopyOutputs": "true"})
    runtime = system.runtime
    copies = [s for s in runtime.sqs_sources if s.function.spec.logical_id == "CopyOutputsFunction"]
    others = [s for s in runtime.sqs_sources if s not in copies]
    assert copies
    assert others
    # The big file first, up to its copy tasks queued (none run yet), then the small one: its
    # copy task is queued behind the big file's.
    system.drop("incoming/big.csv", to_csv(campaign_rows(BIG_ROWS)))
    _pump_until(system, others, _rows_written(system, "incoming/big.csv"))
    system.drop("incoming/small.csv", to_csv(campaign_rows(SMALL_ROWS, start=1000)))
    _pump_until(system, others, _rows_written(system, "incoming/small.csv"))
    big, small = _job_id(system, "incoming/big.csv"), _job_id(system, "incoming/small.csv")
    assert big
    assert small
    assert all(c["copying"] for c in _chunks(system, big) + _chunks(system, small))

    # Every queue from here, round by round, as time passing would move them.
    emailed: list[str] = []
    big_copying_when_small_emailed: bool | None = None
    for _ in range(200):
        if len(emailed) == 2:
            break
        runtime.pump()
        for email in runtime.collect_emails()[len(emailed) :]:
            job = email.attributes.get("job_id", "")
            emailed.append(job)
            if job == small:
                big_copying_when_small_emailed = any(c["copying"] for c in _chunks(system, big))
    assert emailed == [small, big]
    assert big_copying_when_small_emailed is True  # the big file still had videos to copy
    s3 = runtime.stack.client("s3")
    for name, rows in (("big", BIG_ROWS), ("small", SMALL_ROWS)):
        listed = s3.list_objects_v2(Bucket=system.bucket, Prefix=f"outputs/{name}/", MaxKeys=1000)
        assert listed["KeyCount"] == rows  # every video of both files copied, once
