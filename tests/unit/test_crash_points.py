"""Crash points in the test process: armed, passed a number of times, then fired once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from syncdrop import crash_points


@pytest.fixture(autouse=True)
def _disarmed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(crash_points.CRASH_POINTS_URL, raising=False)
    crash_points.disarm_all()
    yield
    crash_points.disarm_all()


def test_an_armed_point_passes_then_fires_once():
    crash_points.arm("point-a", after=1)

    crash_points.reached("point-a")
    crash_points.reached("point-b")  # not armed
    with pytest.raises(crash_points.SimulatedCrash):
        crash_points.reached("point-a")
    crash_points.reached("point-a")  # the retry goes through

    assert crash_points.fired == ["point-a"]


def test_should_die_counts_passes_without_raising():
    crash_points.arm("point-a", after=2)

    verdicts = [crash_points.should_die("point-a") for _ in range(4)]

    assert verdicts == [False, False, True, False]
    assert crash_points.fired == ["point-a"]


def test_nothing_armed_is_a_lookup_that_finds_nothing():
    for _ in range(3):
        crash_points.reached(crash_points.COPY_AFTER_RECORDED)
    assert crash_points.fired == []
