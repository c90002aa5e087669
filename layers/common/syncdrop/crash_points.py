"""Named places where a test can make a function die, the way Lambda can stop mid-invocation.

Nothing is armed in a deployment: ``reached`` is a dictionary lookup that finds nothing. The
local runtime and the reliability tests arm a point to prove the retry that follows (SQS
redelivery, the reconciler) still finishes the job with every invariant intact.

When a function runs in a process of its own, the local runtime sets
``SYNCDROP_CRASH_POINTS_URL``: the test process keeps what is armed, answers each point
reached, and a point that fires ends the process at once, as a killed environment ends.
"""

from __future__ import annotations

import os
import threading

AFTER_CREATE_BEFORE_RECORD = "after-create-before-record"
FAN_OUT_AFTER_ROWS_WRITTEN = "fan-out-after-rows-written"
AFTER_RESULTS_CSV_BEFORE_EMAIL = "after-results-csv-before-email"
INTAKE_AFTER_JOB_RECORDED = "intake-after-job-recorded"
COPY_AFTER_RECORDED = "copy-after-recorded"

CRASH_POINTS_URL = "SYNCDROP_CRASH_POINTS_URL"  # set only by the local runtime
KILLED_EXIT_STATUS = 137  # what a shell reports for a SIGKILLed process

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


def should_die(point: str) -> bool:
    """Count one pass of ``point``; True (and recorded in ``fired``) when it fires now."""
    if not _armed:
        return False
    with _lock:
        remaining = _armed.get(point)
        if remaining is None:
            return False
        if remaining > 0:
            _armed[point] = remaining - 1
            return False
        del _armed[point]  # a crash point fires once; the retry must succeed
        fired.append(point)
    return True


def reached(point: str) -> None:
    relay = os.environ.get(CRASH_POINTS_URL)
    if relay:
        _ask_test_process(relay, point)
    elif should_die(point):
        raise SimulatedCrash(point)


def _ask_test_process(relay: str, point: str) -> None:
    import urllib.parse  # here: only the local runtime ever needs them
    import urllib.request

    url = f"{relay}/{urllib.parse.quote(point)}"
    request = urllib.request.Request(url, data=b"")  # noqa: S310 - http on 127.0.0.1 only
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310  # nosec B310 # loopback URL of the local runtime
        verdict = answer.read()
    if verdict == b"die":
        os._exit(KILLED_EXIT_STATUS)  # no cleanup, no response: the environment is gone
