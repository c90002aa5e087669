"""The whole pipeline locally: 10,000 rows, 20 chunks, BatchConcurrency 5, Sync's clock sped up."""

from __future__ import annotations

import importlib
import threading
import time
from pathlib import Path
from typing import Any

from bench.figures import Figure
from bench.files import write_campaign

ROWS = 10_000
CONCURRENCY = 5
API_KEY = "sk-bench"
WEBHOOK_SECRET = "whsec_bench"


class HandlerClock:
    """Wraps each function's invoke: the time spent inside handlers, whatever thread calls."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.invocations = 0
        self.by_function: dict[str, float] = {}
        self._lock = threading.Lock()

    def wrap(self, name: str, function: Any) -> None:
        invoke = function.invoke

        def timed(event: dict[str, Any]) -> Any:
            started = time.perf_counter()
            try:
                return invoke(event)
            finally:
                elapsed = time.perf_counter() - started
                with self._lock:
                    self.seconds += elapsed
                    self.invocations += 1
                    self.by_function[name] = self.by_function.get(name, 0.0) + elapsed

        function.invoke = timed

    def breakdown(self) -> str:
        spent = sorted(self.by_function.items(), key=lambda item: -item[1])
        return ", ".join(
            f"{name.removesuffix('Function')} {seconds:.1f} s" for name, seconds in spent
        )


def floor_seconds(endpoint: str, rows: int) -> float:
    """The one write no pipeline can skip: each row's result item, 25 per BatchWriteItem,
    to a table on the same moto server."""
    from syncdrop.wiring import aws_client

    dynamodb = aws_client("dynamodb")
    table = "bench-floor"
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[
            {"AttributeName": "job_id", "AttributeType": "S"},
            {"AttributeName": "row_key", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "job_id", "KeyType": "HASH"},
            {"AttributeName": "row_key", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    items = [
        {
            "job_id": {"S": "job-floor"},
            "row_key": {"S": f"{n:010d}"},
            "status": {"S": "COMPLETED"},
            "request_id": {"S": f"rq-{n:07d}"},
            "output_url": {"S": f"https://cdn.example.com/out/{n}.mp4"},
            "columns": {"S": '{"first_name":"Ada","email":"ada@example.com"}'},
        }
        for n in range(1, rows + 1)
    ]
    started = time.perf_counter()
    for start in range(0, rows, 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={table: batch})
    return time.perf_counter() - started


def run(workdir: Path) -> list[Figure]:
    import os

    from syncdrop_local.emulator import SyncEmulator
    from syncdrop_local.runtime.local_runtime import (
        AWS_TEST_ENV,
        REPO_ROOT,
        LocalRuntime,
        MotoServer,
    )
    from syncdrop_local.runtime.template import load_template

    # The e2e suites' own driver (imported at run time: the tests are not type-checked).
    local_system = importlib.import_module("tests.support.local_system")

    body = write_campaign(workdir / "pipeline.csv", ROWS, bad_every=0).read_bytes()
    server = MotoServer()
    endpoint = server.start()
    emulator = SyncEmulator(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        batch_concurrency=CONCURRENCY,
        time_scale=0.0,  # Sync's clock moves only when the driver advances it
        pending_seconds=5,
        processing_seconds_per_line=0.1,
        line_parallelism=10,
    ).start()
    runtime = None
    saved = dict(os.environ)
    try:
        parameters = {
            "NotificationEmail": "person@example.com",
            "SyncApiKey": API_KEY,
            "SyncWebhookSecret": WEBHOOK_SECRET,
            "SyncApiBaseUrl": emulator.url,
            "BatchConcurrency": str(CONCURRENCY),
        }
        if "CopyOutputs" in load_template(REPO_ROOT / "template.yaml")["Parameters"]:
            parameters["CopyOutputs"] = "false"  # the pipeline up to the email; see docs
        runtime = LocalRuntime.start(endpoint, parameters)
        clock = HandlerClock()
        for name, function in runtime.functions.items():
            clock.wrap(name, function)
        system = local_system.LocalSystem(runtime=runtime, emulator=emulator)
        started = time.perf_counter()
        system.drop("incoming/bench-campaign.csv", body)
        local_system.run_to_the_end(system, files=1, timeout=900)
        wall = time.perf_counter() - started
        chunks = len(emulator.batches)
        os.environ.update(AWS_TEST_ENV)
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        floor = floor_seconds(endpoint, ROWS)
    finally:
        if runtime is not None:
            runtime.stop()
        emulator.stop()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
    assert chunks == ROWS // 500, chunks
    per_row, floor_per_row = clock.seconds / ROWS * 1e6, floor / ROWS * 1e6
    return [
        Figure(
            f"6 pipeline: {ROWS:,} rows, {chunks} chunks, wall time",
            wall,
            floor,
            "s",
            baseline_label=(
                "writing the rows' result items alone (BatchWriteItem of 25) to the same "
                "moto server; the wall time also holds the driver's polling and Sync's "
                "emulated processing"
            ),
        ),
        Figure(
            "  syncdrop's own time per row (in handlers)",
            per_row,
            floor_per_row,
            "µs",
            baseline_label=(
                f"the same floor per row; {clock.invocations} handler invocations, "
                f"{clock.seconds:.1f} s inside them: {clock.breakdown()}"
            ),
        ),
    ]
