"""Sync's batch object in both casings its docs show (Get/List vs the webhook example)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from syncdrop.sync_models import Batch, BatchStatus


def test_snake_case_get_response():
    batch = Batch.model_validate(
        {
            "id": "batch_abc123",
            "created_at": "2024-01-15T10:30:00Z",
            "status": "PROCESSING",
            "metrics": {
                "total_generations": 5,
                "success_count": 2,
                "failed_count": 1,
                "pending_count": 2,
            },
            "outputUrl": "",
            "webhookUrl": None,
        }
    )
    assert batch.status is BatchStatus.PROCESSING
    assert not batch.status.is_terminal
    assert (batch.metrics.total_generations, batch.metrics.pending_count) == (5, 2)
    assert batch.created_at is not None


def test_camel_case_webhook_example_from_the_guide():
    batch = Batch.model_validate_json(
        """{"id": "batch_abc123", "createdAt": "2024-01-15T10:30:00Z", "status": "COMPLETED",
        "webhookUrl": "https://your-webhook-url.com/batch-webhook",
        "metrics": {"totalGenerations": 5, "successCount": 4, "failedCount": 1, "pendingCount": 0},
        "options": {}, "outputUrl": "https://output.sync.so/batch_abc123_results.jsonl"}"""
    )
    assert batch.status.is_terminal
    assert (batch.metrics.success_count, batch.metrics.failed_count) == (4, 1)
    assert batch.output_url.endswith("results.jsonl")
    assert batch.webhook_url == "https://your-webhook-url.com/batch-webhook"


@pytest.mark.parametrize("body", ['{"status": "COMPLETED"}', '{"id": "b", "status": "DONE"}', "[]"])
def test_unreadable_payloads_are_refused(body):
    with pytest.raises(ValidationError):
        Batch.model_validate_json(body)


def test_jobs_created_is_not_terminal():
    assert not BatchStatus.JOBS_CREATED.is_terminal
    assert BatchStatus.FAILED.is_terminal
