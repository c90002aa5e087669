"""submit_batch: S3 upload events from the intake queue become jobs, chunks and Sync batches."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from syncdrop.config import SubmitSettings
from syncdrop.domain.intake import IntakeLimits, accept_upload
from syncdrop.domain.services import Services
from syncdrop.domain.submission import submit_ready_chunks
from syncdrop.jobs import JobStatus
from syncdrop.messages import ResultsMessage
from syncdrop.observability import Metric, logger, metrics
from syncdrop.s3_events import uploads_in
from syncdrop.sqs_batch import PartialBatchResponse, process_sqs_batch
from syncdrop.wiring import build_services


@cache
def runtime() -> tuple[SubmitSettings, Services, IntakeLimits]:
    """Settings and clients, built once per execution environment (not at import)."""
    settings = SubmitSettings.from_env()
    services = build_services(settings, results_queue_url=settings.results_queue_url)
    limits = IntakeLimits.for_deployment(
        uploads_bucket=settings.uploads_bucket,
        default_model=settings.default_model,
        max_rows=settings.max_rows_per_file,
        max_upload_bytes=settings.max_upload_bytes,
        min_lines=settings.batch_min_lines,
        max_lines=settings.batch_max_lines,
        max_bytes=settings.batch_max_bytes,
        job_deadline_hours=settings.job_deadline_hours,
        mode=settings.submit_mode,
        notify_rules=settings.prefix_rules,
    )
    return settings, services, limits


def handle_record(record: dict[str, Any]) -> None:
    settings, services, limits = runtime()
    attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount") or "1")
    for upload in uploads_in(record["body"]):
        if upload.bucket != settings.uploads_bucket:
            logger.warning("ignoring an event for another bucket", extra={"bucket": upload.bucket})
            continue
        logger.append_keys(job_id=upload.job_id)
        outcome = accept_upload(
            services,
            upload,
            limits,
            last_attempt=attempt >= settings.intake_attempts,
            attempts=attempt,
        )
        if outcome.fresh:
            metrics.add_metric(Metric.FILES_RECEIVED, MetricUnit.Count, 1)
            metrics.add_metric(Metric.ROWS_ACCEPTED, MetricUnit.Count, outcome.job.valid)
            metrics.add_metric(Metric.ROWS_REJECTED, MetricUnit.Count, outcome.job.rejected)
            if outcome.job.status is JobStatus.FAILED:
                metrics.add_metric(Metric.FILES_REFUSED, MetricUnit.Count, 1)
        if outcome.job.status in (JobStatus.FAILED, JobStatus.VALIDATED):
            # The email for a refused file or a dry run goes out like every other one.
            services.queue().send(ResultsMessage.for_job(outcome.job.job_id))
        elif outcome.job.status is JobStatus.RUNNING:
            report = submit_ready_chunks(
                services,
                batch_concurrency=settings.batch_concurrency,
                webhook_base=settings.webhook_url,
                job_id=outcome.job.job_id,
                generation=settings.generation_limits,
                mode=settings.submit_mode,
            )
            metrics.add_metric(Metric.CHUNKS_SUBMITTED, MetricUnit.Count, len(report.submitted))
            metrics.add_metric(Metric.CHUNKS_QUEUED, MetricUnit.Count, report.left_queued)
        logger.info("upload handled", extra={"status": outcome.job.status.value})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    return process_sqs_batch(event, handle_record)
