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


def build_services(settings: Settings) -> Services:
    dynamodb = aws_client("dynamodb")
    return Services(
        jobs=DynamoJobStore(dynamodb, settings.job_table),
        results=DynamoResultStore(dynamodb, settings.results_table),
        objects=S3ObjectStore(aws_client("s3"), settings.uploads_bucket),
        sync=SyncBatchApi(
            base_url=settings.sync_api_base_url,
            api_key=CachedSecret(aws_client("secretsmanager"), settings.sync_api_key_secret_arn),
        ),
    )
