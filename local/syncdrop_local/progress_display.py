"""How a running job is shown to a person, for `syncdrop demo` and `syncdrop status --watch`:
one block of lines (the job, a bar per chunk, the totals), redrawn in place on a terminal and
printed a line at a time, only when it moved on, anywhere else (CI logs, pipes)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TextIO

from syncdrop_local.job_progress import ChunkProgress, JobProgress

BAR_WIDTH = 20
# At most this many redraws a second on a terminal.
REDRAWS_PER_SECOND = 4
# Off a terminal, a chunk's copies are reported at each quarter of them.
COPY_STEPS = 4


@dataclass(frozen=True)
class Line:
    """One line of the block. ``milestone`` is what must change for it to be printed again
    off a terminal; None: printed there only once, when the job ends."""

    key: str
    text: str
    milestone: Hashable | None


def bar(part: ChunkProgress, width: int = BAR_WIDTH) -> str:
    """``#`` a row done (its video copied, when videos are copied), ``=`` done with its video
    still being copied, ``x`` failed, ``.`` not back from Sync yet."""
    waiting = max(part.copies.to_copy - part.copies.over, 0)
    cells = [("#", part.done - waiting), ("=", waiting), ("x", part.failed)]
    text, counted, drawn = "", 0, 0
    for char, n in cells:
        counted += max(n, 0)
        upto = round(width * counted / part.rows) if part.rows else 0
        text += char * (min(upto, width) - drawn)
        drawn = len(text)
    return text + "." * (width - len(text))


def copies_text(part: ChunkProgress) -> str:
    copies = part.copies
    if not copies.to_copy:
        return ""
    text = f"videos copied {copies.over:,} of {copies.to_copy:,}"
    return text + (f" ({copies.failed:,} could not be)" if copies.failed else "")


def job_line(progress: JobProgress) -> str:
    status = progress.status
    if progress.copying_videos:
        status += " (copying videos)"
    return f"job {progress.job_id}  {status}  {progress.message}".rstrip()


def _chunk_text(part: ChunkProgress, label_width: int) -> str:
    text = f"  {part.label:<{label_width}}  [{bar(part)}]  {part.rows:>5,} rows"
    if part.status:
        text += f"  {part.status:<10}"
    if part.done or part.failed:
        text += f"  done {part.done:,}  failed {part.failed:,}"
        if copied := copies_text(part):
            text += f"  {copied}"
    elif part.sync_status:
        text += f"  Sync {part.sync_status}"
    return text.rstrip()


def _totals_text(progress: JobProgress, label_width: int) -> str:
    totals = progress.totals
    counts = [f"{totals.done:,} done", f"{totals.failed:,} failed"]
    if progress.route != "generate":
        counts.insert(0, f"{totals.at_sync:,} at Sync")
    text = f"  {'total':<{label_width}}  [{bar(totals)}]  {totals.rows:>5,} rows: "
    text += ", ".join(counts)
    if copied := copies_text(totals):
        text += f"; {copied}"
    return text


def progress_lines(progress: JobProgress) -> list[Line]:
    """The block for one reading of the job."""
    lines = [Line("job", job_line(progress), (progress.status, progress.message))]
    width = max([len("total"), *(len(c.label) for c in progress.chunks)])
    for part in progress.chunks:
        copies = part.copies
        step = copies.over * COPY_STEPS // copies.to_copy if copies.to_copy else 0
        milestone = (part.status, part.sync_status, part.done, part.failed, step)
        lines.append(Line(part.label, _chunk_text(part, width), milestone))
    if len(progress.chunks) > 1:
        lines.append(Line("total", _totals_text(progress, width), None))
    return lines


class LiveProgress:
    """Shows successive readings of a job on ``out``. On a terminal the block is redrawn in
    place (the cursor moved up over the last one), at most REDRAWS_PER_SECOND times a second;
    elsewhere a line is printed only when it reached a new milestone, and the rest once at
    the end."""

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
        columns: Callable[[], int] = lambda: shutil.get_terminal_size().columns,
    ) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self._clock = clock
        self._columns = columns
        self._drawn = 0  # lines of the block on screen (terminal)
        self._drawn_at: float | None = None
        self._pending: JobProgress | None = None
        self._printed: dict[str, tuple[Hashable | None, str]] = {}  # key: milestone, text

    def update(self, progress: JobProgress) -> None:
        if not self.tty:
            self._print_changes(progress_lines(progress), final=False)
            return
        now = self._clock()
        if self._drawn_at is not None and now - self._drawn_at < 1 / REDRAWS_PER_SECOND:
            self._pending = progress  # drawn by the next update after the pause, or by finish
            return
        self._redraw(progress_lines(progress))
        self._drawn_at, self._pending = now, None

    def note(self, text: str) -> None:
        """One line outside the block (printed before the block is first drawn)."""
        self.out.write(text + "\n")
        self.out.flush()

    def finish(self, progress: JobProgress | None = None) -> None:
        """The last reading, whole: drawn on a terminal; elsewhere every line not yet printed
        as it now reads."""
        progress = progress or self._pending
        if progress is None:
            return
        if self.tty:
            self._redraw(progress_lines(progress))
        else:
            self._print_changes(progress_lines(progress), final=True)
        self._pending = None

    def _print_changes(self, lines: list[Line], *, final: bool) -> None:
        for line in lines:
            seen = self._printed.get(line.key)
            if line.milestone is None and not final:
                continue
            if seen is None or (seen[0] != line.milestone if not final else seen[1] != line.text):
                self.out.write(line.text + "\n")
                self._printed[line.key] = (line.milestone, line.text)
        self.out.flush()

    def _redraw(self, lines: list[Line]) -> None:
        width = max(self._columns() - 1, 20)  # a wrapped line would break the cursor's count
        parts = [f"\x1b[{self._drawn}F"] if self._drawn else []
        parts += [f"\x1b[2K{line.text[:width]}\n" for line in lines]
        if len(lines) < self._drawn:
            parts.append("\x1b[J")  # the rest of the old block
        self.out.write("".join(parts))
        self.out.flush()
        self._drawn = len(lines)
