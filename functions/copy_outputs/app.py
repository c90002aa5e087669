"""copy_outputs: each finished video streamed from Sync's expiring link into the bucket."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from syncdrop.config import CopySettings
from syncdrop.domain.copy_outputs import CopyOutcome, CopyTask, copy_output
from syncdrop.domain.services import Services
from syncdrop.observability import Metric, logger, metrics
from syncdrop.sqs_batch import PartialBatchResponse, process_sqs_batch
from syncdrop.wiring import build_services


@cache
def runtime() -> tuple[CopySettings, Services]:
    settings = CopySettings.from_env()
    hosts = tuple(h.strip() for h in settings.result_url_hosts.split(",") if h.strip())
    services = build_services(
        settings,
        results_queue_url=settings.results_queue_url,
        result_url_hosts=hosts,
        copy_ledger=True,
    )
    return settings, services


def handle_record(record: dict[str, Any]) -> None:
    settings, services = runtime()
    task = CopyTask.from_json(record["body"])  # BadMessage: to the DLQ after retries
    logger.append_keys(job_id=task.job_id)
    attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount") or "1")
    outcome = copy_output(services, task, last_attempt=attempt >= settings.copy_attempts)
    if outcome is not CopyOutcome.ALREADY_DONE:
        copied = outcome is CopyOutcome.COPIED
        name = Metric.VIDEOS_COPIED if copied else Metric.VIDEO_COPIES_FAILED
        metrics.add_metric(name, MetricUnit.Count, 1)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    return process_sqs_batch(event, handle_record)
