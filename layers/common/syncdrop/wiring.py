"""Build the real adapters from settings, once per execution environment."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, cast

import boto3

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.adapters.dynamo_results import DynamoResultStore
from syncdrop.adapters.policy import DEFAULT_POLICY, DYNAMODB_POLICY, RetryPolicy
from syncdrop.config import Settings
from syncdrop.domain.services import Services, utc_now
from syncdrop.ports import ObjectStore, ResultLines, SyncApi

if TYPE_CHECKING:
    from syncdrop.domain.media_assets import MediaAssets

_client_lock = threading.Lock()  # a boto3 session is not safe to build clients from in parallel


@cache
def _session() -> boto3.session.Session:
    # One session for every client: clients of one session share its loaded service models
    # and endpoint rules, which are most of what building a client costs.
    return boto3.session.Session()


def aws_client(service: str) -> Any:
    """A boto3 client with the shared timeouts and retries (endpoint from AWS_ENDPOINT_URL)."""
    with _client_lock:
        return _session().client(service, config=DEFAULT_POLICY.boto_config())


def keep_out_of_collections() -> None:
    """In Lambda, take what the cold start built (modules, settings, clients) out of the
    garbage collector's sight: it lives as long as the execution environment, and each full
    collection over it costs ~30 ms, once during the cold start and again now and then in a
    warm invocation. Only in Lambda: tests and the local runtime load many functions, and
    their garbage, into one process."""
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        gc.freeze()


class _NotBuilt:
    """Stands in for an adapter a function was built without: any use is a wiring mistake."""

    def __init__(self, what: str) -> None:
        self._what = what

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"this function was built without {self._what}")


class _BuiltOnFirstUse:
    """An adapter built the first time it is used. The Sync clients import httpx and set up
    TLS (~100 ms), and many invocations never call Sync: a reconcile run with nothing open,
    the report of a finished job."""

    def __init__(self, build: Callable[[], object]) -> None:
        self._build = build
        self._built: object | None = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        built = self._built
        if built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._build()
                built = self._built
        return getattr(built, name)


def build_services(
    settings: Settings,
    *,
    results_queue_url: str | None = None,
    notification_topic_arn: str | None = None,
    result_url_hosts: tuple[str, ...] | None = None,
    uploads: bool = True,
    sync: bool = True,
    outputs_queue_url: str | None = None,
    copy_ledger: bool = False,
    dynamodb_policy: RetryPolicy = DYNAMODB_POLICY,
) -> Services:
    """The adapters one function needs and no others: each client costs cold-start time.

    ``uploads=False`` and ``sync=False`` leave out S3 and the Sync API client (the webhook
    receiver uses neither); the optional ones are built only when asked for, and the httpx
    ones on their first use.
    """
    keep_out_of_collections()  # the imports, before the clients add to the heap
    dynamodb = aws_client("dynamodb")
    objects = cast(ObjectStore, _NotBuilt("the uploads bucket"))
    sync_api = cast(SyncApi, _NotBuilt("the Sync API client"))
    queue = notifier = downloads = None
    if uploads:
        from syncdrop.adapters.s3_objects import S3ObjectStore

        objects = S3ObjectStore(aws_client("s3"), settings.uploads_bucket)
    if sync:
        from syncdrop.adapters.secrets import CachedSecret

        api_key = CachedSecret(aws_client("secretsmanager"), settings.sync_api_key_secret_arn)

        def sync_client() -> SyncApi:
            from syncdrop.adapters.sync_api import SyncBatchApi

            return SyncBatchApi(base_url=settings.sync_api_base_url, api_key=api_key)

        sync_api = cast(SyncApi, _BuiltOnFirstUse(sync_client))
    # One SQS client for both queues fan_out_results writes to (a client costs cold-start time).
    sqs = aws_client("sqs") if results_queue_url or outputs_queue_url else None
    if results_queue_url:
        from syncdrop.adapters.sqs_queue import SqsResultsQueue

        queue = SqsResultsQueue(sqs, results_queue_url)
    if notification_topic_arn:
        from syncdrop.adapters.sns_notifier import SnsNotifier

        notifier = SnsNotifier(aws_client("sns"), notification_topic_arn)
    if result_url_hosts is not None:
        hosts = result_url_hosts

        def downloader() -> ResultLines:
            from syncdrop.adapters.result_download import DEFAULT_RESULT_HOSTS, ResultDownloader

            return ResultDownloader(
                api_base_url=settings.sync_api_base_url,
                allowed_redirect_hosts=(*DEFAULT_RESULT_HOSTS, *hosts),
            )

        downloads = cast(ResultLines, _BuiltOnFirstUse(downloader))
    outputs = copies = None
    if outputs_queue_url:
        from syncdrop.adapters.sqs_outputs import SqsOutputsQueue

        outputs = SqsOutputsQueue(sqs, outputs_queue_url)
    if copy_ledger:
        from syncdrop.adapters.dynamo_copies import DynamoCopyLedger

        copies = DynamoCopyLedger(
            dynamodb, job_table=settings.job_table, results_table=settings.results_table
        )
    media = None
    if uploads and sync:  # the functions that submit: rows' s3:// media become Sync assets

        def media_assets() -> object:
            from syncdrop.adapters.dynamo_assets import DynamoMediaAssets
            from syncdrop.domain.media_assets import MediaAssets

            return MediaAssets(
                objects=objects,
                sync=sync_api,
                items=DynamoMediaAssets(dynamodb, settings.job_table, policy=dynamodb_policy),
                clock=utc_now,
            )

        media = cast("MediaAssets", _BuiltOnFirstUse(media_assets))
    keep_out_of_collections()  # and the clients
    return Services(
        jobs=DynamoJobStore(dynamodb, settings.job_table, policy=dynamodb_policy),
        results=DynamoResultStore(dynamodb, settings.results_table, policy=dynamodb_policy),
        objects=objects,
        sync=sync_api,
        results_queue=queue,
        notifier=notifier,
        result_lines=downloads,
        outputs_queue=outputs,
        copies=copies,
        media=media,
    )
