"""Requests per chunk: every AWS and Sync call to submit one 500-row chunk and to fan it out."""

from __future__ import annotations

import importlib.util
import io
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.figures import Figure
from bench.files import HEADER, campaign_rows

REPO = Path(__file__).resolve().parents[1]
ROWS = 500
API_KEY = "sk-bench"
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


def load_handler(name: str, environment: dict[str, str]) -> ModuleType:
    """The function's module, its runtime() built in the function's environment as Lambda would."""
    path = REPO / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        module.runtime()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module


@contextmanager
def counting_aws() -> Iterator[Counter[tuple[str, str]]]:
    """Every AWS call (botocore's before-call) of the clients syncdrop's shared boto3 session
    creates from now on; clear the counter to start a count."""
    from syncdrop.wiring import _session

    calls: Counter[tuple[str, str]] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[(model.service_model.service_name, model.name)] += 1

    events = _session().events
    events.register("before-call", count, unique_id="bench-count")
    try:
        yield calls
    finally:
        events.unregister("before-call", unique_id="bench-count")


def campaign_csv(rows: int) -> bytes:
    import csv

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(campaign_rows(rows, bad_every=0))
    return text.getvalue().encode()


def measure() -> tuple[Counter[tuple[str, str]], list[Any], Counter[tuple[str, str]], list[Any]]:
    from moto import mock_aws

    from syncdrop.domain.fan_out import FanOutOutcome, fan_out_chunk
    from syncdrop.domain.intake import accept_upload
    from syncdrop.domain.submission import submit_chunks
    from syncdrop.jobs import UploadRef
    from syncdrop_local.emulator import SyncEmulator
    from syncdrop_local.runtime.local_runtime import AWS_TEST_ENV, REPO_ROOT
    from syncdrop_local.runtime.stack import deploy

    os.environ.update(AWS_TEST_ENV)
    emulator = SyncEmulator(
        api_key=API_KEY,
        webhook_secret=None,
        batch_concurrency=5,
        time_scale=0.0,
        pending_seconds=1,
        processing_seconds_per_line=0.01,
    ).start()
    try:
        with mock_aws(), counting_aws() as calls:
            stack = deploy(
                REPO_ROOT,
                None,
                {
                    "NotificationEmail": "person@example.com",
                    "SyncApiKey": API_KEY,
                    "SyncApiBaseUrl": emulator.url,
                    "BatchConcurrency": "5",
                },
                extra_environment=dict(AWS_TEST_ENV),
                api_base_url="http://127.0.0.1:9",
            )
            submit = load_handler(
                "submit_batch", stack.functions["SubmitBatchFunction"].environment
            )
            fan_out = load_handler(
                "fan_out_results", stack.functions["FanOutResultsFunction"].environment
            )
            _settings, services, limits = submit.runtime()
            body = campaign_csv(ROWS)
            bucket = stack.ref("UploadsBucket")
            put = stack.client("s3").put_object(Bucket=bucket, Key="incoming/bench.csv", Body=body)
            upload = UploadRef(bucket, "incoming/bench.csv", put.get("VersionId"), len(body))
            outcome = accept_upload(services, upload, limits)  # setup: not counted
            assert [c.rows for c in outcome.chunks] == [ROWS], outcome.chunks

            calls.clear()
            emulator.clear_records()
            report = submit_chunks(services, outcome.chunks, batch_concurrency=5, webhook_base="")
            submit_aws, submit_sync = Counter(calls), emulator.requests
            assert len(report.submitted) == 1, report

            emulator.advance(10_000)  # Sync finishes the batch
            fan_services = fan_out.runtime()[1]
            calls.clear()
            emulator.clear_records()
            done = fan_out_chunk(fan_services, upload.job_id, 1)
            fan_aws, fan_sync = Counter(calls), emulator.requests
            assert done is FanOutOutcome.WRITTEN, done
    finally:
        emulator.stop()
    return submit_aws, submit_sync, fan_aws, fan_sync


def _total(calls: Counter[tuple[str, str]], keep: Callable[[str, str], bool]) -> int:
    return sum(n for (service, operation), n in calls.items() if keep(service, operation))


def run(workdir: Path) -> list[Figure]:
    submit_aws, submit_sync, fan_aws, fan_sync = measure()
    rows_writes = math.ceil(ROWS / 25)
    fan_writes = _total(fan_aws, lambda s, op: s == "dynamodb" and op in WRITES)
    api = [r for r in fan_sync if r.path.startswith("/v2/")]
    hops = [r for r in fan_sync if not r.path.startswith("/v2/")]

    def listed(calls: Counter[tuple[str, str]]) -> str:
        return ", ".join(f"{op} {n}" for (_, op), n in sorted(calls.items()))

    secrets = _total(submit_aws, lambda s, op: s == "secretsmanager")
    return [
        Figure(
            "4 submit one 500-row chunk: AWS calls",
            _total(submit_aws, lambda s, op: True),
            3 + secrets,
            "calls",
            baseline_label=(
                "minimum: read the chunk file, claim a batch slot, record the batch id"
                + (" (+ the API key, cached 5 min)" if secrets else "")
                + f"; made: {listed(submit_aws)}"
            ),
        ),
        Figure(
            "  submit: Sync calls",
            len(submit_sync),
            1,
            "calls",
            baseline_label="minimum: POST /v2/batch",
        ),
        Figure(
            "4 fan out 500 rows: DynamoDB writes",
            fan_writes,
            rows_writes + 1,
            "calls",
            baseline_label=(
                f"minimum: {rows_writes} BatchWriteItem of 25 rows + closing the chunk; "
                f"made: {listed(fan_aws)}"
            ),
            target=f"<= {rows_writes + 3}",
            met=fan_writes <= rows_writes + 3,
        ),
        Figure(
            "  fan out: all AWS calls",
            sum(fan_aws.values()),
            rows_writes + 3,
            "calls",
            baseline_label="minimum: the chunk, its manifest, the rows, closing the chunk",
        ),
        Figure(
            "  fan out: Sync API calls",
            len(api),
            2,
            "calls",
            baseline_label=(
                "GET batch, GET result (its 302 counts once: the file itself comes from "
                f"the signed storage URL, {len(hops)} request(s), not from Sync's API)"
            ),
            target="= 2",
            met=len(api) == 2,
        ),
    ]
