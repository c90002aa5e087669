"""`syncdrop demo`: the whole pipeline on this machine, from a dropped CSV to Sync batches."""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.runtime.local_runtime import LocalRuntime, MotoServer
from syncdrop_local.sample import campaign_csv
from syncdrop_local.state_view import job_snapshot


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rows", type=int, default=1200, help="rows in the generated sample")
    parser.add_argument("--file", type=Path, help="drop this CSV/JSONL instead of a sample")
    parser.add_argument("--batch-concurrency", type=int, default=3)
    parser.add_argument("--output", type=Path, default=Path("demo-output"))
    parser.add_argument("--timeout", type=float, default=120.0)


def run(args: argparse.Namespace) -> int:
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    api_key = "sk-local-" + secrets.token_hex(8)
    with ExitStack() as stack:
        moto = MotoServer()
        endpoint = moto.start()
        stack.callback(moto.stop)
        emulator = SyncEmulator(
            api_key=api_key,
            webhook_secret="whsec_" + secrets.token_hex(16),
            batch_concurrency=args.batch_concurrency,
            time_scale=600.0,
        ).start()
        stack.callback(emulator.stop)
        print(f"moto (AWS) on {endpoint}; Sync emulator on {emulator.url}")
        runtime = LocalRuntime.start(
            endpoint,
            {
                "NotificationEmail": "demo@example.com",
                "SyncApiKey": api_key,
                "SyncApiBaseUrl": emulator.url,
                "BatchConcurrency": str(args.batch_concurrency),
            },
        )
        bucket = runtime.stack.ref("UploadsBucket")
        if args.file:
            body, name = args.file.read_bytes(), args.file.name
        else:
            body, name = campaign_csv(args.rows), "campaign.csv"
            (out / name).write_bytes(body)
        key = f"incoming/{name}"
        runtime.stack.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        print(f"dropped s3://{bucket}/{key} ({len(body):,} bytes)")
        started = time.monotonic()
        view = ProgressView(runtime)
        try:
            runtime.run_until(view.intake_done, timeout=args.timeout, on_round=view.show)
        except TimeoutError:
            view.show()
            print("the demo did not finish in time", file=sys.stderr)
            return 1
        view.show()
        print(f"done in {time.monotonic() - started:.1f} s")
        return 0


class ProgressView:
    """Prints what changed: the job, its chunks and Sync's batches."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self._last: list[str] = []

    def snapshot(self) -> dict[str, Any] | None:
        return job_snapshot(self.runtime.stack)

    def intake_done(self) -> bool:
        snap = self.snapshot()
        if snap is None:
            return False
        if snap["status"] in ("FAILED", "VALIDATED", "COMPLETED"):
            return True
        chunks = snap["chunks"]
        return (
            snap["status"] == "RUNNING"
            and all(c["status"] != "SUBMITTING" for c in chunks)
            and (
                sum(c["status"] == "QUEUED" for c in chunks) == 0
                or sum(c["status"] == "SUBMITTED" for c in chunks) >= snap["batch_concurrency"]
            )
        )

    def show(self) -> None:
        snap = self.snapshot()
        if snap is None:
            return
        lines = [f"job {snap['job_id']}: {snap['status']} - {snap['message']}"]
        for c in snap["chunks"]:
            batch = c.get("batch_id") or ""
            lines.append(
                f"  chunk {c['number']:>3}  {c['rows']:>4} rows  {c['status']:<10} {batch}"
            )
        if lines != self._last:
            print("\n".join(lines), flush=True)
            self._last = lines
