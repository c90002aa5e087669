"""The progress block of `syncdrop demo` and `syncdrop status --watch`: its lines for given
readings of a job, redrawn in place on a terminal, printed only when they moved elsewhere."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

from syncdrop_local.job_progress import ChunkProgress, CopyCount, JobProgress
from syncdrop_local.progress_display import LiveProgress, bar, progress_lines

JOB = "job-62c754d4a03e3db72bf8ac7b"
MESSAGE = "1,188 rows in 3 batches; 12 rows rejected"


def chunk(number: int, status: str, **counts: Any) -> ChunkProgress:
    label = f"chunk {number:>3}"
    return ChunkProgress(label=label, number=number, rows=396, status=status, **counts)


def job(
    *chunks: ChunkProgress, status: str = "RUNNING", notified: bool = False, valid: int = 1188
) -> JobProgress:
    return JobProgress(
        job_id=JOB,
        status=status,
        message=MESSAGE,
        rows=1200,
        valid=valid,
        rejected=12,
        route="batch",
        notified=notified,
        chunks=chunks,
    )


QUEUED = chunk(3, "QUEUED")
AT_SYNC = chunk(2, "SUBMITTED", sync_status="PROCESSING", at_sync=396)
COPYING = chunk(1, "COMPLETED", at_sync=396, done=390, failed=6, copies=CopyCount(390, 100, 0))
COPIED = replace(COPYING, copies=CopyCount(390, 390, 2))


def test_each_chunk_has_a_bar_of_its_rows_and_the_job_its_totals() -> None:
    lines = [line.text for line in progress_lines(job(COPYING, AT_SYNC, QUEUED))]

    assert lines == [
        f"job {JOB}  RUNNING  {MESSAGE}",
        "  chunk   1  [#####===============]    396 rows  COMPLETED   done 390  failed 6"
        "  videos copied 100 of 390",
        "  chunk   2  [....................]    396 rows  SUBMITTED   Sync PROCESSING",
        "  chunk   3  [....................]    396 rows  QUEUED",
        "  total      [##=====.............]  1,188 rows: 792 at Sync, 390 done, 6 failed; "
        "videos copied 100 of 390",
    ]


def test_the_job_line_says_when_only_copies_are_left() -> None:
    ended = replace(COPYING, copies=CopyCount(390, 389, 0))
    first = progress_lines(job(ended, valid=396))[0].text
    assert first == f"job {JOB}  RUNNING (copying videos)  {MESSAGE}"
    # Not while rows are still at Sync (test above), nor once the last copy is over.
    over = progress_lines(job(replace(ended, copies=CopyCount(390, 390, 0)), valid=396))
    assert over[0].text == f"job {JOB}  RUNNING  {MESSAGE}"
    done = progress_lines(job(COPIED, status="COMPLETED"))[0].text
    assert done == f"job {JOB}  COMPLETED  {MESSAGE}"


def test_the_bar_shows_copied_waiting_failed_and_open_rows() -> None:
    part = ChunkProgress("chunk   1", rows=20, status="COMPLETED", done=10, failed=5)
    assert bar(part) == "##########xxxxx....."
    copying = replace(part, copies=CopyCount(10, 4, 0))
    assert bar(copying) == "####======xxxxx....."
    assert bar(replace(part, rows=0, done=0, failed=0)) == "." * 20


def test_copy_failures_are_counted_apart() -> None:
    text = progress_lines(job(COPIED))[1].text
    assert text.endswith("videos copied 390 of 390 (2 could not be)")


def test_off_a_terminal_only_lines_that_moved_on_are_printed() -> None:
    out = io.StringIO()
    display = LiveProgress(out, tty=False)

    display.update(job(chunk(1, "QUEUED"), chunk(2, "QUEUED")))
    display.update(job(chunk(1, "QUEUED"), chunk(2, "QUEUED")))  # nothing moved
    display.update(job(chunk(1, "SUBMITTED", at_sync=396), chunk(2, "QUEUED")))
    copying = chunk(1, "COMPLETED", at_sync=396, done=396, copies=CopyCount(396, 10, 0))
    display.update(job(copying, chunk(2, "QUEUED")))
    # 10 → 90 copies: still the first quarter; then the second quarter.
    display.update(job(replace(copying, copies=CopyCount(396, 90, 0)), chunk(2, "QUEUED")))
    display.update(job(replace(copying, copies=CopyCount(396, 200, 0)), chunk(2, "QUEUED")))

    printed = out.getvalue().splitlines()
    assert printed == [
        f"job {JOB}  RUNNING  {MESSAGE}",
        "  chunk   1  [....................]    396 rows  QUEUED",
        "  chunk   2  [....................]    396 rows  QUEUED",
        "  chunk   1  [....................]    396 rows  SUBMITTED",
        "  chunk   1  [#===================]    396 rows  COMPLETED   done 396  failed 0"
        "  videos copied 10 of 396",
        "  chunk   1  [##########==========]    396 rows  COMPLETED   done 396  failed 0"
        "  videos copied 200 of 396",
    ]


def test_off_a_terminal_the_end_prints_what_changed_and_the_totals_once() -> None:
    out = io.StringIO()
    display = LiveProgress(out, tty=False)
    display.update(job(COPYING, AT_SYNC))
    out.truncate(0)
    out.seek(0)

    ended = replace(AT_SYNC, status="COMPLETED", done=396, copies=CopyCount(396, 396, 0))
    display.finish(job(COPIED, ended, status="COMPLETED", notified=True))

    assert out.getvalue().splitlines() == [
        f"job {JOB}  COMPLETED  {MESSAGE}",
        "  chunk   1  [####################]    396 rows  COMPLETED   done 390  failed 6"
        "  videos copied 390 of 390 (2 could not be)",
        "  chunk   2  [####################]    396 rows  COMPLETED   done 396  failed 0"
        "  videos copied 396 of 396",
        "  total      [#############.......]  1,188 rows: 792 at Sync, 786 done, 6 failed; "
        "videos copied 786 of 786 (2 could not be)",
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_on_a_terminal_the_block_is_redrawn_in_place_at_most_four_times_a_second() -> None:
    out, clock = io.StringIO(), Clock()
    display = LiveProgress(out, tty=True, clock=clock, columns=lambda: 200)

    display.update(job(AT_SYNC))
    first = out.getvalue()
    assert first == (
        f"\x1b[2Kjob {JOB}  RUNNING  {MESSAGE}\n"
        "\x1b[2K  chunk   2  [....................]    396 rows  SUBMITTED   Sync PROCESSING\n"
    )

    clock.now += 0.1  # too soon: kept for later
    display.update(job(COPYING))
    assert out.getvalue() == first

    clock.now += 0.2
    display.update(job(COPYING, AT_SYNC))
    redraw = out.getvalue()[len(first) :]
    assert redraw.startswith("\x1b[2F\x1b[2K")  # back to the block's first line
    assert redraw.count("\n") == 4  # the job, two chunks, the totals

    clock.now += 0.01
    display.update(job(AT_SYNC))  # too soon, and shorter
    display.finish()  # the held reading, drawn now; the old block's rest cleared
    last = out.getvalue()[len(first) + len(redraw) :]
    assert last.startswith("\x1b[4F")
    assert last.endswith("Sync PROCESSING\n\x1b[J")


def test_on_a_narrow_terminal_lines_are_cut_rather_than_wrapped() -> None:
    out = io.StringIO()
    LiveProgress(out, tty=True, columns=lambda: 40).update(job(COPYING))
    assert all(len(line) <= len("\x1b[2K") + 39 for line in out.getvalue().splitlines())
