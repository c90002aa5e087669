"""Turn one uploaded file into a job: read and validate rows, plan chunks, record them."""

from __future__ import annotations

import json
import tempfile
from array import array
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice
from json.encoder import encode_basestring
from operator import add
from typing import IO, BinaryIO

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.domain.deadline import fail_queued_chunks
from syncdrop.domain.generation_chunks import generation_chunk
from syncdrop.domain.media_links import s3_link_checker
from syncdrop.domain.routes import Route, choose_route
from syncdrop.domain.services import Services
from syncdrop.domain.sync_media import MediaRefused, with_assets_lines
from syncdrop.errors import (
    SyncdropError,
    SyncOutcomeUnknown,
    SyncRejected,
    TransientError,
    UploadMissing,
    UploadRefused,
)
from syncdrop.intake import (
    AcceptedRow,
    FileRejected,
    IntakeRules,
    PlanImpossible,
    RowRejection,
    UploadReader,
    plan_chunks,
)
from syncdrop.jobs import Chunk, ChunkStatus, Job, JobStatus, SubmitMode, UploadRef, chunk_keys
from syncdrop.keys import row_key
from syncdrop.recipients import PrefixRule, recipients_for
from syncdrop.report.wording import count, plural
from syncdrop.retry_tag import retry_of_from
from syncdrop.s3_events import hidden_characters
from syncdrop.sync_models import Batch

logger = Logger(service="syncdrop", child=True)

# What a stored copy of a person's columns may cost in one DynamoDB item (limit: 400 KB).
COLUMNS_BUDGET = 32_000
REJECTIONS_PER_WRITE = 500


@dataclass(frozen=True, slots=True)
class IntakeLimits:
    rules: IntakeRules
    max_upload_bytes: int
    min_lines: int
    max_lines: int
    max_bytes: int
    # After this, the reconciler finishes the job with what is known (JobDeadlineHours).
    job_deadline: timedelta = timedelta(hours=48)
    mode: SubmitMode = SubmitMode.AUTO
    # NotifyPrefixRules: who is told about files under a folder, when the upload names nobody.
    notify_rules: tuple[PrefixRule, ...] = ()

    @classmethod
    def for_deployment(
        cls,
        *,
        uploads_bucket: str,
        default_model: str,
        max_rows: int,
        max_upload_bytes: int,
        min_lines: int,
        max_lines: int,
        max_bytes: int,
        job_deadline_hours: float = 48,
        mode: SubmitMode = SubmitMode.AUTO,
        notify_rules: tuple[PrefixRule, ...] = (),
    ) -> IntakeLimits:
        """What a deployment checks uploads against; submit_batch and `syncdrop upload` alike."""
        rules = IntakeRules(
            default_model=default_model,
            max_rows=max_rows,
            max_line_bytes=max_bytes // min_lines,  # a longer line fits no batch
            presign_s3=s3_link_checker(uploads_bucket),
        )
        return cls(
            rules=rules,
            max_upload_bytes=max_upload_bytes,
            min_lines=min_lines,
            max_lines=max_lines,
            max_bytes=max_bytes,
            job_deadline=timedelta(hours=job_deadline_hours),
            mode=mode,
            notify_rules=notify_rules,
        )


@dataclass(frozen=True, slots=True)
class IntakeOutcome:
    job: Job
    chunks: list[Chunk]
    fresh: bool  # False when an earlier delivery already read this file


def compact_columns(columns: dict[str, str]) -> str:
    """The person's columns as JSON, with long values cut so one row fits one item."""
    text = json.dumps(columns, ensure_ascii=False, separators=(",", ":"))
    share = COLUMNS_BUDGET // max(1, len(columns))
    while len(text) > COLUMNS_BUDGET and share > 1:
        share //= 2
        cut = {k[:share]: v if len(v) <= share else v[:share] + "…" for k, v in columns.items()}
        text = json.dumps(cut, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= COLUMNS_BUDGET else "{}"


def rejection_item(rejection: RowRejection) -> dict[str, object]:
    return {
        "row_key": row_key(rejection.row_number),
        "row_number": rejection.row_number,
        "request_id": rejection.request_id or "",
        "status": "REJECTED",
        "error_message": rejection.reason,
        "columns": compact_columns(rejection.columns),
    }


class _SpooledRows:
    """Accepted rows kept on local disk (Lambda's /tmp) so memory stays flat for any file."""

    # Rows go to disk this many at a time: one write per batch instead of two per row.
    WRITE_BATCH = 512

    def __init__(self) -> None:
        # Closed by close(); the spool outlives any one with-block.
        self.lines: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        self.manifest: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        # Each line's size, for the planner: 2 bytes a row until a line reaches 64 KB.
        self.sizes = array("H")
        self._lines: list[bytes] = []
        self._manifest: list[str] = []
        self._names: object = None
        self._keys: list[str] = []

    def add(self, row: AcceptedRow) -> None:
        line, lines = row.line, self._lines
        lines.append(line)
        if row.names is not self._names:  # every row of a file shares one header
            self._names = row.names
            self._keys = [encode_basestring(name) + ":" for name in row.names]
        # {"row", "request_id", "columns"} as compact JSON, assembled: this runs once per row.
        columns = ",".join(map(add, self._keys, map(encode_basestring, row.cells)))
        self._manifest.append(
            f'{{"row":{row.row_number},"request_id":{encode_basestring(row.request_id)},'
            f'"columns":{{{columns}}}}}'
        )
        try:
            self.sizes.append(len(line))
        except OverflowError:  # 4 bytes a row from now on (a line is at most 5 MB / 20)
            self.sizes = array("I", self.sizes)
            self.sizes.append(len(line))
        if len(lines) >= self.WRITE_BATCH:
            self._write()

    def _write(self) -> None:
        if self._lines:
            self.lines.write(b"\n".join(self._lines) + b"\n")
            self.manifest.write(("\n".join(self._manifest) + "\n").encode())
            self._lines.clear()
            self._manifest.clear()

    def chunks(self, plan: list[range]) -> Iterator[tuple[int, bytes, bytes]]:
        self._write()
        self.lines.seek(0)
        self.manifest.seek(0)
        for number, span in enumerate(plan, start=1):
            lines = self.lines.read(sum(self.sizes[span.start : span.stop]) + len(span))
            manifest = b"".join(islice(self.manifest, len(span)))
            yield number, lines, manifest

    def close(self) -> None:
        self.lines.close()
        self.manifest.close()


def _fail_file(services: Services, job: Job, message: str) -> Job:
    job.status = JobStatus.FAILED
    job.message = message
    services.jobs.finish_intake(job)
    logger.info("file refused", extra={"job_id": job.job_id, "reason": message})
    return job


def too_big(size: int, limit: int) -> str:
    # Megabytes read better, but just over the limit they would round to the limit itself.
    shown = f"{size / 1e6:.1f} MB" if round(size / 1e6, 1) > limit / 1e6 else f"{size:,} bytes"
    return (
        f"The file is {shown}, more than this deployment accepts ({limit / 1e6:g} MB). "
        "Split it into smaller files."
    )


# S3's 403 for a read of the upload: to a role without s3:ListBucket that is how a deleted
# version looks; otherwise the object is one syncdrop may not read.
REFUSED_UPLOAD = (
    "syncdrop was not allowed to read the file (S3 answered AccessDenied). Usually the file was "
    "deleted or replaced before syncdrop could read it; otherwise it is encrypted with a KMS key "
    "syncdrop may not use. Upload it again, with the bucket's default encryption."
)


def hidden_key(hidden: list[str]) -> str:
    """Why a key with control or format characters is refused, those characters escaped."""
    return (
        "The file's name contains characters that cannot be seen or that change how it reads "
        f"({', '.join(hidden[:5])}): control, format (such as right-to-left overrides) or "
        "line-break characters. Rename the file using visible characters only and upload it "
        "again."
    )


def accept_upload(
    services: Services,
    upload: UploadRef,
    limits: IntakeLimits,
    *,
    last_attempt: bool = False,
    attempts: int = 1,
) -> IntakeOutcome:
    """Record the job for this upload version and, the first time, read the file into chunks.

    Every write is idempotent, so a redelivered or retried event finds the same job and
    the same chunks and never plans a second set. On the last attempt (``attempts`` receives
    of its message), a file that still cannot be read ends the job FAILED with the reason.
    """
    try:
        return _accept(services, upload, limits)
    except Exception as exc:
        if not last_attempt:
            raise
        return _give_up(services, upload, exc, attempts, limits)


def _tell(
    services: Services,
    job: Job,
    limits: IntakeLimits,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Decide who is told about this file; ``metadata`` None: read it (HeadObject) first."""
    if metadata is None:
        try:
            metadata = services.objects.upload_metadata(job.upload)
        except SyncdropError:  # unreadable: the prefix rule still applies
            metadata = {}
    recipients = recipients_for(job.upload.key, metadata, limits.notify_rules)
    job.notify, job.notify_note = list(recipients.addresses), recipients.note
    job.retry_of = retry_of_from(metadata)  # set by `syncdrop retry`


def _give_up(
    services: Services,
    upload: UploadRef,
    error: Exception,
    attempts: int,
    limits: IntakeLimits | None = None,
) -> IntakeOutcome:
    job = services.jobs.get_job(upload.job_id)
    if job is None or job.status is not JobStatus.RECEIVED:
        raise error  # nothing recorded to finish (or it finished meanwhile): the DLQ takes it
    why = str(error) if isinstance(error, SyncdropError) else type(error).__name__
    reason = (
        f"syncdrop could not read the file after {plural(attempts, 'attempt')} ({why}). Upload it "
        "again; if it fails again, quote the job id when you ask for help."
    )
    logger.warning("file given up after its last attempt", extra={"job_id": job.job_id})
    if limits is not None:
        _tell(services, job, limits, {})  # the file could not be read: its metadata neither
    failed = _fail_file(services, job, reason)
    fail_queued_chunks(services, job.job_id, reason, services.clock())
    return IntakeOutcome(job=failed, chunks=[], fresh=True)


def _accept(services: Services, upload: UploadRef, limits: IntakeLimits) -> IntakeOutcome:
    now = services.clock()
    job = services.jobs.create_job(
        Job(
            job_id=upload.job_id,
            upload=upload,
            status=JobStatus.RECEIVED,
            created_at=now,
            deadline=now + limits.job_deadline,
        )
    )
    crash_points.reached(crash_points.INTAKE_AFTER_JOB_RECORDED)
    if job.status is not JobStatus.RECEIVED:
        return IntakeOutcome(job=job, chunks=services.jobs.job_chunks(job.job_id), fresh=False)

    hidden = hidden_characters(upload.key)
    if hidden:
        _tell(services, job, limits)
        return IntakeOutcome(
            job=_fail_file(services, job, hidden_key(hidden)), chunks=[], fresh=True
        )

    missing = "The file was deleted or replaced before syncdrop could read it. Upload it again."
    try:
        size = upload.size if upload.size is not None else services.objects.upload_size(upload)
        if size > limits.max_upload_bytes:  # refused from its size, before a byte is read
            _tell(services, job, limits)
            return IntakeOutcome(
                job=_fail_file(services, job, too_big(size, limits.max_upload_bytes)),
                chunks=[],
                fresh=True,
            )
        # One GetObject: the stream and who the uploader asked to be told (its metadata).
        stream, metadata = services.objects.open_upload_with_metadata(upload)
    except UploadMissing as exc:
        _tell(services, job, limits, {})
        reason = REFUSED_UPLOAD if isinstance(exc, UploadRefused) else missing
        # S3's own words (which permission was missing) for the operator; the email says why.
        logger.warning("upload unreadable", extra={"job_id": job.job_id, "error": str(exc)})
        return IntakeOutcome(job=_fail_file(services, job, reason), chunks=[], fresh=True)
    _tell(services, job, limits, metadata)

    spool = _SpooledRows()
    try:
        return _read_and_plan(services, job, upload, limits, stream, spool)
    finally:
        stream.close()
        spool.close()


def _read_and_plan(
    services: Services,
    job: Job,
    upload: UploadRef,
    limits: IntakeLimits,
    raw: BinaryIO,
    spool: _SpooledRows,
) -> IntakeOutcome:
    rejections: list[dict[str, object]] = []
    rows = valid = rejected = 0
    stream = raw  # the reader buffers and decodes it itself
    reader = UploadReader(
        stream, kind="jsonl" if upload.kind == "jsonl" else "csv", rules=limits.rules
    )
    try:
        for outcome in reader:
            rows += 1
            if isinstance(outcome, AcceptedRow):
                valid += 1
                spool.add(outcome)
            else:
                rejected += 1
                rejections.append(rejection_item(outcome))
                if len(rejections) >= REJECTIONS_PER_WRITE:
                    services.results.put_rows(job.job_id, rejections)
                    rejections.clear()
    except FileRejected as exc:
        return IntakeOutcome(job=_fail_file(services, job, exc.message), chunks=[], fresh=True)
    finally:
        stream.close()
    if rejections:
        services.results.put_rows(job.job_id, rejections)

    job.rows, job.valid, job.rejected = rows, valid, rejected
    job.columns = list(reader.columns)
    if valid == 0:
        return IntakeOutcome(
            job=_fail_file(services, job, _nothing_valid(rows)), chunks=[], fresh=True
        )
    refusal = None
    if limits.mode is SubmitMode.AUTO and valid >= limits.min_lines:
        refusal = services.jobs.batch_refusal(now=services.clock())
    route = choose_route(limits.mode, valid, limits.min_lines, refusal)
    job.route, job.route_note = route.path, route.reason
    if route.by_generate:
        return _plan_generations(services, job, upload, spool, route)
    try:
        plan = plan_chunks(
            spool.sizes,
            min_lines=limits.min_lines,
            max_lines=limits.max_lines,
            max_bytes=limits.max_bytes,
        )
    except PlanImpossible as exc:
        reason = str(exc)
        if valid < limits.min_lines:
            reason = (
                f"{_valid_share(valid, rows)}, and Sync needs at least {limits.min_lines} in a "
                "batch. This deployment sends rows in batches only (SubmitMode batch): add rows, "
                "or deploy with SubmitMode auto to send a small file as single generations."
            )
        return IntakeOutcome(job=_fail_file(services, job, reason), chunks=[], fresh=True)

    if upload.is_dry_run:
        return _dry_run(services, job, plan, spool)

    chunks: list[Chunk] = []
    for number, lines, manifest in spool.chunks(plan):
        input_key, manifest_key = chunk_keys(job.job_id, number)
        services.objects.put_bytes(input_key, lines, "application/jsonl")
        services.objects.put_bytes(manifest_key, manifest, "application/jsonl")
        chunk = Chunk(
            job_id=job.job_id,
            number=number,
            status=ChunkStatus.QUEUED,
            rows=len(plan[number - 1]),
            input_key=input_key,
            manifest_key=manifest_key,
            updated_at=services.clock(),
        )
        services.jobs.put_chunk(chunk)
        chunks.append(chunk)
    job.status = JobStatus.RUNNING
    job.chunk_count = len(chunks)
    job.plan = [len(span) for span in plan]
    job.message = (
        f"{plural(valid, 'row')} in {plural(len(chunks), 'batch', 'batches')}; "
        f"{plural(rejected, 'row')} rejected"
    )
    services.jobs.finish_intake(job)
    logger.info(
        "job planned",
        extra={"job_id": job.job_id, "rows": rows, "valid": valid, "chunks": len(chunks)},
    )
    return IntakeOutcome(job=job, chunks=chunks, fresh=True)


def _valid_share(valid: int, rows: int) -> str:
    """Like "Only 17 rows of 22 are valid", or "All 5 rows are valid" when none was rejected."""
    if valid == rows:
        return "The file's one row is valid" if rows == 1 else f"All {count(rows)} rows are valid"
    return f"Only {plural(valid, 'row')} of {count(rows)} {'is' if valid == 1 else 'are'} valid"


def _nothing_valid(rows: int) -> str:
    if rows == 0:
        return "The file has a header but no rows. Add one row per video and upload it again."
    return (
        f"None of the file's {plural(rows, 'row')} is valid, so nothing was sent to Sync. "
        "The reasons are listed below, the most common first; fix those rows and upload the "
        "file again."
    )


def _plan_generations(
    services: Services, job: Job, upload: UploadRef, spool: _SpooledRows, route: Route
) -> IntakeOutcome:
    """One chunk per valid row: each becomes one POST /v2/generate with its own key."""
    if upload.is_dry_run:
        job.status = JobStatus.VALIDATED
        job.message = (
            f"Dry run. {plural(job.valid, 'row')} would go to Sync as single generations: "
            f"{route.reason} Sync has no dry run for single generations, so only syncdrop's "
            "own checks were made."
        )
        services.jobs.finish_intake(job)
        return IntakeOutcome(job=job, chunks=[], fresh=True)
    now = services.clock()
    plan = [range(i, i + 1) for i in range(job.valid)]
    chunks = [
        generation_chunk(job.job_id, number, line.rstrip(b"\n"), manifest.rstrip(b"\n"), now)
        for number, line, manifest in spool.chunks(plan)
    ]
    services.jobs.put_generation_chunks(chunks)
    job.status = JobStatus.RUNNING
    job.chunk_count = len(chunks)
    job.plan = []
    job.message = (
        f"{plural(job.valid, 'row')} as single generations; {plural(job.rejected, 'row')} "
        f"rejected. {route.reason}"
    )
    services.jobs.finish_intake(job)
    logger.info(
        "job planned as single generations",
        extra={"job_id": job.job_id, "rows": job.rows, "valid": job.valid},
    )
    return IntakeOutcome(job=job, chunks=chunks, fresh=True)


def _dry_run(services: Services, job: Job, plan: list[range], spool: _SpooledRows) -> IntakeOutcome:
    """Ask Sync to validate each planned batch with dry_run=true; create nothing."""
    verdicts: list[str] = []
    for number, lines, _manifest in spool.chunks(plan):
        try:
            lines = with_assets_lines(services, lines)
        except MediaRefused as exc:
            verdicts.append(f"batch {number}: a row's media cannot be sent to Sync: {exc.reason}")
            continue
        try:
            answer = services.sync.create_batch(
                lines,
                webhook_url=None,
                dry_run=True,
                filename=f"dry-run-{number:05d}.jsonl",
            )
        except SyncRejected as exc:
            verdicts.append(
                f"batch {number} ({plural(len(plan[number - 1]), 'row')}): refused: {exc.message}"
            )
            continue
        except SyncOutcomeUnknown as exc:
            # A dry run creates nothing, so asking again is safe: let the queue redeliver.
            raise TransientError(f"Sync did not answer the dry run: {exc}") from exc
        if isinstance(answer, Batch):
            verdicts.append(f"batch {number}: Sync created batch {answer.id} despite dry_run")
        else:
            verdicts.append(
                f"batch {number} ({plural(len(plan[number - 1]), 'row')}): {answer.status}"
            )
    job.status = JobStatus.VALIDATED
    job.chunk_count = len(plan)
    job.plan = [len(span) for span in plan]
    job.message = "Dry run. " + "; ".join(verdicts)
    services.jobs.finish_intake(job)
    return IntakeOutcome(job=job, chunks=[], fresh=True)
