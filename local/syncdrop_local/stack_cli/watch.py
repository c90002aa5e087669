"""`syncdrop status JOB --watch`: the job's progress redrawn until it ends, then an exit code
that says how it ended (a script can wait on it)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from enum import IntEnum
from typing import TextIO

from syncdrop_local.job_progress import JobProgress, ProgressReader
from syncdrop_local.progress_display import LiveProgress
from syncdrop_local.stack_cli.errors import StackCliError
from syncdrop_local.stack_cli.stack import Aws, Stack

# Seconds between readings: a GetItem and a Query each time, copies counted once a second.
WATCH_EVERY = 1.0
# How long a job id not recorded yet is waited for (its S3 event still queued).
APPEAR_WITHIN = 120.0


class WatchEnd(IntEnum):
    """How a watched job ended, as the exit code of `syncdrop status --watch`."""

    COMPLETED = 0  # every row became a video (a dry run: every row valid)
    # 2 is every stack command's "cannot do it" (one line on stderr).
    COMPLETED_WITH_FAILURES = 3  # some rows failed at Sync, timed out or were rejected
    FAILED = 4  # the file could not be used
    CANCELLED = 5
    OTHER = 6  # its email went out in a status this version of syncdrop does not know
    INTERRUPTED = 130  # Ctrl-C: the job goes on


def how_it_ended(progress: JobProgress, rows_not_done: Callable[[], int]) -> WatchEnd:
    if progress.status == "VALIDATED":  # a dry run: its verdict is its whole outcome
        clean = progress.rejected == 0
    elif progress.status == "COMPLETED":
        clean = progress.rejected == 0 and rows_not_done() == 0
    else:
        return _ENDS.get(progress.status, WatchEnd.OTHER)
    return WatchEnd.COMPLETED if clean else WatchEnd.COMPLETED_WITH_FAILURES


_ENDS = {"FAILED": WatchEnd.FAILED, "CANCELLED": WatchEnd.CANCELLED}


def watch_job(
    reader: ProgressReader,
    job_id: str,
    display: LiveProgress,
    *,
    every: float = WATCH_EVERY,
    appear_within: float = APPEAR_WITHIN,
    sleep: Callable[[float], None] = time.sleep,
) -> WatchEnd:
    """Reads the job every ``every`` seconds until it has ended. A job id `syncdrop upload`
    just printed may not be recorded yet: it is waited for ``appear_within`` seconds."""
    progress: JobProgress | None = None
    waited = 0.0
    try:
        while True:
            progress = reader.read(job_id)
            if progress is None:
                if waited == 0:
                    display.note(
                        f"job {job_id} is not recorded yet: waiting for the stack to read its file"
                    )
                if waited >= appear_within:
                    raise StackCliError(
                        f"no job {job_id} after {appear_within:.0f} s: is the id right, and "
                        "was its file uploaded under incoming/?"
                    )
                waited += every
            elif progress.ended:
                break
            else:
                display.update(progress)
            sleep(every)
    except KeyboardInterrupt:
        display.finish(progress)
        return WatchEnd.INTERRUPTED
    display.finish(progress)
    return how_it_ended(progress, lambda: reader.rows_not_done(job_id))


def watch(aws: Aws, stack: Stack, job_id: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    reader = ProgressReader(aws.client("dynamodb"), stack.job_table, stack.results_table)
    ended = watch_job(reader, job_id, LiveProgress(out))
    if ended is WatchEnd.INTERRUPTED:
        print(f"stopped watching; job {job_id} goes on.", file=sys.stderr)
    else:
        print(_ending_line(ended), file=out)
    return int(ended)


def _ending_line(ended: WatchEnd) -> str:
    return {
        WatchEnd.COMPLETED: "ended: completed, every row done",
        WatchEnd.COMPLETED_WITH_FAILURES: "ended: completed, some rows did not become videos",
        WatchEnd.FAILED: "ended: the file could not be used",
        WatchEnd.CANCELLED: "ended: cancelled",
        WatchEnd.OTHER: "ended in a status this syncdrop does not know",
    }[ended]
