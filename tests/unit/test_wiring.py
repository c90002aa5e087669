"""Each function gets only the adapters it uses; Sync's httpx clients are built on first use."""

from __future__ import annotations

import gc
import sys

import pytest

from syncdrop import wiring
from syncdrop.config import Settings

SETTINGS = Settings(
    job_table="jobs",
    results_table="results",
    uploads_bucket="uploads",
    sync_api_base_url="http://127.0.0.1:9",
    sync_api_key_secret_arn="arn:aws:secretsmanager:us-east-1:123456789012:secret:key",
    batch_concurrency=2,
)


def test_a_function_built_without_s3_and_sync_says_so_when_it_uses_them() -> None:
    services = wiring.build_services(SETTINGS, uploads=False, sync=False)
    with pytest.raises(RuntimeError, match="without the uploads bucket"):
        services.objects.get_bytes("work/x")
    with pytest.raises(RuntimeError, match="without the Sync API client"):
        services.sync.get_batch("batch_1")


def test_the_sync_client_is_built_on_its_first_use() -> None:
    services = wiring.build_services(SETTINGS)
    assert type(services.sync).__name__ == "_BuiltOnFirstUse"
    assert services.sync.list_batches.__self__.__class__.__name__ == "SyncBatchApi"  # type: ignore[attr-defined]
    assert "syncdrop.adapters.sync_api" in sys.modules


def test_the_cold_start_heap_is_frozen_only_in_lambda(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[bool] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append(True))
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    wiring.keep_out_of_collections()
    assert frozen == []
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "syncdrop-submit")
    wiring.keep_out_of_collections()
    assert frozen == [True]


def test_the_webhook_waits_on_dynamodb_contention_well_within_its_timeout() -> None:
    from syncdrop.adapters.policy import WEBHOOK_DYNAMODB_POLICY as policy

    worst = sum(min(policy.max_delay, policy.base_delay * 2**a) for a in range(policy.attempts - 1))
    assert worst < 1.0  # ReceiveWebhookFunction's Timeout is 10 s
    services = wiring.build_services(SETTINGS, uploads=False, sync=False, dynamodb_policy=policy)
    assert services.jobs._policy is policy  # type: ignore[attr-defined]
    assert services.results._policy is policy  # type: ignore[attr-defined]
