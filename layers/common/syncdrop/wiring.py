"""Build the real adapters from settings, once per execution environment."""

from __future__ import annotations

from typing import Any

import boto3

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop.adapters.policy import DEFAULT_POLICY
from syncdrop.adapters.s3_objects import S3ObjectStore
from syncdrop.adapters.secrets import CachedSecret
from syncdrop.adapters.sync_api import SyncBatchApi
from syncdrop.config import Settings
from syncdrop.domain.services import Services


def aws_client(service: str) -> Any:
    """A boto3 client with the shared timeouts and retries (endpoint from AWS_ENDPOINT_URL)."""
    return boto3.session.Session().client(service, config=DEFAULT_POLICY.boto_config())


def build_services(
    settings: Settings,
    *,
    results_queue_url: str | None = None,
    notification_topic_arn: str | None = None,
    result_url_hosts: tuple[str, ...] | None = None,
) -> Services:
    """The adapters one function needs; the optional ones only when asked for."""
    dynamodb = aws_client("dynamodb")
    queue = notifier = downloads = None
    if results_queue_url:
        from syncdrop.adapters.sqs_queue import SqsResultsQueue

        queue = SqsResultsQueue(aws_client("sqs"), results_queue_url)
    if notification_topic_arn:
        from syncdrop.adapters.sns_notifier import SnsNotifier

        notifier = SnsNotifier(aws_client("sns"), notification_topic_arn)
    if result_url_hosts is not None:
        from syncdrop.adapters.result_download import DEFAULT_RESULT_HOSTS, ResultDownloader

        downloads = ResultDownloader(
            api_base_url=settings.sync_api_base_url,
            allowed_redirect_hosts=(*DEFAULT_RESULT_HOSTS, *result_url_hosts),
        )
    return Services(
        jobs=DynamoJobStore(dynamodb, settings.job_table),
        results=DynamoResultStore(dynamodb, settings.results_table),
        objects=S3ObjectStore(aws_client("s3"), settings.uploads_bucket),
        sync=SyncBatchApi(
            base_url=settings.sync_api_base_url,
            api_key=CachedSecret(aws_client("secretsmanager"), settings.sync_api_key_secret_arn),
        ),
        results_queue=queue,
        notifier=notifier,
        result_lines=downloads,
    )
