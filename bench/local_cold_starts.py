"""Cold and warm invocations of each function on the local stack as `syncdrop local` runs it:
processes of their own forked from the forkserver, their roles' credentials, IAM enforced.

    .venv/bin/python -m bench.local_cold_starts [--rounds 3]

Each round starts the service, drops a 25-row file and waits for its email, then drops a
second one and waits again. Invocations of one function are serialised, so each function has
one execution environment: its first invocation (file one) is the cold one, the same
invocation for file two is warm and does the same work. Per invocation it records the time
from ``invoke`` to the answer, and the part of it before the runtime took the event (the
fork, awslambdaric's start and the handler module's import, on a cold start). Medians over
the rounds are printed; docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from syncdrop_local.local_service import LocalService, ServiceOptions
from syncdrop_local.runtime.lambda_process import ProcessFunction
from syncdrop_local.sample import campaign_csv

ROWS = 25


@dataclass
class Timed:
    cold: bool
    total_ms: float  # invoke to answer
    before_event_ms: float  # invoke until the runtime took the event


@dataclass
class Recorder:
    """Wraps each function's ``invoke``: one at a time per function, each timed."""

    calls: dict[str, list[Timed]] = field(default_factory=lambda: defaultdict(list))

    def wrap(self, name: str, function: ProcessFunction) -> None:
        invoke = function.invoke
        lock = threading.Lock()

        def timed(event: Any) -> Any:
            with lock:
                starts = function.cold_starts
                asked = time.monotonic()
                try:
                    return invoke(event)
                finally:
                    answered = time.monotonic()
                    taken = function.spans[-1][0] if function.spans else answered
                    self.calls[name].append(
                        Timed(
                            cold=function.cold_starts > starts,
                            total_ms=(answered - asked) * 1000,
                            before_event_ms=(taken - asked) * 1000,
                        )
                    )

        function.invoke = timed  # type: ignore[method-assign]


def one_round(seed: int) -> tuple[dict[str, Timed], dict[str, Timed]]:
    """(first invocation for file one, the same invocation for file two) per function."""
    service = LocalService.start(ServiceOptions(seed=seed, schedule_every=2.0))
    recorder = Recorder()
    for logical_id, function in service.runtime.functions.items():
        assert isinstance(function, ProcessFunction)  # nosec B101 # the faithful stack
        recorder.wrap(logical_id.removesuffix("Function"), function)
    s3 = service.runtime.stack.client("s3")
    marks: list[dict[str, int]] = []
    try:
        service.run_in_background()
        for n in (1, 2):
            marks.append({name: len(calls) for name, calls in recorder.calls.items()})
            s3.put_object(Bucket=service.bucket, Key=f"incoming/f{n}.csv", Body=campaign_csv(ROWS))
            deadline = time.monotonic() + 120
            while len(service.runtime.emails) < n:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"file {n} had no email in 120 s")
                time.sleep(0.1)
            time.sleep(3)  # the reconciler's next run, copies still in flight
    finally:
        service.stop()
    first = {name: calls[0] for name, calls in recorder.calls.items()}
    second = {
        name: calls[marks[1].get(name, 0)]
        for name, calls in recorder.calls.items()
        if len(calls) > marks[1].get(name, 0)
    }
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    cold: dict[str, list[Timed]] = defaultdict(list)
    warm: dict[str, list[Timed]] = defaultdict(list)
    for seed in range(rounds):
        first, second = one_round(seed)
        for name, timed in first.items():
            cold[name].append(timed)
        for name, timed in second.items():
            warm[name].append(timed)
    header = f"{'function':<16} {'cold':>8} {'of which init':>14} {'warm':>8}"
    print(f"{header}   (ms, median of {rounds})")
    for name in sorted(cold):
        if not all(t.cold for t in cold[name]) or any(t.cold for t in warm[name]):
            raise RuntimeError(f"{name}: a first invocation was warm, or a later one cold")
        c = statistics.median(t.total_ms for t in cold[name])
        i = statistics.median(t.before_event_ms for t in cold[name])
        w = statistics.median(t.total_ms for t in warm[name]) if warm[name] else float("nan")
        print(f"{name:<16} {c:8.0f} {i:14.0f} {w:8.0f}")


if __name__ == "__main__":
    main()
