"""The demo's pipeline, timed: 1,200 rows, CopyOutputs on, the local stack as `syncdrop demo`
runs it (moto in a process of its own, functions in theirs, IAM enforced), from the drop to the
one email; then the whole `syncdrop demo` process, from its start to its exit.

The wall time is split at the moments the job's state shows: every chunk at Sync (intake and
submission), every batch finished at Sync, every chunk's rows written (fan-out), every video
copied, the email out (report). The state is read every ``SAMPLE_EVERY`` seconds.
"""

from __future__ import annotations

import os
import subprocess  # nosec B404 # runs `syncdrop demo`, an argv list only
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures import Figure
from bench.pipeline import HandlerClock

ROWS = 1200
TARGET_SECONDS = 30.0
SAMPLE_EVERY = 0.25
TIMEOUT = 600.0
PHASES = (
    ("submitted", "intake and submission"),
    ("sync_done", "Sync (emulated, 1,200x)"),
    ("fanned_out", "fan-out (rows written)"),
    ("copied", "copies (videos into S3)"),
    ("emailed", "report and email"),
)


@dataclass
class Milestones:
    """When each moment was first seen, in seconds after the drop."""

    seen: dict[str, float] = field(default_factory=dict)

    def mark(self, name: str, at: float, reached: bool) -> None:
        if reached and name not in self.seen:
            self.seen[name] = at

    def phases(self) -> list[tuple[str, float]]:
        """Each phase's share of the wall time: from the moment before it to its own."""
        out: list[tuple[str, float]] = []
        previous = 0.0
        for name, label in PHASES:
            at = self.seen.get(name, previous)
            out.append((label, max(0.0, at - previous)))
            previous = max(previous, at)
        return out


def _job_items(stack: Any, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The job item and its chunk items: one Query of the job's partition."""
    from syncdrop import keys

    answer = stack.client("dynamodb").query(
        TableName=stack.ref("JobTable"),
        KeyConditionExpression="pk = :pk",
        ProjectionExpression="sk, chunk_count, notified_at, batch_id, results_written, copies_done",
        ExpressionAttributeValues={":pk": {"S": keys.job_pk(job_id)}},
        ConsistentRead=True,
    )
    items = answer.get("Items", [])
    job = next((i for i in items if i["sk"]["S"] == keys.JOB_SK), {})
    return job, [i for i in items if i["sk"]["S"].startswith(keys.CHUNK_PREFIX)]


def _flag(item: dict[str, Any], name: str) -> bool:
    return bool(item.get(name, {}).get("BOOL"))


def watch(emulator: Any, stack: Any, started: float) -> Milestones:
    """Sample the job until its email is out: its milestones."""
    from syncdrop_local.state_view import job_snapshot

    marks = Milestones()
    job_id: str | None = None
    while time.perf_counter() < started + TIMEOUT:
        now = time.perf_counter() - started
        if job_id is None:
            snap = job_snapshot(stack, chunks=False)
            job_id = snap["job_id"] if snap else None
        if job_id is not None:
            job, chunks = _job_items(stack, job_id)
            count = int(job.get("chunk_count", {}).get("N", "0"))
            every = bool(chunks) and len(chunks) == count
            marks.mark("submitted", now, every and all("batch_id" in c for c in chunks))
            batches = list(emulator.batches)
            marks.mark(
                "sync_done",
                now,
                len(batches) == count > 0
                and all(b.status in ("COMPLETED", "FAILED") for b in batches),
            )
            written = every and all(_flag(c, "results_written") for c in chunks)
            marks.mark("fanned_out", now, written)
            marks.mark("copied", now, written and all(_flag(c, "copies_done") for c in chunks))
            if "notified_at" in job:
                marks.mark("emailed", now, True)
                return marks
        time.sleep(SAMPLE_EVERY)
    raise TimeoutError(f"no email within {TIMEOUT:.0f} s; seen so far: {marks.seen}")


def run(workdir: Path) -> list[Figure]:
    from syncdrop_local.local_service import LocalService, ServiceOptions
    from syncdrop_local.sample import campaign_csv

    body = campaign_csv(ROWS)
    # What `syncdrop demo` starts: its time scale and schedule, every other option its own.
    options = ServiceOptions(
        time_scale=1200.0,
        schedule_every=5.0,
        notification_email="demo@example.com",
        register=False,
        moto_process=True,
    )
    cpu_before = _cpu_seconds()
    service = LocalService.start(options)
    try:
        if service.runtime.stack.resolver.ref("CopyOutputs") != "true":
            raise RuntimeError("the demo's stack must copy outputs")
        clock = HandlerClock()
        for name, function in service.runtime.functions.items():
            clock.wrap(name, function)
        key = "incoming/campaign.csv"
        started = time.perf_counter()
        service.runtime.stack.client("s3").put_object(Bucket=service.bucket, Key=key, Body=body)
        service.run_in_background()
        marks = watch(service.emulator, service.runtime.stack, started)
        wall = marks.seen["emailed"]
        copies = service.emulator.request_summary().get("GET /media/{id}.mp4", 0)
        service.stop_loop()
    finally:
        service.stop()
    cpu = _cpu_seconds() - cpu_before
    figures = [
        Figure(
            f"7 demo pipeline: {ROWS:,} rows, copies on",
            wall,
            TARGET_SECONDS,
            "s",
            baseline_label=(
                f"the target; {copies:,} videos copied; {cpu:.0f} s of CPU (user+sys, this "
                f"process, moto's and the functions'); in handlers: {clock.breakdown()}"
            ),
            target=f"<= {TARGET_SECONDS:.0f} s",
            met=wall <= TARGET_SECONDS,
        )
    ]
    for label, seconds in marks.phases():
        figures.append(
            Figure(
                f"  {label}",
                seconds,
                wall,
                "s",
                baseline_label="the whole run (ratio: the phase's share)",
            )
        )
    figures.append(whole_demo(workdir))
    return figures


def whole_demo(workdir: Path) -> Figure:
    """`syncdrop demo` as `make demo` runs it, from the process's start to its exit."""
    out = workdir / "demo-output"
    started = time.perf_counter()
    answer = subprocess.run(  # nosec B603 # this interpreter's syncdrop, an argv list
        [sys.executable, "-m", "syncdrop_local.cli", "demo", "--output", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        timeout=TIMEOUT,
    )
    wall = time.perf_counter() - started
    if answer.returncode != 0:
        raise RuntimeError(f"syncdrop demo failed: {(answer.stdout + answer.stderr)[-2000:]}")
    return Figure(
        f"8 syncdrop demo, start to exit: {ROWS:,} rows",
        wall,
        TARGET_SECONDS,
        "s",
        baseline_label="the target (what `make demo` takes once its virtualenv exists)",
        target=f"<= {TARGET_SECONDS:.0f} s",
        met=wall <= TARGET_SECONDS,
    )


def _cpu_seconds() -> float:
    """User+sys CPU of this process and of its children that have ended."""
    import os

    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
