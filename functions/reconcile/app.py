"""reconcile: on a schedule, resolve unknown submissions, poll quiet batches, refill capacity."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from syncdrop.config import ReconcileSettings
from syncdrop.domain.reconcile import ReconcilePolicy, reconcile
from syncdrop.domain.services import Services
from syncdrop.jobs import ChunkStatus
from syncdrop.observability import Metric, logger, metrics
from syncdrop.wiring import build_services

SUMMARY_METRICS = {
    "adopted": Metric.RECONCILE_ADOPTED,
    "reposted": Metric.RECONCILE_REPOSTED,
    "requeued": Metric.RECONCILE_REQUEUED,
    "polled": Metric.RECONCILE_POLLED,
    "enqueued": Metric.RECONCILE_ENQUEUED,
    "reports_restarted": Metric.RECONCILE_REPORTS_RESTARTED,
    "past_deadline": Metric.RECONCILE_PAST_DEADLINE,
    "submitted": Metric.RECONCILE_SUBMITTED,
}


@cache
def runtime() -> tuple[ReconcilePolicy, Services]:
    settings = ReconcileSettings.from_env()
    services = build_services(settings, results_queue_url=settings.results_queue_url)
    policy = ReconcilePolicy(
        batch_concurrency=settings.batch_concurrency,
        webhook_base=settings.webhook_url,
        submitting_grace=timedelta(minutes=settings.submitting_grace_minutes),
        poll_after=timedelta(minutes=settings.poll_after_minutes),
        report_lease=timedelta(seconds=settings.report_lease_seconds),
        generation=settings.generation_limits,
        mode=settings.submit_mode,
    )
    return policy, services


def record_open_batches(services: Services) -> None:
    """How many batches are open at Sync and how long the oldest has been (Sync aims at 24 h).

    One Query of the OpenChunks index: SUBMITTED chunks hold batch slots, so there are at most
    BatchConcurrency (100 at most) of them. Their order there is the poll order (each poll
    moves a chunk to the back), so the oldest is found by its submission time.
    """
    now = services.clock()
    submitted = services.jobs.open_chunks(ChunkStatus.SUBMITTED, limit=100)
    oldest = min((c.submitted_at or c.updated_at or now for c in submitted), default=now)
    hours = max((now - oldest).total_seconds(), 0.0) / 3600
    metrics.add_metric(Metric.OPEN_BATCHES, MetricUnit.Count, len(submitted))
    metrics.add_metric(Metric.OLDEST_OPEN_BATCH_HOURS, MetricUnit.NoUnit, round(hours, 2))


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    policy, services = runtime()
    record_open_batches(services)  # first: measured even when Sync is down and the run fails
    report = reconcile(services, policy)
    summary = {
        "adopted": report.adopted,
        "requeued": report.requeued,
        "polled": report.polled,
        "enqueued": report.enqueued,
        "reports_restarted": report.reports_restarted,
        "past_deadline": report.past_deadline,
        "submitted": len(report.submission.submitted),
    }
    for name, value in summary.items():
        metrics.add_metric(SUMMARY_METRICS[name], MetricUnit.Count, value)
    metrics.add_metric(Metric.CHUNKS_SUBMITTED, MetricUnit.Count, summary["submitted"])
    logger.info("reconciled", extra=summary)
    return summary
