"""copy_outputs: each slice of finished videos streamed from Sync's links into the bucket."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from syncdrop.config import CopySettings
from syncdrop.copy_tasks import CopyTask
from syncdrop.domain.copy_outputs import copy_slice
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
        outputs_queue_url=settings.outputs_queue_url,
        result_url_hosts=hosts,
        copy_ledger=True,
    )
    return settings, services


def handle_record(record: dict[str, Any]) -> None:
    settings, services = runtime()
    task = CopyTask.from_json(record["body"])  # BadMessage: to the DLQ after retries
    logger.append_keys(job_id=task.job_id)
    attempt = int(record.get("attributes", {}).get("ApproximateReceiveCount") or "1")
    outcome = copy_slice(
        services,
        task,
        last_attempt=attempt >= settings.copy_attempts,
        threads=settings.copy_threads,
    )
    if outcome.copied:
        metrics.add_metric(Metric.VIDEOS_COPIED, MetricUnit.Count, outcome.copied)
    if outcome.gave_up:
        metrics.add_metric(Metric.VIDEO_COPIES_FAILED, MetricUnit.Count, outcome.gave_up)


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    return process_sqs_batch(event, handle_record)
