"""`syncdrop demo`: the local service started, one file dropped, its progress shown until the one
email."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from syncdrop.jobs import results_key
from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.fault_options import add_fault_options
from syncdrop_local.local_service import LocalService, ServiceOptions
from syncdrop_local.runtime.local_runtime import LocalRuntime
from syncdrop_local.sample import campaign_csv
from syncdrop_local.stack_options import add_stack_options
from syncdrop_local.state_view import job_snapshot, table_items

FINAL = ("COMPLETED", "FAILED", "VALIDATED")
HTTP_METHODS = ("GET ", "POST ", "PUT ")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1200, help="rows in the generated sample")
    parser.add_argument("--file", type=Path, help="drop this CSV/JSONL instead of a sample")
    add_stack_options(parser)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1200.0,
        help="how much faster than real time Sync's emulated batches run",
    )
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--schedule-every",
        type=float,
        default=5.0,
        help="run the scheduled reconciler every this many real seconds",
    )
    parser.add_argument("--verbose", action="store_true", help="show the functions' JSON logs")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="call the handlers in this process (a debugger reaches them) with IAM not enforced",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the emulator's random faults")
    add_fault_options(parser)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except KeyboardInterrupt:  # Ctrl-C: the stack was stopped on the way out
        print("syncdrop demo: interrupted; the local stack is stopped", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    service = LocalService.start(
        ServiceOptions.from_args(args, notification_email="demo@example.com")
    )
    try:
        runtime, emulator = service.runtime, service.emulator
        print(f"AWS (moto)        {service.moto.url}")
        print(f"Sync (emulator)   {emulator.url}   batch concurrency {args.batch_concurrency}")
        print(f"webhook endpoint  {runtime.webhook_url}")
        bucket = service.bucket
        if args.file:
            body, name = args.file.read_bytes(), args.file.name
        else:
            body, name = campaign_csv(args.rows), "campaign.csv"
            (out / name).write_bytes(body)
        key = f"incoming/{name}"
        runtime.stack.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        print(f"dropped           s3://{bucket}/{key} ({len(body):,} bytes)\n")
        view = ProgressView(runtime, emulator)
        service.run_in_background()
        finished = _wait(view, timeout=args.timeout)
        service.stop_loop()  # the outputs below read the stack alone
        view.show()
        if not finished:
            print("the demo did not finish in time", file=sys.stderr)
            return 1
        if injected := emulator.faults.injected:
            print("faults injected   " + ", ".join(f"{k} {n}" for k, n in sorted(injected.items())))
        return _write_outputs(runtime, emulator, out, key, started)
    finally:
        service.stop()


def _wait(view: ProgressView, *, timeout: float, every: float = 0.5) -> bool:
    """Show progress while the service's loop runs, until the job's email is out."""
    deadline = time.monotonic() + timeout
    while not view.finished():
        if time.monotonic() > deadline:
            return False
        view.show()
        time.sleep(every)
    return True


def _write_outputs(
    runtime: LocalRuntime, emulator: SyncEmulator, out: Path, key: str, started: float
) -> int:
    emails = runtime.collect_emails()
    snap = job_snapshot(runtime.stack)
    assert snap is not None  # nosec B101 # local demo, not deployed
    print(f"\n{len(emails)} email(s) sent; job {snap['status']}")
    for n, email in enumerate(emails, start=1):
        text = f"Subject: {email.subject}\n\n{email.body}\n"
        (out / ("email.txt" if n == 1 else f"email-{n}.txt")).write_text(text, encoding="utf-8")
        print("-" * 72 + f"\nSubject: {email.subject}\n\n{email.body}\n" + "-" * 72)
    if snap["status"] == "COMPLETED":
        s3 = runtime.stack.client("s3")
        csv_key = results_key(key)
        data = s3.get_object(Bucket=snap["bucket"], Key=csv_key)["Body"].read()
        target = out / csv_key.rsplit("/", 1)[-1]
        target.write_bytes(data)
        print(f"results CSV       s3://{snap['bucket']}/{csv_key} → {target}")
    summary = run_summary(runtime, emulator, snap)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"summary           {out / 'summary.json'}")
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0 if len(emails) == 1 else 1


def run_summary(
    runtime: LocalRuntime, emulator: SyncEmulator, snap: dict[str, Any]
) -> dict[str, Any]:
    """The job's rows by status, and Sync's requests as the emulator saw them."""
    rows = Counter(
        item["status"]
        for item in table_items(runtime.stack, "ResultsTable")
        if item["job_id"] == snap["job_id"]
    )
    seen = emulator.request_summary()
    return {
        "job_id": snap["job_id"],
        "status": snap["status"],
        "path": snap["route"],
        "path_reason": snap["route_note"],
        "rows": {"total": snap["rows"], **dict(sorted(rows.items()))},
        "emails": len(runtime.collect_emails()),
        "sync_requests": {
            route: n for route, n in sorted(seen.items()) if route.startswith(HTTP_METHODS)
        },
        "distinct_idempotency_keys": seen.get("distinct_idempotency_keys", 0),
        # Sync's own high-water marks: never above BatchConcurrency / GenerationConcurrency.
        "most_batches_open_at_sync": emulator.max_concurrent_open,
        "most_generations_open_at_sync": emulator.max_generations_open(),
    }


class ProgressView:
    """Prints what changed: the job, its chunks and Sync's batches."""

    def __init__(self, runtime: LocalRuntime, emulator: SyncEmulator) -> None:
        self.runtime = runtime
        self.emulator = emulator
        self._last: list[str] = []
        self._job_id: str | None = None

    def snapshot(self) -> dict[str, Any] | None:
        """The job by its key once known; its chunks only while it goes in batches (a job of
        single generations has one chunk a row: reading them all would slow the stack)."""
        stack = self.runtime.stack
        snap = job_snapshot(stack, self._job_id, chunks=False)
        if snap is None:
            return None
        self._job_id = snap["job_id"]
        if snap["route"] == "batch":
            snap = job_snapshot(stack, self._job_id) or snap
        return snap

    def finished(self) -> bool:
        snap = self.snapshot()
        return bool(snap and snap["status"] in FINAL and snap["notified"])

    def show(self) -> None:
        snap = self.snapshot()
        if snap is None:
            return
        batches = {b.id: b for b in self.emulator.batches}
        lines = [f"job {snap['job_id']}  {snap['status']:<9} {snap['message']}"]
        if snap["route"] == "generate":
            lines.append(
                f"  {snap['chunks_closed']:,} of {snap['chunk_count']:,} chunks closed; "
                f"{self.emulator.open_generations()} single generations open at Sync"
            )
        for c in snap["chunks"]:
            if c["kind"] == "GENERATION":
                continue
            batch = batches.get(c.get("batch_id") or "")
            sync = f"{batch.id}  Sync: {batch.status}" if batch else ""
            if c.get("copying"):
                sync += "  copying videos"
            lines.append(f"  chunk {c['number']:>3}  {c['rows']:>4} rows  {c['status']:<10} {sync}")
        if lines != self._last:
            print(time.strftime("%H:%M:%S"), "\n".join(lines), flush=True)
            self._last = lines
