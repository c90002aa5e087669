"""Splits a file's accepted lines, in order, into as few Sync batches as possible, evenly sized."""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from collections.abc import Sequence
from itertools import accumulate

FIVE_MB = 5 * 1024 * 1024


class PlanImpossible(ValueError):
    """No split of the lines fits Sync's batch limits; ``message`` says why, for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def plan_chunks(
    line_sizes: Sequence[int],
    *,
    min_lines: int = 20,
    max_lines: int = 500,
    max_bytes: int = FIVE_MB,
) -> list[range]:
    """Contiguous ranges of indexes into ``line_sizes`` covering each index once, in order.

    Every chunk has min_lines..max_lines lines and at most max_bytes bytes, counting one
    newline per line. The plan has the fewest chunks possible and, among those, lengths as
    even as the byte limit allows (1,200 lines -> 400, 400, 400; 501 -> 251, 250).
    """
    if min_lines < 1 or max_lines < min_lines:
        raise ValueError("need 1 <= min_lines <= max_lines")
    total = len(line_sizes)
    if total < min_lines:
        raise PlanImpossible(
            f"A Sync batch needs at least {min_lines} valid rows, and this file has {total}. "
            f"Add rows (or fix the rejected ones) until there are at least {min_lines}."
        )
    count = -(-total // max_lines)
    if count * min_lines > total:
        raise PlanImpossible(
            f"{total} rows cannot be split into batches of {min_lines} to {max_lines} rows. "
            "Add or remove a few rows."
        )
    plan = _even_plan(total, count)
    if all(sum(line_sizes[span.start : span.stop]) + len(span) <= max_bytes for span in plan):
        return plan
    return _byte_bound_plan(line_sizes, min_lines, max_lines, max_bytes)


def _even_plan(total: int, count: int) -> list[range]:
    """``count`` chunks whose lengths differ by at most one, the longer ones first."""
    base, longer = divmod(total, count)
    plan = []
    start = 0
    for number in range(count):
        stop = start + base + (1 if number < longer else 0)
        plan.append(range(start, stop))
        start = stop
    return plan


def _byte_bound_plan(
    line_sizes: Sequence[int], min_lines: int, max_lines: int, max_bytes: int
) -> list[range]:
    total = len(line_sizes)
    prefix = list(accumulate((size + 1 for size in line_sizes), initial=0))
    fewest = _fewest_chunks_from(prefix, min_lines, max_lines, max_bytes)
    if fewest[0] > total:
        raise PlanImpossible(
            f"The {total} valid rows cannot be split into Sync batches of {min_lines} to "
            f"{max_lines} rows and at most {max_bytes:,} bytes each: they take "
            f"{prefix[-1]:,} bytes, the largest row {max(line_sizes):,}. Shorten the longest "
            "rows (usually the tts_script) or split the file."
        )
    # Walk forward, ending each chunk as close to an even share of what is left as the
    # limits allow, among the ends from which the rest still needs the fewest chunks.
    plan = []
    start, left = 0, fewest[0]
    while start < total:
        lowest = start + min_lines
        highest = min(start + max_lines, total, bisect_right(prefix, prefix[start] + max_bytes) - 1)
        share = start + -(-(total - start) // left)
        stop = _nearest(share, lowest, highest, fewest, left - 1)
        plan.append(range(start, stop))
        start, left = stop, left - 1
    return plan


def _fewest_chunks_from(
    prefix: list[int], min_lines: int, max_lines: int, max_bytes: int
) -> list[int]:
    """For each start index, the fewest chunks that cover the lines from there to the end
    (more than the number of lines when impossible), by a sliding-window minimum: O(n)."""
    total = len(prefix) - 1
    impossible = total + 1
    fewest = [impossible] * (total + 1)
    fewest[total] = 0
    window: deque[int] = deque()  # candidate ends, largest first, fewest[] increasing
    byte_end = total
    for start in range(total - min_lines, -1, -1):
        entering = start + min_lines
        value = fewest[entering]
        while window and fewest[window[-1]] >= value:
            window.pop()
        window.append(entering)
        while prefix[byte_end] - prefix[start] > max_bytes:
            byte_end -= 1
        highest = min(start + max_lines, byte_end)
        while window and window[0] > highest:
            window.popleft()
        if window:
            best = fewest[window[0]]
            if best < impossible:
                fewest[start] = best + 1
    return fewest


def _nearest(target: int, lowest: int, highest: int, fewest: list[int], wanted: int) -> int:
    """The end closest to ``target`` within [lowest, highest] where ``wanted`` chunks remain."""
    target = min(max(target, lowest), highest)
    for distance in range(highest - lowest + 1):
        for end in (target - distance, target + distance):
            if lowest <= end <= highest and fewest[end] == wanted:
                return end
    raise AssertionError("the fewest-chunks table promised an end here")
