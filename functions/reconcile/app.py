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
from syncdrop.observability import logger, metrics
from syncdrop.wiring import build_services


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
    )
    return policy, services


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    policy, services = runtime()
    report = reconcile(services, policy)
    summary = {
        "adopted": report.adopted,
        "requeued": report.requeued,
        "polled": report.polled,
        "enqueued": report.enqueued,
        "reports_restarted": report.reports_restarted,
        "submitted": len(report.submission.submitted),
    }
    for name, value in summary.items():
        metrics.add_metric(f"Reconcile{name.title().replace('_', '')}", MetricUnit.Count, value)
    logger.info("reconciled", extra=summary)
    return summary
