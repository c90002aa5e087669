"""When a job is over: write the results CSV and send its one email, exactly once."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from syncdrop import crash_points
from syncdrop.domain.cancel import close_cancelled_chunks
from syncdrop.domain.deadline import NOT_COPIED, close_out
from syncdrop.domain.fan_out import FanOutPolicy
from syncdrop.domain.report_page_upload import PAGE_REASONS, put_report_page, video_link
from syncdrop.domain.services import Services
from syncdrop.jobs import Job, JobStatus, outputs_prefix, report_page_key, results_key
from syncdrop.report import (
    Email,
    JobReport,
    ReportRow,
    ResultCounts,
    RowStatus,
    completed_email,
    dry_run_email,
    failed_file_email,
    top_error_reasons,
    write_results_csv,
)
from syncdrop.report.email_recipients import addressed
from syncdrop.report.rejection_summary import RejectionGroup, group_rejections
from syncdrop.report.report_page import ReportPage

logger = Logger(service="syncdrop", child=True)

# A report worker that has not finished after this long is presumed dead (Lambda's limit is 15 min).
REPORT_LEASE = timedelta(minutes=16)
# Presigned with the function's temporary credentials, so keep it within their lifetime.
LINK_LIFETIME = timedelta(hours=6)
DRY_RUN_REJECTIONS_SHOWN = 20


class FinishOutcome(StrEnum):
    NOT_YET = "NOT_YET"  # chunks still open
    ALREADY_SENT = "ALREADY_SENT"
    BUSY = "BUSY"  # another worker holds the report lease
    SENT = "SENT"
    REWRITTEN = "REWRITTEN"  # emailed at its deadline; the results CSV now has later outcomes


@dataclass
class _Reasons:
    """Error reasons seen while streaming rows into the CSV, for the email's top list."""

    seen: list[str] = field(default_factory=list)
    copied: int = 0
    not_copied: int = 0

    def rows(self, items: Iterator[dict[str, Any]]) -> Iterator[ReportRow]:
        for item in items:
            status = RowStatus(item["status"])
            message = str(item.get("error_message", ""))
            # Cancelled rows have their own line in the email, not a place among the errors.
            if status not in (RowStatus.COMPLETED, RowStatus.CANCELLED) and message:
                self.seen.append(message)
            duration = item.get("output_duration")
            # The copy in the bucket, when there is one: Sync's own links expire.
            url = str(item.get("s3_uri") or item.get("output_url", ""))
            code = str(item.get("error_code", ""))
            if item.get("s3_uri"):
                self.copied += 1
            elif item.get("copy_error"):
                code, message = "COPY_FAILED", str(item["copy_error"])
                self.not_copied += 1
            elif item.get("copy_status") == "PENDING":  # only at a job's deadline
                code, message = "NOT_COPIED", NOT_COPIED
                self.not_copied += 1
            yield ReportRow(
                row_number=int(item["row_number"]),
                request_id=str(item.get("request_id", "")),
                status=status,
                output_url=url,
                output_duration=float(duration) if duration not in (None, "") else None,
                generation_id=str(item.get("generation_id", "")),
                error_code=code,
                error_message=message,
                columns=json.loads(str(item.get("columns") or "{}")),
            )


def _job_is_over(services: Services, job: Job) -> bool:
    if job.status in (JobStatus.FAILED, JobStatus.VALIDATED):
        return True
    if job.status is not JobStatus.RUNNING:
        return False
    if job.chunks_closed is not None and job.chunks_closed < job.chunk_count:
        return False  # counted as they close: no need to read 1,200 chunk items to know
    chunks = services.jobs.job_chunks(job.job_id)
    return len(chunks) == job.chunk_count and all(
        c.results_written and c.copies_enqueued and c.copies_done for c in chunks
    )


def finish_job(
    services: Services,
    job_id: str,
    *,
    lease: timedelta = REPORT_LEASE,
    fan_out: FanOutPolicy | None = None,
) -> FinishOutcome:
    """Send the job's one email once it is over, or once its deadline has passed."""
    job = services.jobs.get_job(job_id)
    if job is None:
        return FinishOutcome.ALREADY_SENT
    if job.notified_at is not None:
        if job.finished_at_deadline and job.status is JobStatus.COMPLETED:
            return _rewrite_results(services, job, lease)
        return FinishOutcome.ALREADY_SENT
    now = services.clock()
    if job.cancel_requested and close_cancelled_chunks(services, job):
        job = services.jobs.get_job(job_id) or job  # its closed-chunk count moved on
    if not _job_is_over(services, job):
        if not job.past_deadline(now):
            return FinishOutcome.NOT_YET
        job = close_out(services, job, now, fan_out or FanOutPolicy())
    token = uuid.uuid4().hex
    if not services.jobs.claim_report(job_id, token, now=now, stale_before=now - lease):
        return FinishOutcome.BUSY
    email, final = _compose(services, job, now)
    email = addressed(email, job)  # to whom: the people intake recorded on the job
    crash_points.reached(crash_points.AFTER_RESULTS_CSV_BEFORE_EMAIL)
    services.email().publish(email)
    # A crash between publish and this write is the one place a second email could come from.
    services.jobs.finish_report(job_id, token, final, now=services.clock())
    logger.info("email sent", extra={"job_id": job_id, "status": final.value})
    return FinishOutcome.SENT


def _compose(services: Services, job: Job, now: datetime) -> tuple[Email, JobStatus]:
    upload = job.upload
    if job.status is JobStatus.FAILED:
        email = failed_file_email(
            job_id=job.job_id,
            file_name=upload.file_name,
            bucket=upload.bucket,
            key=upload.key,
            reason=job.message,
            received_at=job.created_at,
            rejected=job.rejected,
            rejection_groups=_rejection_groups(services, job),
        )
        return email, JobStatus.FAILED
    if job.status is JobStatus.VALIDATED:
        rejections: list[tuple[int, str]] = []
        for item in services.results.job_rows(job.job_id):
            if len(rejections) >= DRY_RUN_REJECTIONS_SHOWN:
                break
            rejections.append((int(item["row_number"]), str(item.get("error_message", ""))))
        email = dry_run_email(
            job_id=job.job_id,
            file_name=upload.file_name,
            bucket=upload.bucket,
            key=upload.key,
            rows=job.rows,
            valid=job.valid,
            rejected=job.rejected,
            batches=job.plan,
            verdict=job.message,
            rejections=rejections,
            single_generations=job.route == "generate",
        )
        return email, JobStatus.VALIDATED
    final = JobStatus.CANCELLED if job.cancel_requested else JobStatus.COMPLETED
    return _completed(services, job, now), final


def _rejection_groups(services: Services, job: Job) -> list[RejectionGroup]:
    """A refused file's rejected rows by reason: it gets no results CSV, so the email says."""
    if not job.rejected:
        return []
    return group_rejections(
        (int(item["row_number"]), str(item.get("error_message", "")))
        for item in services.results.job_rows(job.job_id)
        if item.get("status") == RowStatus.REJECTED
    )


def _rewrite_results(services: Services, job: Job, lease: timedelta) -> FinishOutcome:
    """Outcomes that came after the deadline's email: the results CSV again, no email.

    Under a lease, so two late writers never interleave; a busy one retries afterwards and
    writes what it brought.
    """
    now = services.clock()
    token = uuid.uuid4().hex
    if not services.jobs.claim_rewrite(job.job_id, token, now=now, stale_before=now - lease):
        return FinishOutcome.BUSY
    try:
        _put_results_csv(services, job, _Reasons(), now)
    finally:
        services.jobs.finish_rewrite(job.job_id, token)
    logger.info("results rewritten after the deadline", extra={"job_id": job.job_id})
    return FinishOutcome.REWRITTEN


def _put_results_csv(
    services: Services, job: Job, reasons: _Reasons, now: datetime
) -> tuple[ResultCounts, str | None, str | None]:
    """Stream every row of the job into results/<name>.results.csv, and the same rows into
    the report page beside it: the counts, the CSV's version and the page's."""
    video = video_link(services, job.upload.bucket, LINK_LIFETIME)
    with tempfile.TemporaryFile() as spool, tempfile.TemporaryFile() as page_rows:
        page = ReportPage(page_rows, job.columns, video)
        rows = page.rows(reasons.rows(services.results.job_rows(job.job_id)))
        counts = write_results_csv(rows, job.columns, spool)
        spool.seek(0)
        version = services.objects.put_file(
            results_key(job.upload.key), spool, "text/csv; charset=utf-8"
        )
        page_version = put_report_page(
            services,
            job,
            page,
            counts=counts,
            reasons=top_error_reasons(reasons.seen, PAGE_REASONS),
            now=now,
            lifetime=LINK_LIFETIME,
        )
    return counts, version, page_version


def _completed(services: Services, job: Job, now: datetime) -> Email:
    key = results_key(job.upload.key)
    reasons = _Reasons()
    counts, version, page_version = _put_results_csv(services, job, reasons, now)
    # Pinned to this version: a re-upload of the same file name writes the same key.
    link = services.objects.presign_get(
        job.upload.bucket, key, int(LINK_LIFETIME.total_seconds()), version_id=version
    )
    page_link = services.objects.presign_get(
        job.upload.bucket,
        report_page_key(job.upload.key),
        int(LINK_LIFETIME.total_seconds()),
        version_id=page_version,
    )
    report = JobReport(
        job_id=job.job_id,
        file_name=job.upload.file_name,
        bucket=job.upload.bucket,
        key=job.upload.key,
        counts=counts,
        top_errors=top_error_reasons(reasons.seen),
        started_at=job.created_at,
        finished_at=now,
        results_uri=f"s3://{job.upload.bucket}/{key}",
        results_link=link,
        page_link=page_link,
        link_expires_at=now + LINK_LIFETIME,
        videos_uri=(
            f"s3://{job.upload.bucket}/outputs/{outputs_prefix(job.upload.key)}/"
            if reasons.copied
            else None
        ),
        videos_not_copied=reasons.not_copied,
        route_note=job.route_note if job.route == "generate" else "",
        cancelled_by=job.cancel_requested,
        retry_of=job.retry_of,
    )
    return completed_email(report)
