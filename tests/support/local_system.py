"""The local stack as a user runs it: moto's server, the Sync emulator, the local runtime.

The fixtures are shared by the e2e and reliability suites (their conftest files import them).
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from syncdrop_local.emulator import SyncEmulator
from syncdrop_local.runtime.local_runtime import REPO_ROOT, LocalRuntime, MotoServer
from syncdrop_local.runtime.moto_world import DynamoFaults, MotoWorld
from syncdrop_local.state_view import job_snapshot, table_items

API_KEY = "sk-e2e-key"
WEBHOOK_SECRET = "whsec_e2e_secret"
# Sync's own cap sits this far above BatchConcurrency: only syncdrop's claims hold the number
# of open batches down, so a breach shows in the emulator's high-water mark instead of a 429.
SYNC_CAP_HEADROOM = 10


@dataclass
class LocalSystem:
    runtime: LocalRuntime
    emulator: SyncEmulator
    aws: MotoWorld | None = None  # what moto's front decided: conflicts, injected faults

    @property
    def bucket(self) -> str:
        return self.runtime.stack.ref("UploadsBucket")

    def drop(self, key: str, body: bytes) -> None:
        self.runtime.stack.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)

    def finish_batches(self) -> None:
        """Let Sync's emulated clock run until every batch is over; webhooks go out now."""
        self.emulator.advance(10_000)

    def settle(self, timeout: float = 60.0) -> None:
        """Pump queues (webhooks arrive on their own thread) until nothing moves."""
        self.runtime.drain(timeout=timeout, idle_rounds=4)

    def results(self) -> list[dict[str, Any]]:
        return sorted(table_items(self.runtime.stack, "ResultsTable"), key=lambda i: i["row_key"])

    def results_csv(self, key: str) -> list[list[str]]:
        body = self.runtime.stack.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"]
        text = body.read().decode("utf-8-sig")
        return list(csv.reader(io.StringIO(text)))

    def jobs(self) -> list[dict[str, Any]]:
        return [i for i in table_items(self.runtime.stack, "JobTable") if i.get("type") == "job"]

    def snapshot(self, job_id: str | None = None) -> dict[str, Any]:
        snap = job_snapshot(self.runtime.stack, job_id)
        assert snap is not None
        return snap


@pytest.fixture
def moto_server() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def local_system(moto_server: MotoServer) -> Iterator[Any]:
    started: list[Any] = []
    moto_endpoint = moto_server.url

    def make(
        batch_concurrency: int = 2,
        *,
        stack_webhook_secret: str = WEBHOOK_SECRET,
        environment: dict[str, str] | None = None,
        parameters: dict[str, str] | None = None,
        sync_concurrency: int | None = None,
        dynamo_faults: DynamoFaults | None = None,
        in_process: bool = False,
        root: Path = REPO_ROOT,
        **emulator_options: Any,
    ) -> LocalSystem:
        # As AWS runs them: each function in processes of its own under its role, IAM decided
        # by moto. ``in_process`` only for tests that must reach into a handler's process.
        # DynamoDB's own answers under load (throttling, transaction conflicts), when asked.
        moto_server.world.faults = dynamo_faults or DynamoFaults()
        options = {"time_scale": 0.0, "pending_seconds": 5, "processing_seconds_per_line": 1}
        options.update(emulator_options)
        emulator = SyncEmulator(
            api_key=API_KEY,
            webhook_secret=WEBHOOK_SECRET,
            batch_concurrency=sync_concurrency or batch_concurrency + SYNC_CAP_HEADROOM,
            **options,
        ).start()
        started.append(emulator)
        runtime = LocalRuntime.start(
            moto_endpoint,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": API_KEY,
                "SyncWebhookSecret": stack_webhook_secret,
                "SyncApiBaseUrl": emulator.url,
                "BatchConcurrency": str(batch_concurrency),
                # Copying every video costs seconds per hundred rows; the tests about copies
                # turn it on, the others leave it out.
                "CopyOutputs": "false",
                **(parameters or {}),
            },
            extra_environment=environment,
            root=root,
            lambda_processes=not in_process,
            enforce_iam=not in_process,
        )
        started.append(runtime)
        return LocalSystem(runtime=runtime, emulator=emulator, aws=moto_server.world)

    yield make
    for thing in reversed(started):
        thing.stop()


def run_to_the_end(
    system: LocalSystem,
    *,
    files: int,
    timeout: float = 120.0,
    schedule_every: float = 0.5,
    emulator_step: float = 60.0,
) -> None:
    """Drive the stack until every file has its email: pump queues, move Sync's clock,
    run the scheduled reconciler, exactly as time passing would."""
    deadline = time.monotonic() + timeout
    next_schedule = time.monotonic()
    while True:
        moved = system.runtime.pump()
        system.emulator.advance(emulator_step)
        if time.monotonic() >= next_schedule:
            system.runtime.run_schedules()
            next_schedule = time.monotonic() + schedule_every
        emails = {e.attributes.get("job_id") for e in system.runtime.collect_emails()}
        if len(emails) >= files and not moved:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(emails)} of {files} files finished in {timeout} s")
        if not moved:
            time.sleep(0.05)
