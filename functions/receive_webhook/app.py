"""receive_webhook: Sync's signed batch webhook → verified → recorded → results queue, fast."""

from __future__ import annotations

import base64
import json
import re
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from syncdrop.adapters.secrets import CachedSecret
from syncdrop.config import WebhookSettings
from syncdrop.domain.services import Services
from syncdrop.domain.webhooks import WebhookOutcome, accept_webhook
from syncdrop.observability import Metric, logger, metrics
from syncdrop.sync_models import Batch
from syncdrop.webhook_signature import SignatureVerdict, verify_sync_signature
from syncdrop.wiring import aws_client, build_services

ROUTE = ("POST", "/sync/webhook")
# The query string is not signed: accept only what syncdrop itself puts there.
CHUNK_NUMBER = re.compile(r"[0-9]{1,6}")


@cache
def runtime() -> tuple[WebhookSettings, Services, CachedSecret | None]:
    settings = WebhookSettings.from_env()
    # The job table and the results queue only: a webhook never reads S3 nor calls Sync.
    services = build_services(
        settings, results_queue_url=settings.results_queue_url, uploads=False, sync=False
    )
    secret = None
    if settings.webhook_secret_arn:
        secret = CachedSecret(aws_client("secretsmanager"), settings.webhook_secret_arn)
    return settings, services, secret


def raw_body(body: str | None, is_base64: bool | None) -> bytes:
    """The exact bytes Sync signed (HTTP API base64-encodes bodies it considers binary)."""
    if body is None:
        return b""
    return base64.b64decode(body) if is_base64 else body.encode("utf-8")


def _answer(status: int, message: str) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) response with a small JSON body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def sync_webhook(event: dict[str, Any]) -> dict[str, Any]:
    settings, services, secret = runtime()
    try:
        raw = raw_body(event.get("body"), event.get("isBase64Encoded"))
    except ValueError:  # binascii.Error: not base64 at all
        return _answer(400, "unreadable body")
    verdict = verify_sync_signature(
        event.get("headers") or {},
        raw,
        secret() if secret is not None else None,
        now=time.time(),
        tolerance_seconds=settings.signature_tolerance_seconds,
    )
    if verdict is not SignatureVerdict.VALID:
        metrics.add_metric(Metric.WEBHOOKS_REJECTED, MetricUnit.Count, 1)
        logger.warning("webhook refused", extra={"verdict": verdict.value})  # never the body
        return _answer(401, "invalid or missing signature")
    query = event.get("queryStringParameters") or {}
    job_id, chunk = query.get("job", ""), query.get("chunk", "")
    try:
        batch = Batch.model_validate_json(raw)
    except ValidationError:
        metrics.add_metric(Metric.WEBHOOKS_UNREADABLE, MetricUnit.Count, 1)
        return _answer(400, "not a batch status payload")
    if not job_id or not CHUNK_NUMBER.fullmatch(chunk):
        metrics.add_metric(Metric.WEBHOOKS_UNKNOWN_BATCH, MetricUnit.Count, 1)
        return _answer(404, "unknown batch")
    logger.append_keys(job_id=job_id)
    outcome = accept_webhook(services, job_id=job_id, chunk_number=int(chunk), batch=batch)
    if outcome is WebhookOutcome.UNKNOWN_BATCH:
        metrics.add_metric(Metric.WEBHOOKS_UNKNOWN_BATCH, MetricUnit.Count, 1)
        return _answer(404, "unknown batch")
    metrics.add_metric(Metric.WEBHOOKS_ACCEPTED, MetricUnit.Count, 1)
    return _answer(200, outcome.value.lower())


# One route, read straight from the event: Powertools' event handler would add ~30 ms of
# imports to every cold start of the function that must answer Sync at once.
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    http = event.get("requestContext", {}).get("http", {})
    if (http.get("method"), event.get("rawPath")) != ROUTE:
        return _answer(404, "not found")
    return sync_webhook(event)
