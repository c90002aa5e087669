"""fan_out_results: a finished batch's rows into DynamoDB; a finished job's CSV and email."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from syncdrop.config import CompletionSettings
from syncdrop.domain.completion import handle_results_message
from syncdrop.domain.fan_out import FanOutOutcome, FanOutPolicy
from syncdrop.domain.reporting import FinishOutcome
from syncdrop.domain.services import Services
from syncdrop.messages import ResultsMessage
from syncdrop.observability import Metric, Observed, logger, metrics
from syncdrop.sqs_batch import PartialBatchResponse, process_sqs_batch
from syncdrop.wiring import build_services


@cache
def runtime() -> tuple[CompletionSettings, Services]:
    settings = CompletionSettings.from_env()
    hosts = tuple(h.strip() for h in settings.result_url_hosts.split(",") if h.strip())
    services = build_services(
        settings,
        results_queue_url=settings.results_queue_url,
        notification_topic_arn=settings.notification_topic_arn,
        result_url_hosts=hosts,
        outputs_queue_url=settings.outputs_queue_url or None,
    )
    return settings, services


def handle_record(record: dict[str, Any]) -> None:
    settings, services = runtime()
    message = ResultsMessage.from_json(record["body"])  # BadMessage: to the DLQ after retries
    logger.append_keys(job_id=message.job_id)
    observed = Observed()  # rows closed, batches submitted, the email: as they happen
    try:
        outcome = handle_results_message(
            observed.around(services),
            message,
            batch_concurrency=settings.batch_concurrency,
            webhook_base=settings.webhook_url,
            report_lease=timedelta(seconds=settings.report_lease_seconds),
            fan_out=FanOutPolicy(
                lease=timedelta(seconds=settings.fan_out_lease_seconds),
                attempts=settings.fan_out_attempts,
            ),
            generation=settings.generation_limits,
            mode=settings.submit_mode,
        )
    finally:
        # Also when the message fails afterwards: its redelivery will not do these again.
        observed.record()
    if outcome is FanOutOutcome.WRITTEN:
        metrics.add_metric(Metric.CHUNKS_FANNED_OUT, MetricUnit.Count, 1)
    elif outcome is not FinishOutcome.SENT:
        metrics.add_metric(Metric.RESULTS_MESSAGES_SKIPPED, MetricUnit.Count, 1)
    logger.info("results message handled", extra={"outcome": outcome.value})


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialBatchResponse:
    return process_sqs_batch(event, handle_record)
