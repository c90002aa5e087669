"""receive_webhook: Sync's signed batch webhook → verified → recorded → results queue, fast."""

from __future__ import annotations

import base64
import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from syncdrop.adapters.policy import WEBHOOK_DYNAMODB_POLICY
from syncdrop.adapters.secrets import CachedSecret
from syncdrop.config import WebhookSettings
from syncdrop.domain.services import Services
from syncdrop.domain.webhooks import SyncNotice, WebhookOutcome, accept_webhook
from syncdrop.observability import Metric, logger, metrics
from syncdrop.webhook_signature import MAX_BODY_BYTES, SignatureVerdict, verify_sync_signature
from syncdrop.wiring import aws_client, build_services

ROUTE = ("POST", "/sync/webhook")
# A signed webhook that changes nothing: its status, message and metric.
REFUSALS = {
    WebhookOutcome.UNKNOWN_BATCH: (404, "unknown batch", Metric.WEBHOOKS_UNKNOWN_BATCH),
    WebhookOutcome.MISDIRECTED: (
        409,
        "the signed body names another webhook URL, job or chunk",
        Metric.WEBHOOKS_MISDIRECTED,
    ),
}


@cache
def runtime() -> tuple[WebhookSettings, Services, CachedSecret | None]:
    settings = WebhookSettings.from_env()
    # The job table and the results queue only: a webhook never reads S3 nor calls Sync.
    services = build_services(
        settings,
        results_queue_url=settings.results_queue_url,
        uploads=False,
        sync=False,
        dynamodb_policy=WEBHOOK_DYNAMODB_POLICY,
    )
    secret = None
    if settings.webhook_secret_arn:
        secret = CachedSecret(aws_client("secretsmanager"), settings.webhook_secret_arn)
    return settings, services, secret


def too_large(body: str | None, is_base64: bool | None) -> bool:
    """Whether the body is over ``MAX_BODY_BYTES``, judged from its length alone."""
    if body is None:
        return False
    if is_base64:  # 4 characters carry 3 bytes, less one per "=" of padding
        padding = body.endswith("==") + body.endswith("=")
        return len(body) // 4 * 3 - padding > MAX_BODY_BYTES
    # A character is 1 to 4 UTF-8 bytes: the exact count only for bodies that may fit.
    return len(body) > MAX_BODY_BYTES or len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES


def raw_body(body: str | None, is_base64: bool | None) -> bytes:
    """The exact bytes Sync signed (HTTP API base64-encodes bodies it considers binary)."""
    if body is None:
        return b""
    return base64.b64decode(body) if is_base64 else body.encode("utf-8")


def own_url(event: dict[str, Any]) -> str:
    """The URL this request came to, as Sync was given it. The function's environment cannot
    name its own HTTP API: the API's route names the function, so each would wait for the
    other and CloudFormation refuses the template. API Gateway sets the domain and the
    forwarded scheme itself, whatever the caller sends."""
    context = event.get("requestContext") or {}
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    scheme = str(headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    return f"{scheme}://{context.get('domainName', '')}{event.get('rawPath', '')}"


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
    # Before the secret, the HMAC or any decoding: a large forged body costs nothing.
    if too_large(event.get("body"), event.get("isBase64Encoded")):
        metrics.add_metric(Metric.WEBHOOKS_TOO_LARGE, MetricUnit.Count, 1)
        return _answer(413, "body too large")
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
    try:
        notice = SyncNotice.model_validate_json(raw)
    except ValidationError:
        metrics.add_metric(Metric.WEBHOOKS_UNREADABLE, MetricUnit.Count, 1)
        return _answer(400, "not a batch or generation status payload")
    # The query is not signed: the domain only checks it against what the body names.
    query = event.get("queryStringParameters") or {}
    outcome = accept_webhook(
        services,
        notice,
        webhook_base=settings.webhook_url or own_url(event),
        query_job=query.get("job"),
        query_chunk=query.get("chunk"),
    )
    if outcome in REFUSALS:
        status, message, metric = REFUSALS[outcome]
        metrics.add_metric(metric, MetricUnit.Count, 1)
        return _answer(status, message)
    metrics.add_metric(Metric.WEBHOOKS_ACCEPTED, MetricUnit.Count, 1)
    return _answer(200, outcome.value.lower())


# One route, read straight from the event: Powertools' event handler would add ~30 ms of
# imports to every cold start of the function that must answer Sync at once.
@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runtime()  # settings are read on the first invocation, whatever it asks for
    http = event.get("requestContext", {}).get("http", {})
    if (http.get("method"), event.get("rawPath")) != ROUTE:
        return _answer(404, "not found")
    return sync_webhook(event)
