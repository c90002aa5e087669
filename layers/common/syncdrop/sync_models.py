"""Sync's Batch API objects as they appear on the wire, in both casings Sync uses."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class BatchStatus(StrEnum):
    PENDING = "PENDING"
    JOBS_CREATED = "JOBS_CREATED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in (BatchStatus.COMPLETED, BatchStatus.FAILED)


class BatchMetrics(BaseModel):
    # Get/List use snake_case; the webhook example uses camelCase. Accept both. Validators
    # are built on first use, not at import: a cold start that never reads a batch skips it.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    total_generations: int = Field(
        0, validation_alias=AliasChoices("total_generations", "totalGenerations")
    )
    success_count: int = Field(0, validation_alias=AliasChoices("success_count", "successCount"))
    failed_count: int = Field(0, validation_alias=AliasChoices("failed_count", "failedCount"))
    pending_count: int = Field(0, validation_alias=AliasChoices("pending_count", "pendingCount"))


class Batch(BaseModel):
    """A BatchResponse: what create, get, list and the batch webhook return."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: str = Field(min_length=1)
    status: BatchStatus
    created_at: datetime | None = Field(
        None, validation_alias=AliasChoices("created_at", "createdAt")
    )
    metrics: BatchMetrics = Field(default_factory=BatchMetrics)
    output_url: str = Field("", validation_alias=AliasChoices("outputUrl", "output_url"))
    webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("webhookUrl", "webhook_url")
    )


class Validated(BaseModel):
    """The answer to a dry run: ``{"status": "VALIDATED"}``; nothing was created."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    status: str
