"""`syncdrop demo`: the local service started, one file dropped, its progress shown until the one
email."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from syncdrop.jobs import report_page_key, results_key
from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.fault_options import add_fault_options
from syncdrop_local.job_progress import JobProgress, ProgressReader
from syncdrop_local.local_service import LocalService, ServiceOptions
from syncdrop_local.progress_display import LiveProgress
from syncdrop_local.runtime.local_runtime import LocalRuntime
from syncdrop_local.sample import campaign_csv
from syncdrop_local.stack_options import add_stack_options
from syncdrop_local.state_view import job_results, job_snapshot

FINAL = ("COMPLETED", "FAILED", "VALIDATED", "CANCELLED")
HTTP_METHODS = ("GET ", "POST ", "PUT ")
# Where the functions' own lines go without --verbose (in --output).
FUNCTION_LOG = "functions.log"


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
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show the functions' logs and metrics, and the email, here "
        f"(default: the logs go to OUTPUT/{FUNCTION_LOG})",
    )
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
        ServiceOptions.from_args(
            args,
            notification_email="demo@example.com",
            function_log=None if args.verbose else out / FUNCTION_LOG,
            register=False,
            moto_process=True,
        )
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
        print(f"dropped           s3://{bucket}/{key} ({len(body):,} bytes)")
        if not args.verbose:
            print(f"function logs     {out / FUNCTION_LOG} (--verbose shows them here)")
        print(flush=True)
        view = ProgressView(runtime, redraw=not args.verbose)
        service.run_in_background()
        finished = _wait(view, timeout=args.timeout)
        service.stop_loop()  # the outputs below read the stack alone
        view.finish()
        if not finished:
            print("the demo did not finish in time", file=sys.stderr)
            return 1
        if injected := emulator.faults.injected:
            print("faults injected   " + ", ".join(f"{k} {n}" for k, n in sorted(injected.items())))
        # The email's whole text on a terminal; in a pipe its subject and file.
        return _write_outputs(
            runtime, emulator, out, key, started, show_email=args.verbose or sys.stdout.isatty()
        )
    finally:
        service.stop()


def _wait(view: ProgressView, *, timeout: float, every: float = 0.5) -> bool:
    """Show progress while the service's loop runs, until the job's email is out."""
    deadline = time.monotonic() + timeout
    while not view.finished():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def _write_outputs(
    runtime: LocalRuntime,
    emulator: SyncEmulator,
    out: Path,
    key: str,
    started: float,
    *,
    show_email: bool,
) -> int:
    emails = runtime.collect_emails()
    snap = job_snapshot(runtime.stack)
    assert snap is not None  # nosec B101 # local demo, not deployed
    print(f"\n{len(emails)} email(s) sent; job {snap['status']}")
    for n, email in enumerate(emails, start=1):
        text = f"To: {email.recipient}\nSubject: {email.subject}\n\n{email.body}\n"
        target = out / ("email.txt" if n == 1 else f"email-{n}.txt")
        target.write_text(text, encoding="utf-8")
        if show_email:
            print("-" * 72 + f"\n{text}" + "-" * 72)
        else:
            print(f"email             to {email.recipient}: {email.subject}")
            print(f"                  {target}")
    data: bytes | None = None
    if snap["status"] == "COMPLETED":
        s3 = runtime.stack.client("s3")
        csv_key = results_key(key)
        data = s3.get_object(Bucket=snap["bucket"], Key=csv_key)["Body"].read()
        target = out / csv_key.rsplit("/", 1)[-1]
        target.write_bytes(data)
        print(f"results CSV       s3://{snap['bucket']}/{csv_key} → {target}")
        page_key = report_page_key(key)
        page = s3.get_object(Bucket=snap["bucket"], Key=page_key)["Body"].read()
        target = out / page_key.rsplit("/", 1)[-1]
        target.write_bytes(page)
        print(f"report page       s3://{snap['bucket']}/{page_key} → {target}")
    summary = run_summary(runtime, emulator, snap, results_csv=data)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(f"summary           {out / 'summary.json'}")
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0 if len(emails) == 1 else 1


def run_summary(
    runtime: LocalRuntime,
    emulator: SyncEmulator,
    snap: dict[str, Any],
    *,
    results_csv: bytes | None = None,
) -> dict[str, Any]:
    """The job's rows by status (from its results CSV, which has every row, when there is
    one), and Sync's requests as the emulator saw them."""
    if results_csv is not None:
        reader = csv.DictReader(io.StringIO(results_csv.decode("utf-8-sig")))
        rows = Counter(row["status"] for row in reader)
    else:
        rows = Counter(item["status"] for item in job_results(runtime.stack, snap["job_id"]))
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
    """The job's progress on stdout (progress_display): read by its key once intake has
    recorded it, its copies counted at most once a second."""

    def __init__(self, runtime: LocalRuntime, *, redraw: bool = True) -> None:
        stack = runtime.stack
        self.stack = stack
        self.reader = ProgressReader(
            stack.client("dynamodb"), stack.ref("JobTable"), stack.ref("ResultsTable")
        )
        # With the functions' lines on stdout too, a block redrawn in place would overwrite them.
        self.display = LiveProgress(sys.stdout, tty=None if redraw else False)
        self._job_id: str | None = None
        self._last: JobProgress | None = None

    def finished(self) -> bool:
        """Shows the job as it is now; True once it ended and its email is out."""
        if self._job_id is None:
            # Until intake records it, the job's id is unknown (moto's S3 events carry no
            # versionId): the small table is read whole, then never again.
            found = job_snapshot(self.stack, chunks=False)
            if found is None:
                return False
            self._job_id = found["job_id"]
        progress = self.reader.read(self._job_id)
        if progress is None:
            return False
        self._last = progress
        self.display.update(progress)
        return progress.status in FINAL and progress.notified

    def finish(self) -> None:
        """The job as it ended (or as far as it got), whole."""
        if self._job_id is not None:
            self._last = self.reader.read(self._job_id) or self._last
        self.display.finish(self._last)
