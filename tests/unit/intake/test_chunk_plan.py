"""Chunk planning: fewest batches within Sync's 20..500 lines and 5 MB, evenly sized, in order."""

from __future__ import annotations

import itertools
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncdrop.intake import PlanImpossible, plan_chunks


def lengths(plan: list[range]) -> list[int]:
    return [len(chunk) for chunk in plan]


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (20, [20]),
        (499, [499]),
        (500, [500]),
        (501, [251, 250]),
        (510, [255, 255]),
        (1000, [500, 500]),
        (1001, [334, 334, 333]),
        (1200, [400, 400, 400]),
    ],
)
def test_line_counts_are_split_evenly_into_the_fewest_chunks(
    count: int, expected: list[int]
) -> None:
    plan = plan_chunks([100] * count)

    assert lengths(plan) == expected
    assert plan[0].start == 0
    assert all(a.stop == b.start for a, b in itertools.pairwise(plan))
    assert plan[-1].stop == count


@pytest.mark.parametrize("count", [0, 1, 19])
def test_fewer_lines_than_a_batch_needs_is_impossible(count: int) -> None:
    with pytest.raises(PlanImpossible) as caught:
        plan_chunks([10] * count)

    assert isinstance(caught.value, ValueError)
    assert "at least 20 valid rows" in caught.value.message
    assert f"has {count}" in caught.value.message


def test_the_byte_limit_adds_chunks_when_it_binds() -> None:
    # 100 lines of 99,999 bytes (+ newline = 100,000): at most 52 fit in 5 MiB.
    plan = plan_chunks([99_999] * 100)

    assert lengths(plan) == [50, 50]


def test_a_large_line_is_planned_around() -> None:
    sizes = [1_000] * 60
    sizes[30] = 5 * 1024 * 1024 - 20 * 1_001  # leaves room for exactly 19 small lines + itself
    plan = plan_chunks(sizes)

    for chunk in plan:
        assert 20 <= len(chunk) <= 500
        assert sum(sizes[i] + 1 for i in chunk) <= 5 * 1024 * 1024


def test_lines_that_cannot_fit_any_plan_are_impossible() -> None:
    with pytest.raises(PlanImpossible, match="cannot be split"):
        plan_chunks([300_000] * 25)


def test_custom_limits_that_no_split_can_meet_are_impossible() -> None:
    with pytest.raises(PlanImpossible):
        plan_chunks([1] * 26, min_lines=20, max_lines=25)


def test_a_million_lines_are_planned_quickly() -> None:
    started = time.perf_counter()
    plan = plan_chunks([250] * 1_000_000)
    elapsed = time.perf_counter() - started

    assert lengths(plan) == [500] * 2000
    assert elapsed < 1.0


def test_a_million_lines_under_a_binding_byte_limit_are_planned_in_linear_time() -> None:
    started = time.perf_counter()
    plan = plan_chunks([20_000] * 1_000_000)  # 262 lines per 5 MiB
    elapsed = time.perf_counter() - started

    assert len(plan) == -(-1_000_000 // 262)
    assert max(lengths(plan)) - min(lengths(plan)) <= 1
    assert elapsed < 15


def _fewest_possible(sizes: list[int], low: int, high: int, limit: int) -> int | None:
    """Quadratic reference: the fewest chunks, or None when no plan exists."""
    total = len(sizes)
    if total == 0:
        return None  # an empty file has nothing to send
    best: list[int | None] = [None] * (total + 1)
    best[0] = 0
    for end in range(1, total + 1):
        used = 0
        for start in range(end - 1, -1, -1):
            used += sizes[start] + 1
            if used > limit or end - start > high:
                break
            previous = best[start]
            current = best[end]
            if (
                end - start >= low
                and previous is not None
                and (current is None or previous + 1 < current)
            ):
                best[end] = previous + 1
    return best[total]


limits = st.tuples(st.integers(1, 6), st.integers(0, 8)).map(lambda t: (t[0], t[0] + t[1]))


@settings(max_examples=300, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 60), max_size=70),
    bounds=limits,
    max_bytes=st.integers(10, 400),
)
def test_plans_cover_every_line_once_in_order_within_limits_with_fewest_chunks(
    sizes: list[int], bounds: tuple[int, int], max_bytes: int
) -> None:
    low, high = bounds
    fewest = _fewest_possible(sizes, low, high, max_bytes)
    if fewest is None:
        with pytest.raises(PlanImpossible):
            plan_chunks(sizes, min_lines=low, max_lines=high, max_bytes=max_bytes)
        return

    plan = plan_chunks(sizes, min_lines=low, max_lines=high, max_bytes=max_bytes)

    assert [i for chunk in plan for i in chunk] == list(range(len(sizes)))
    assert all(chunk.step == 1 for chunk in plan)
    for chunk in plan:
        assert low <= len(chunk) <= high
        assert sum(sizes[i] + 1 for i in chunk) <= max_bytes
    assert len(plan) == fewest


@settings(max_examples=200, deadline=None)
@given(count=st.integers(20, 5_000), size=st.integers(0, 2_000))
def test_when_only_the_line_limit_binds_chunks_differ_by_at_most_one_line(
    count: int, size: int
) -> None:
    plan = plan_chunks([size] * count)

    assert len(plan) == -(-count // 500)
    assert max(lengths(plan)) - min(lengths(plan)) <= 1
    assert lengths(plan) == sorted(lengths(plan), reverse=True)


@settings(max_examples=100, deadline=None)
@given(sizes=st.lists(st.integers(0, 12_000), min_size=20, max_size=1_500))
def test_varied_sizes_under_syncs_limits_always_give_a_valid_minimal_plan(
    sizes: list[int],
) -> None:
    plan = plan_chunks(sizes, max_bytes=1_000_000)

    assert [i for chunk in plan for i in chunk] == list(range(len(sizes)))
    for chunk in plan:
        assert 20 <= len(chunk) <= 500
        assert sum(sizes[i] + 1 for i in chunk) <= 1_000_000
