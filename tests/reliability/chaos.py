"""Many files through the local stack with every fault on: the figures of docs/reliability.md."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from syncdrop import crash_points
from syncdrop_local.emulator import FaultPlan
from syncdrop_local.runtime import moto_iam
from syncdrop_local.runtime.moto_world import DynamoFaults, S3Faults
from syncdrop_local.runtime.sqs_source import DeliveryFaults
from tests.support.csv_files import campaign_rows, to_csv
from tests.support.invariants import InvariantReport, captured_logs, check_invariants
from tests.support.local_system import API_KEY, WEBHOOK_SECRET, LocalSystem, run_to_the_end

# The reconciler and the leases on a seconds scale, so recovery shows within the run.
FAST_BACKSTOP = {
    "POLL_AFTER_MINUTES": "0.05",
    "SUBMITTING_GRACE_MINUTES": "0.05",
    "REPORT_LEASE_SECONDS": "3",
    "FAN_OUT_LEASE_SECONDS": "3",
}
# Share of invocations Lambda ends at a random moment (as its timeout or its memory would).
KILL_RATE = 0.02


@dataclass
class ChaosFigures:
    files: int
    rows: int
    batch_concurrency: int
    seed: int
    wall_seconds: float = 0.0
    faults_injected: dict[str, int] = field(default_factory=dict)
    # What AWS answered besides moto's own: injected throttles, conflicts and SlowDowns, stale
    # and lagging reads, and the transactions that really overlapped on one item.
    aws_faults: dict[str, int] = field(default_factory=dict)
    # SQS's at-least-once delivery: messages received twice, of which while their first
    # invocation ran, and deletes skipped because a later receive held the message.
    deliveries: dict[str, int] = field(default_factory=dict)
    functions_killed: int = 0  # invocations ended mid-way as a timeout or out of memory
    iam_denials: int = 0  # calls of the functions' roles that IAM refused
    crashes: list[str] = field(default_factory=list)
    rows_by_status: dict[str, int] = field(default_factory=dict)
    rows_lost: int = 0
    copies_failed: int = 0
    duplicate_submissions: int = 0
    duplicate_emails: int = 0
    emails: int = 0
    max_open_batches: int = 0
    batches_created: int = 0
    # Single generations: small files, files on a plan without batches, every row's key.
    generation_concurrency: int = 0
    generations_created: int = 0
    generate_posts: int = 0  # POST /v2/generate received, answered or not
    idempotency_keys: int = 0
    max_open_generations: int = 0
    assets_uploaded: int = 0  # media objects uploaded to Sync (each once)
    media_rows: int = 0  # rows whose video is an s3:// media object

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def run_chaos(
    local_system: Any,
    *,
    files: int,
    rows: int,
    batch_concurrency: int,
    seed: int,
    timeout: float,
    intensity: float = 1.0,
    batch_max_lines: int = 500,
    copy_outputs: bool = False,
    knobs: dict[str, Any] | None = None,
    small_files: int = 0,
    media_every: int = 0,
    plan: str = "scale",
    generation_concurrency: int = 3,
) -> tuple[ChaosFigures, InvariantReport]:
    """``copy_outputs``: the videos are copied too, so the output-video faults (refused, reset,
    truncated) are met; a copy costs ~7 requests to moto, so those runs are kept smaller.
    ``knobs``: fault knobs set on top of the ``everything`` preset. ``small_files`` more files
    of 7 rows go as single generations; every ``media_every``-th row's video is one of three
    s3:// media objects (uploaded to Sync as assets); ``plan`` below scale refuses batches."""
    system: LocalSystem = local_system(
        batch_concurrency=batch_concurrency,
        environment=FAST_BACKSTOP,
        parameters={
            "BatchMaxLines": str(batch_max_lines),
            "CopyOutputs": "true" if copy_outputs else "false",
            "GenerationConcurrency": str(generation_concurrency),
            "GenerateRequestsPerMinute": "6000",  # a turn every ~0.06 s: no minute-long waits
        },
        plan=plan,
        faults=FaultPlan.everything(seed=seed, intensity=intensity).configure(**(knobs or {})),
        # DynamoDB's own answers under load: botocore retries the throttles, syncdrop's adapter
        # the throttles that outlive them and the transaction conflicts.
        dynamo_faults=DynamoFaults(
            throttle_rate=0.02,
            conflict_rate=0.05,
            # Reads without ConsistentRead may lag a second; the OpenChunks index half a second.
            stale_read_rate=0.2,
            stale_seconds=1.0,
            gsi_lag_seconds=0.5,
            seed=seed,
        ),
        time_scale=0.0,
        seed=seed,
    )
    if system.aws is not None:
        system.aws.s3_faults = S3Faults(slow_down_rate=0.02, seed=seed)
    for n, source in enumerate(system.runtime.sqs_sources):
        source.faults = DeliveryFaults(
            duplicate_rate=0.1, redeliver_in_flight_rate=0.05, seed=seed * 100 + n
        )
    for function in system.runtime.functions.values():
        # Lambda ending an invocation at any point (its timeout, its memory): one in fifty.
        if hasattr(function, "kill_rate"):
            function.kill_rate = KILL_RATE
    crash_points.disarm_all()
    # Each crash point fires once, somewhere in the run.
    crash_points.arm(crash_points.AFTER_CREATE_BEFORE_RECORD, after=1)
    crash_points.arm(crash_points.FAN_OUT_AFTER_ROWS_WRITTEN, after=2)
    crash_points.arm(crash_points.AFTER_RESULTS_CSV_BEFORE_EMAIL, after=1)
    crash_points.arm(crash_points.INTAKE_AFTER_JOB_RECORDED, after=1)
    if copy_outputs:
        crash_points.arm(crash_points.COPY_AFTER_RECORDED, after=3)
    figures = ChaosFigures(
        files=files + small_files,
        rows=0,
        batch_concurrency=batch_concurrency,
        seed=seed,
        generation_concurrency=generation_concurrency,
    )
    uploads: dict[str, bytes] = {}
    per_file = rows // files
    media = _put_media(system) if media_every else []
    started = time.monotonic()
    sizes = [per_file] * files + [SMALL_FILE_ROWS] * small_files
    for n, size in enumerate(sizes):
        first = n * 100_000 + 1
        data = campaign_rows(size, start=first, fail=set(range(first, first + size, 97)))
        data[1][1] = "http://not-https.example/v.mp4"  # one rejected row per file
        for i in range(2, size, media_every) if media_every else ():
            data[i][1] = media[i % len(media)]
            figures.media_rows += 1
        key = f"incoming/soak/file-{n:02d}.csv"
        uploads[key] = to_csv(data)
        system.drop(key, uploads[key])
        figures.rows += size
    try:
        with captured_logs(watch=(API_KEY, WEBHOOK_SECRET)) as logs:
            run_to_the_end(system, files=files + small_files, timeout=timeout, schedule_every=1.0)
    finally:
        figures.wall_seconds = round(time.monotonic() - started, 1)
        figures.crashes = list(crash_points.fired)
        crash_points.disarm_all()
    report = check_invariants(system, uploads, batch_concurrency=batch_concurrency, logs=logs.text)
    figures.faults_injected = {k: v for k, v in system.emulator.faults.counts().items() if v}
    if system.aws is not None:
        figures.aws_faults = {
            k: v for k, v in system.aws.stats.items() if v and k != "transactions"
        }
    sources = system.runtime.sqs_sources
    roles = {spec.role_arn.rsplit("/", 1)[-1] for spec in system.runtime.stack.functions.values()}
    figures.iam_denials = sum(1 for d in moto_iam.recorder.denied if d.role_name in roles)
    figures.functions_killed = sum(
        getattr(f, "kills_planned", 0) for f in system.runtime.functions.values()
    )
    figures.deliveries = {
        "duplicates": sum(s.duplicates for s in sources),
        "redelivered": sum(s.redelivered for s in sources),
        "stale_receipts": sum(s.stale_receipts for s in sources),
    }
    figures.rows_by_status = dict(report.rows_by_status)
    figures.rows_lost = report.rows_lost
    figures.copies_failed = sum(1 for row in system.results() if row.get("copy_error"))
    figures.duplicate_submissions = report.duplicate_submissions
    figures.duplicate_emails = report.duplicate_emails
    figures.emails = report.emails
    figures.max_open_batches = report.max_open_batches
    figures.batches_created = len(system.emulator.batches)
    generated = system.emulator.generate_counts()
    figures.generations_created = generated.created
    figures.generate_posts = generated.received
    figures.idempotency_keys = generated.distinct_idempotency_keys
    figures.max_open_generations = report.max_open_generations
    figures.assets_uploaded = len(system.emulator.assets())
    return figures, report


# A file this small goes as single generations (BatchMinLines is 20).
SMALL_FILE_ROWS = 7
MEDIA_OBJECTS = 3


def _put_media(system: LocalSystem) -> list[str]:
    """Three base videos in the bucket's media/ folder, shared by many rows."""
    uris = []
    for n in range(MEDIA_OBJECTS):
        key = f"media/base-{n}.mp4"
        system.drop(key, MEDIA_BYTES + bytes([n]) * 64)
        uris.append(f"s3://{system.bucket}/{key}")
    return uris


# Enough of an MP4's start for a media object (Sync's emulator does not decode it).
MEDIA_BYTES = bytes.fromhex("000000186674797069736f6d0000020069736f6d69736f32")
