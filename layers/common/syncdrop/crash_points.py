"""Named places where a test can make a function die, the way Lambda can stop mid-invocation.

Nothing is armed in a deployment: ``reached`` is a dictionary lookup that finds nothing. The
local runtime and the reliability tests arm a point to prove the retry that follows (SQS
redelivery, the reconciler) still finishes the job with every invariant intact.
"""

from __future__ import annotations

import threading

AFTER_CREATE_BEFORE_RECORD = "after-create-before-record"
FAN_OUT_AFTER_ROWS_WRITTEN = "fan-out-after-rows-written"
AFTER_RESULTS_CSV_BEFORE_EMAIL = "after-results-csv-before-email"
INTAKE_AFTER_JOB_RECORDED = "intake-after-job-recorded"
COPY_AFTER_RECORDED = "copy-after-recorded"

_lock = threading.Lock()
_armed: dict[str, int] = {}  # point -> how many more times to let it pass before dying
fired: list[str] = []


class SimulatedCrash(BaseException):
    """A BaseException, so ``except Exception`` handlers cannot swallow it, like a real kill."""


def arm(point: str, *, after: int = 0) -> None:
    """Die the next time ``point`` is reached, after letting it pass ``after`` times."""
    with _lock:
        _armed[point] = after


def disarm_all() -> None:
    with _lock:
        _armed.clear()
        fired.clear()


def reached(point: str) -> None:
    if not _armed:
        return
    with _lock:
        remaining = _armed.get(point)
        if remaining is None:
            return
        if remaining > 0:
            _armed[point] = remaining - 1
            return
        del _armed[point]  # a crash point fires once; the retry must succeed
        fired.append(point)
    raise SimulatedCrash(point)
