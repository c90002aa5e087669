"""The local runtime runs invocations on several threads at once, each with its own settings."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from syncdrop_local.runtime.invoke import LocalFunction
from syncdrop_local.runtime.stack import FunctionSpec
from tests.reliability.test_races import at_once

# Reads its setting during its first invocation, as syncdrop's handlers do, then meets the
# event's barrier: two invocations only get past it if both are inside their handlers at once.
HANDLER = """
import os
import time


def handler(event, context):
    seen = [os.environ["SETTING"]]
    if event.get("barrier") is not None:
        event["barrier"].wait(timeout=5)
    time.sleep(event.get("sleep", 0))
    seen.append(os.environ["SETTING"])
    return seen
"""


def function(tmp_path: Path, setting: str, name: str = "Fn") -> LocalFunction:
    (tmp_path / "app.py").write_text(HANDLER)
    spec = FunctionSpec(
        logical_id=name,
        code_dir=tmp_path,
        handler="app.handler",
        environment={"SETTING": setting, "AWS_REGION": "us-east-1"},
        timeout=10,
        events={},
    )
    return LocalFunction(spec)


def overlapped(spans: list[tuple[float, float]]) -> bool:
    (a_start, a_end), (b_start, b_end) = spans
    return max(a_start, b_start) < min(a_end, b_end)


def test_two_cold_starts_of_one_function_run_at_the_same_time(tmp_path: Path) -> None:
    fn = function(tmp_path, "one")
    barrier = threading.Barrier(2)
    outcomes = at_once(
        lambda: fn.invoke({"barrier": barrier}), lambda: fn.invoke({"barrier": barrier})
    )
    assert outcomes == [["one", "one"], ["one", "one"]]
    assert fn.cold_starts == 2
    assert overlapped(list(fn.spans))
    assert "SETTING" not in os.environ  # lent for the cold starts only


def test_cold_starts_of_two_agreeing_functions_overlap(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = function(tmp_path / "a", "same", "A"), function(tmp_path / "b", "same", "B")
    barrier = threading.Barrier(2)
    outcomes = at_once(
        lambda: first.invoke({"barrier": barrier}), lambda: second.invoke({"barrier": barrier})
    )
    assert outcomes == [["same", "same"], ["same", "same"]]
    assert overlapped([first.spans[0], second.spans[0]])


def test_a_cold_start_needing_other_values_waits_for_its_own(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = function(tmp_path / "a", "red", "A"), function(tmp_path / "b", "blue", "B")
    outcomes: list[Any] = at_once(
        lambda: first.invoke({"sleep": 0.2}), lambda: second.invoke({"sleep": 0.2})
    )
    assert outcomes == [["red", "red"], ["blue", "blue"]]  # never the other's value
    assert not overlapped([first.spans[0], second.spans[0]])
    assert "SETTING" not in os.environ


def test_warm_invocations_overlap_and_keep_their_settings(tmp_path: Path) -> None:
    fn = function(tmp_path, "warm")
    barrier = threading.Barrier(2)
    at_once(lambda: fn.invoke({"barrier": barrier}), lambda: fn.invoke({"barrier": barrier}))
    os.environ["SETTING"] = "the process's own"
    try:
        fn.spans.clear()
        warm = threading.Barrier(2)
        at_once(lambda: fn.invoke({"barrier": warm}), lambda: fn.invoke({"barrier": warm}))
        assert fn.cold_starts == 2  # both environments reused
        assert overlapped(list(fn.spans))
    finally:
        del os.environ["SETTING"]
