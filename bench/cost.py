"""What a file costs on AWS, from what the local stack counts, next to what Sync charges.

``python -m bench.cost`` runs the whole pipeline locally (moto with IAM enforced, the Sync
emulator, every function in its own process) on a 500-row and a 1,000-row campaign file and
counts, per file: every AWS request a function's role makes (moto's IAM decisions), each
function's invocations and the seconds spent in them, the webhooks. Two sizes give a fixed part
and a per-row part; ``bill`` prices any row count from them at the prices in ``PRICES``.
``--counts FILE`` writes the counts; ``--from FILE`` prices saved counts without a run.
The free tier is left out on purpose: the table is what a file adds to a bill that already
uses it. docs/performance.md, "What it costs", says what is measured and what is assumed.
"""

from __future__ import annotations

import argparse
import json
import math
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SIZES = (500, 1_000)

# us-east-1 list prices, read 3 Dec 2026 (sources in docs/performance.md).
PRICES: dict[str, float] = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,  # on-demand WRU: one write of up to 1 KB
    "dynamodb_read_unit": 0.125 / 1e6,  # on-demand RRU: one strongly consistent read of 4 KB
    "s3_put": 0.005 / 1e3,  # PUT, COPY, POST, LIST
    "s3_get": 0.0004 / 1e3,  # GET, HEAD and the rest
    "sqs_request": 0.40 / 1e6,  # per 64 KB chunk of a request
    "sns_publish": 0.50 / 1e6,
    "sns_email": 2.00 / 1e5,
    "http_api_request": 1.00 / 1e6,
    "secrets_api_call": 0.05 / 1e4,
    "secret_month": 0.40,
    "logs_ingest_gb": 0.50,
}
# Sync's per-second prices at 25 fps, the upper end of each range on its billing page.
SYNC_USD_PER_SECOND = {"lipsync-2": 0.05, "lipsync-2-pro": 0.083, "sync-3": 0.133}
VIDEO_SECONDS = 30.0  # the assumed length of each output video

DYNAMO_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
DYNAMO_READS = {"GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"}
# One IAM decision per BatchWriteItem/BatchGetItem call, but one request unit per item:
# syncdrop's batch calls carry 25 items (the last of a chunk fewer, counted full).
BATCH_CALLS = {"BatchWriteItem", "BatchGetItem"}
ITEMS_PER_BATCH_CALL = 25
S3_PUT_CLASS = {"PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "ListBucket"}


@dataclass
class FileCounts:
    """What the local stack counted for one file of ``rows`` rows."""

    rows: int
    # Counts are floats: the line through two sizes gives fractions.
    requests: dict[str, float] = field(default_factory=dict)  # "dynamodb:PutItem" -> n
    invocations: dict[str, float] = field(default_factory=dict)  # logical function id -> n
    seconds: dict[str, float] = field(default_factory=dict)  # in handlers, as invoked
    webhooks: float = 0  # POSTs to the HTTP API
    emails: float = 0
    log_bytes: float = 0
    # The scheduled reconciler runs whether files come or not: a monthly cost, not a file's.
    reconcile_runs: int = 0
    reconcile_seconds: float = 0.0


@dataclass(frozen=True)
class Function:
    memory_mb: int
    arm64: bool


def functions_from_template() -> dict[str, Function]:
    """Each function's MemorySize and architecture, as the template (with its Globals) sets."""
    from syncdrop_local.runtime.template import load_template

    template = load_template(REPO / "template.yaml")
    defaults = template.get("Globals", {}).get("Function", {})
    found = {}
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **resource.get("Properties", {})}
        arch = properties.get("Architectures", ["x86_64"])
        found[name] = Function(int(properties.get("MemorySize", 128)), arch == ["arm64"])
    return found


def reconcile_interval() -> float:
    """The template's default ReconcileIntervalMinutes."""
    from syncdrop_local.runtime.template import load_template

    parameters = load_template(REPO / "template.yaml")["Parameters"]
    return float(parameters["ReconcileIntervalMinutes"]["Default"])


def per_row_line(small: FileCounts, large: FileCounts, rows: int) -> FileCounts:
    """Counts for ``rows`` rows: requests and invocations on the line through two measured
    sizes (fixed + per row); each function's seconds as its invocations there times its
    seconds per invocation in the larger run (times on a shared machine are too noisy to fit)."""
    span = large.rows - small.rows

    def at(a: float, b: float) -> float:
        return max(0.0, a + (b - a) * (rows - small.rows) / span)

    def each(x: dict[str, Any], y: dict[str, Any]) -> dict[str, Any]:
        return {k: at(x.get(k, 0), y.get(k, 0)) for k in sorted(set(x) | set(y))}

    invocations = each(small.invocations, large.invocations)
    seconds = {
        name: invocations.get(name, 0) * spent / large.invocations[name]
        for name, spent in large.seconds.items()
        if large.invocations.get(name)
    }
    return FileCounts(
        rows=rows,
        requests=each(small.requests, large.requests),
        invocations=invocations,
        seconds=seconds,
        webhooks=at(small.webhooks, large.webhooks),
        emails=at(small.emails, large.emails),
        log_bytes=at(small.log_bytes, large.log_bytes),
        reconcile_runs=large.reconcile_runs,
        reconcile_seconds=large.reconcile_seconds,
    )


def _sum(requests: dict[str, float], service: str, names: set[str] | None = None) -> float:
    return sum(
        n * (ITEMS_PER_BATCH_CALL if key.split(":")[1] in BATCH_CALLS else 1)
        for key, n in requests.items()
        if key.split(":")[0] == service and (names is None or key.split(":")[1] in names)
    )


def bill(counts: FileCounts, functions: dict[str, Function]) -> dict[str, float]:
    """US dollars per line of the bill for one file (free tier excluded)."""
    p, r = PRICES, counts.requests
    gb_seconds_price = 0.0
    for name, seconds in counts.seconds.items():
        fn = functions[name]
        rate = p["lambda_gb_second_arm64"] if fn.arm64 else p["lambda_gb_second_x86"]
        gb_seconds_price += seconds * fn.memory_mb / 1024 * rate
    s3_put = _sum(r, "s3", S3_PUT_CLASS)
    return {
        "Lambda compute (GB-s)": gb_seconds_price,
        "Lambda requests": sum(counts.invocations.values()) * p["lambda_request"],
        "DynamoDB writes": _sum(r, "dynamodb", DYNAMO_WRITES) * p["dynamodb_write_unit"],
        "DynamoDB reads": _sum(r, "dynamodb", DYNAMO_READS) * p["dynamodb_read_unit"],
        "S3 requests": s3_put * p["s3_put"] + (_sum(r, "s3") - s3_put) * p["s3_get"],
        "SQS requests": _sum(r, "sqs") * p["sqs_request"],
        "SNS (publish + email)": _sum(r, "sns") * p["sns_publish"] + counts.emails * p["sns_email"],
        "HTTP API (webhooks)": counts.webhooks * p["http_api_request"],
        "Secrets Manager calls": _sum(r, "secretsmanager") * p["secrets_api_call"],
        "CloudWatch Logs ingest": counts.log_bytes / 1e9 * p["logs_ingest_gb"],
    }


def monthly_fixed(
    counts: FileCounts, functions: dict[str, Function], interval_minutes: float
) -> dict[str, float]:
    """What the stack costs a month with no file at all: its two secrets and the reconciler."""
    runs = 30 * 24 * 60 / interval_minutes
    per_run = counts.reconcile_seconds / counts.reconcile_runs if counts.reconcile_runs else 0.0
    fn = functions["ReconcileFunction"]
    rate = PRICES["lambda_gb_second_arm64"] if fn.arm64 else PRICES["lambda_gb_second_x86"]
    return {
        "Secrets Manager, 2 secrets": 2 * PRICES["secret_month"],
        f"Reconcile every {interval_minutes:g} min (compute)": runs
        * per_run
        * fn.memory_mb
        / 1024
        * rate,
        f"Reconcile every {interval_minutes:g} min (requests)": runs * PRICES["lambda_request"],
    }


def sync_charge(rows: int, model: str = "lipsync-2", seconds: float = VIDEO_SECONDS) -> float:
    return rows * seconds * SYNC_USD_PER_SECOND[model]


def measure(rows: int, workdir: Path) -> FileCounts:
    """One file of ``rows`` rows through the whole local stack, everything counted."""
    import importlib
    import os

    from bench.files import write_campaign
    from bench.pipeline import API_KEY, CONCURRENCY, WEBHOOK_SECRET, HandlerClock
    from syncdrop_local.emulator import SyncEmulator
    from syncdrop_local.runtime import moto_iam
    from syncdrop_local.runtime.local_runtime import LocalRuntime, MotoServer

    local_system = importlib.import_module("tests.support.local_system")
    body = write_campaign(workdir / f"cost-{rows}.csv", rows, bad_every=0).read_bytes()
    counts = FileCounts(rows=rows)
    requests: Counter[str] = Counter()
    lock = threading.Lock()

    def count(decision: Any) -> None:
        if decision.role_name:  # a function's role; the harness's own calls are not billed
            with lock:
                requests[decision.action] += 1

    server = MotoServer()
    endpoint = server.start()
    emulator = SyncEmulator(
        api_key=API_KEY,
        webhook_secret=WEBHOOK_SECRET,
        batch_concurrency=CONCURRENCY,
        time_scale=0.0,
        pending_seconds=5,
        processing_seconds_per_line=0.1,
        line_parallelism=10,
    ).start()
    runtime = None
    saved = dict(os.environ)
    unsubscribe = moto_iam.recorder.subscribe(count)
    try:
        runtime = LocalRuntime.start(
            endpoint,
            {
                "NotificationEmail": "person@example.com",
                "SyncApiKey": API_KEY,
                "SyncWebhookSecret": WEBHOOK_SECRET,
                "SyncApiBaseUrl": emulator.url,
                "BatchConcurrency": str(CONCURRENCY),
            },
            lambda_processes=True,
            enforce_iam=True,
        )
        clock = HandlerClock()
        for name, function in runtime.functions.items():
            clock.wrap(name, function)
        system = local_system.LocalSystem(runtime=runtime, emulator=emulator)
        # The harness runs the reconciler every half second; EventBridge runs it every few
        # minutes, a monthly cost of its own: its invocations are left out of the file's.
        system.drop("incoming/cost-campaign.csv", body)
        local_system.run_to_the_end(system, files=1, timeout=900)
        time.sleep(0.5)  # the last decisions of the last invocation
        with lock:
            counts.requests = {action: float(n) for action, n in requests.items()}
        counts.emails = len(runtime.collect_emails())
        by_function = clock.by_function
        counts.seconds = {k: v for k, v in by_function.items() if k != "ReconcileFunction"}
        counts.reconcile_seconds = by_function.get("ReconcileFunction", 0.0)
        counts.reconcile_runs = int(
            getattr(runtime.functions["ReconcileFunction"], "invocations", 0)
        )
        counts.invocations = {
            name: int(getattr(function, "invocations", 0))
            for name, function in runtime.functions.items()
            if name != "ReconcileFunction"
        }
        counts.webhooks = counts.invocations.get("ReceiveWebhookFunction", 0)
        counts.log_bytes = _log_bytes(runtime)
    finally:
        unsubscribe()
        if runtime is not None:
            runtime.stop()
        emulator.stop()
        server.stop()
        os.environ.clear()
        os.environ.update(saved)
    return counts


def _log_bytes(runtime: Any) -> int:
    """What the functions (the reconciler aside) wrote to their logs, in bytes."""
    total = 0
    for name, function in runtime.functions.items():
        if name == "ReconcileFunction" or not hasattr(function, "log_lines"):
            continue
        lines = function.log_lines()
        if len(lines) >= (function.log._lines.maxlen or 0):
            raise RuntimeError(f"{name}: more log lines than the runtime keeps")
        total += sum(len(line.encode()) + 1 for line in lines)
    return total


def table(functions: dict[str, Function], small: FileCounts, large: FileCounts) -> str:
    lines = [
        "| line of the bill | 1,000 rows | 100,000 rows |",
        "|---|---:|---:|",
    ]
    one, hundred = per_row_line(small, large, 1_000), per_row_line(small, large, 100_000)
    bill_one, bill_hundred = bill(one, functions), bill(hundred, functions)
    for name in bill_one:
        lines.append(f"| {name} | ${bill_one[name]:,.6f} | ${bill_hundred[name]:,.4f} |")
    lines.append(
        f"| **AWS, per file** | **${sum(bill_one.values()):,.4f}** | "
        f"**${sum(bill_hundred.values()):,.2f}** |"
    )
    for model in SYNC_USD_PER_SECOND:
        lines.append(
            f"| Sync, {model}, {VIDEO_SECONDS:.0f} s a video | ${sync_charge(1_000, model):,.2f} | "
            f"${sync_charge(100_000, model):,.2f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__)
    parser.add_argument("--counts", type=Path, help="write the measured counts to this file")
    parser.add_argument("--from", dest="saved", type=Path, help="price these saved counts")
    args = parser.parse_args()
    functions = functions_from_template()
    if args.saved:
        small, large = (FileCounts(**item) for item in json.loads(args.saved.read_text()))
    else:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="syncdrop-cost-") as scratch:
            small, large = (measure(rows, Path(scratch)) for rows in SIZES)
        if args.counts:
            args.counts.write_text(json.dumps([asdict(small), asdict(large)], indent=1))
    print(table(functions, small, large))
    print("\nevery month, files or not:")
    for name, usd in monthly_fixed(large, functions, reconcile_interval()).items():
        print(f"- {name}: ${usd:,.2f}")
    per_row = per_row_line(small, large, 1_000)
    print("\nper file of 1,000 rows:", json.dumps(asdict(per_row), indent=1, default=str))
    print("chunks of 500 rows per 100,000-row file:", math.ceil(100_000 / 500))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
