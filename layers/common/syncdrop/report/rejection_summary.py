"""The rejected rows of a refused file, grouped by reason, for the email that has no report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from syncdrop.report.wording import count, one_line, plural

# A refused file gets no results CSV, so the email is the only place its reasons are read.
REASONS_SHOWN = 5
ROW_NUMBERS_SHOWN = 5


@dataclass(frozen=True, slots=True)
class RejectionGroup:
    """One reason and the rows that have it: how many, and the first few row numbers."""

    reason: str
    rows: int
    row_numbers: tuple[int, ...]

    def line(self, reason_chars: int) -> str:
        """Like "3 rows (rows 2, 5, 9): video_url … must start with https://"."""
        shown = ", ".join(count(n) for n in self.row_numbers)
        if self.rows > len(self.row_numbers):
            shown += ", …"
        where = f"row {shown}" if self.rows == 1 else f"{plural(self.rows, 'row')} (rows {shown})"
        return f"{where}: {one_line(self.reason, reason_chars)}"


def group_rejections(
    rejections: Iterable[tuple[int, str]],
    *,
    limit: int = REASONS_SHOWN,
    row_numbers: int = ROW_NUMBERS_SHOWN,
) -> list[RejectionGroup]:
    """The ``limit`` most common reasons (ties: the one met first in the file first), each with
    its lowest ``row_numbers`` row numbers, whatever order the rows come in."""
    tally: dict[str, list[int]] = {}
    sizes: dict[str, int] = {}
    for row, reason in rejections:
        key = one_line(reason) or "No reason given"
        numbers = tally.setdefault(key, [])
        sizes[key] = sizes.get(key, 0) + 1
        numbers.append(row)
        if len(numbers) > 4 * row_numbers:  # keep memory per reason bounded
            numbers.sort()
            del numbers[row_numbers:]
    groups = [
        RejectionGroup(reason, sizes[reason], tuple(sorted(numbers)[:row_numbers]))
        for reason, numbers in tally.items()
    ]
    groups.sort(key=lambda group: (-group.rows, group.row_numbers[0]))
    return groups[: max(limit, 0)]
