"""`syncdrop status JOB --watch`: it follows the job until it ends, and its exit code says how."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace

import pytest

from syncdrop_local.job_progress import ChunkProgress, JobProgress
from syncdrop_local.progress_display import LiveProgress
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.watch import WatchEnd, watch_job

JOB = "job-595ad3366b769e595cd03e2c"
RUNNING = JobProgress(
    job_id=JOB,
    status="RUNNING",
    message="40 rows in 2 batches",
    rows=40,
    valid=40,
    rejected=0,
    route="batch",
    notified=False,
    chunks=(ChunkProgress("chunk   1", rows=40, status="SUBMITTED", number=1),),
)
COMPLETED = replace(RUNNING, status="COMPLETED", notified=True)


class Readings:
    """The job as successive reads find it (the last one repeats), and its rows not done."""

    def __init__(self, *readings: JobProgress | None, not_done: int = 0) -> None:
        self._readings: Iterator[JobProgress | None] = iter(readings)
        self._last: JobProgress | None = None
        self.not_done = not_done
        self.reads = 0

    def read(self, job_id: str) -> JobProgress | None:
        assert job_id == JOB
        self.reads += 1
        self._last = next(self._readings, self._last)
        return self._last

    def rows_not_done(self, job_id: str) -> int:
        return self.not_done


def watched(readings: Readings, **kwargs: object) -> tuple[WatchEnd, str]:
    out = io.StringIO()
    pauses: list[float] = []
    ended = watch_job(
        readings,  # type: ignore[arg-type]
        JOB,
        LiveProgress(out, tty=False),
        sleep=pauses.append,
        **kwargs,  # type: ignore[arg-type]
    )
    return ended, out.getvalue()


def test_a_job_that_completes_with_every_row_done_exits_0_and_shows_its_last_state() -> None:
    readings = Readings(RUNNING, RUNNING, COMPLETED)

    ended, printed = watched(readings)

    assert ended is WatchEnd.COMPLETED
    assert int(ended) == 0
    assert readings.reads == 3
    assert printed.splitlines()[0] == f"job {JOB}  RUNNING  40 rows in 2 batches"
    assert printed.splitlines()[-1] == f"job {JOB}  COMPLETED  40 rows in 2 batches"


@pytest.mark.parametrize(
    ("end", "not_done", "code"),
    [
        (replace(COMPLETED, rejected=2), 2, 3),  # rejected rows
        (COMPLETED, 5, 3),  # failed or timed out at Sync
        (replace(COMPLETED, status="FAILED"), 0, 4),
        (replace(COMPLETED, status="CANCELLED", notified=False), 0, 5),
        (replace(COMPLETED, status="ARCHIVED"), 0, 6),  # a status this version does not know
        (replace(COMPLETED, status="VALIDATED"), 0, 0),
        (replace(COMPLETED, status="VALIDATED", rejected=1), 0, 3),
    ],
)
def test_the_exit_code_says_how_the_job_ended(end: JobProgress, not_done: int, code: int) -> None:
    ended, _ = watched(Readings(RUNNING, end, not_done=not_done))
    assert int(ended) == code


def test_an_unknown_status_is_watched_on_until_its_email_is_out() -> None:
    unknown = replace(RUNNING, status="PAUSED")
    readings = Readings(unknown, unknown, replace(unknown, notified=True))

    ended, printed = watched(readings)

    assert (ended, readings.reads) == (WatchEnd.OTHER, 3)
    assert f"job {JOB}  PAUSED  40 rows in 2 batches" in printed


def test_a_job_not_recorded_yet_is_waited_for_then_refused() -> None:
    readings = Readings(None, None, COMPLETED)
    ended, printed = watched(readings, every=1.0, appear_within=5.0)
    assert ended is WatchEnd.COMPLETED
    assert printed.splitlines()[0] == (
        f"job {JOB} is not recorded yet: waiting for the stack to read its file"
    )

    with pytest.raises(StackCliError, match=f"no job {JOB} after 3 s"):
        watched(Readings(None), every=1.0, appear_within=3.0)


def test_ctrl_c_stops_watching_with_130_and_the_last_state_shown() -> None:
    out = io.StringIO()

    def interrupted(_: float) -> None:
        raise KeyboardInterrupt

    ended = watch_job(
        Readings(RUNNING),  # type: ignore[arg-type]
        JOB,
        LiveProgress(out, tty=False),
        sleep=interrupted,
    )

    assert ended is WatchEnd.INTERRUPTED
    assert int(ended) == 130
    assert "chunk   1" in out.getvalue()
