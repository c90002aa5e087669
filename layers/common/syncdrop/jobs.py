"""Jobs (one per uploaded file version) and their chunks (one Sync batch each)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class JobStatus(StrEnum):
    RECEIVED = "RECEIVED"  # recorded; the file is being read
    RUNNING = "RUNNING"  # chunks recorded; batches being submitted or processed
    COMPLETED = "COMPLETED"  # every chunk terminal; the report is written
    FAILED = "FAILED"  # the file could not be used; ``message`` says why
    VALIDATED = "VALIDATED"  # a dry run finished; ``message`` holds the verdict
    CANCELLED = "CANCELLED"  # `syncdrop cancel`: queued chunks never sent; the rest finished


class SubmitMode(StrEnum):
    """How a deployment sends rows to Sync (the SubmitMode parameter)."""

    AUTO = "auto"  # batches for files big enough (and plans that allow them), else generations
    BATCH = "batch"  # the Batch API only (Scale and Enterprise plans)
    GENERATE = "generate"  # one POST /v2/generate per row (every plan)


class ChunkKind(StrEnum):
    """What one chunk is at Sync: a batch of rows, or one row's single generation."""

    BATCH = "BATCH"
    GENERATION = "GENERATION"


class ChunkStatus(StrEnum):
    QUEUED = "QUEUED"
    SUBMITTING = "SUBMITTING"  # a slot is held and POST /v2/batch may be in flight
    SUBMITTED = "SUBMITTED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    # A batch Sync refused for the plan (402): its rows went on as single generations.
    REPLACED = "REPLACED"
    # Its job was cancelled while it waited in the queue: never sent to Sync.
    CANCELLED = "CANCELLED"

    @property
    def is_open(self) -> bool:
        return self in (ChunkStatus.QUEUED, ChunkStatus.SUBMITTING, ChunkStatus.SUBMITTED)


@dataclass(frozen=True, slots=True)
class UploadRef:
    """One version of one uploaded object, as the S3 event named it (key already decoded)."""

    bucket: str
    key: str
    version_id: str | None
    size: int | None = None
    etag: str | None = None
    # Without versioning there is no versionId: the event's own time tells uploads apart.
    event_time: str | None = None

    @property
    def file_name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def is_dry_run(self) -> bool:
        return self.key.startswith("incoming/dry-run/")

    @property
    def kind(self) -> str:
        return "jsonl" if self.key.lower().endswith(".jsonl") else "csv"

    @property
    def job_id(self) -> str:
        identity = self.version_id or f"{self.etag or ''}@{self.event_time or ''}"
        return job_id_for(self.bucket, self.key, identity)


def job_id_for(bucket: str, key: str, version_id: str) -> str:
    """Deterministic: a redelivered event for the same object version maps to the same job."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version_id}".encode()).hexdigest()
    return f"job-{digest[:24]}"


@dataclass(slots=True)
class Job:
    job_id: str
    upload: UploadRef
    status: JobStatus
    created_at: datetime
    rows: int = 0
    valid: int = 0
    rejected: int = 0
    chunk_count: int = 0
    columns: list[str] = field(default_factory=list)
    message: str = ""
    plan: list[int] = field(default_factory=list)  # rows per planned batch
    notified_at: datetime | None = None  # the one email went out
    # "batch" or "generate": how the rows went to Sync; ``route_note`` says why (for the email).
    route: str = "batch"
    route_note: str = ""
    # Chunks closed so far, counted in the same write that closes each (None: not counted).
    chunks_closed: int | None = None
    # When the reconciler finishes the job with what is known (JobDeadlineHours after upload).
    deadline: datetime | None = None
    # The job whose failed rows this upload resubmits (`syncdrop retry`), "" for a new file.
    retry_of: str = ""
    # Who asked to cancel the job and when (`syncdrop cancel`), "" when nobody did.
    cancel_requested: str = ""
    # Who is told (decided at intake, so a retried or reconciler-sent email goes to the same
    # people); empty: only subscribers without a filter on them. ``notify_note`` says which
    # addresses in the upload's metadata were not used, for the email.
    notify: list[str] = field(default_factory=list)
    notify_note: str = ""

    def past_deadline(self, now: datetime) -> bool:
        return self.deadline is not None and now >= self.deadline

    @property
    def finished_at_deadline(self) -> bool:
        """Its email went out at the deadline: later outcomes rewrite the results CSV."""
        return (
            self.deadline is not None
            and self.notified_at is not None
            and self.notified_at >= self.deadline
        )


@dataclass(slots=True)
class Chunk:
    job_id: str
    number: int
    status: ChunkStatus
    rows: int
    input_key: str
    manifest_key: str
    batch_id: str | None = None
    updated_at: datetime | None = None
    error: str = ""
    attempts: int = 0
    submitted_at: datetime | None = None
    results_written: bool = False  # every row of the chunk has its results item
    copies_enqueued: bool = True  # the copy tasks of its rows are on the outputs queue
    copies_done: bool = True  # no copy of its videos is still PENDING (set at close, or after)
    # The chunk's first and last results row keys, set at close: its copies are counted there.
    first_row_key: str = ""
    last_row_key: str = ""
    fan_out_attempts: int = 0  # fan-outs begun after Sync said the batch was over
    fan_out_error: str = ""  # why the last one failed
    last_sync_status: str = ""  # as a webhook or a poll last reported it
    kind: ChunkKind = ChunkKind.BATCH
    # A generation's one Sync line and its manifest entry live in the chunk item itself
    # (no S3 object per row); a batch's live in S3 at input_key / manifest_key.
    line: str = ""
    manifest: str = ""

    @property
    def idempotency_key(self) -> str:
        """The Idempotency-Key of this row's POST /v2/generate: the same on every attempt."""
        return f"syncdrop-{self.job_id}-{self.number:06d}"

    @property
    def holder(self) -> str:
        """How this chunk is named in the batch-capacity set."""
        return f"{self.job_id}#{self.number}"


def results_key(upload_key: str) -> str:
    """Where the results CSV goes: incoming/a/b.csv → results/a/b.results.csv."""
    relative = upload_key.removeprefix("incoming/")
    stem = relative.rsplit(".", 1)[0] if "." in relative.rsplit("/", 1)[-1] else relative
    return f"results/{stem}.results.csv"


def report_page_key(upload_key: str) -> str:
    """The report page beside the results CSV: results/a/b.report.html."""
    return results_key(upload_key).removesuffix(".results.csv") + ".report.html"


def outputs_prefix(upload_key: str) -> str:
    """Where a file's videos go: incoming/a/b.csv → outputs/a/b/."""
    return results_key(upload_key).removeprefix("results/").removesuffix(".results.csv")


def output_key(upload_key: str, request_id: str) -> str:
    return f"outputs/{outputs_prefix(upload_key)}/{request_id}.mp4"


def chunk_keys(job_id: str, number: int) -> tuple[str, str]:
    """S3 keys of a chunk's Sync JSONL and of its row manifest (row numbers and columns)."""
    base = f"work/{job_id}/chunk-{number:05d}"
    return f"{base}.jsonl", f"{base}.rows.jsonl"
