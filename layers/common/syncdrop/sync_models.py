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


class AssetUpload(BaseModel):
    """The answer to ``POST /v2/assets/upload``: where to PUT the bytes, and the URL to register."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    upload_url: str = Field(min_length=1, validation_alias=AliasChoices("uploadUrl", "upload_url"))
    url: str = Field(min_length=1)
    expires_in: int = Field(0, validation_alias=AliasChoices("expiresIn", "expires_in"))


class Asset(BaseModel):
    """A media file registered with Sync; generations name it by ``id`` (``assetId``)."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: str = Field(min_length=1)
    type: str
    url: str | None = None
    size: int | None = None
    name: str | None = None
    # Sync documents no digest on an Asset; kept should an answer carry one.
    content_sha256: str | None = Field(
        None, validation_alias=AliasChoices("contentSha256", "content_sha256")
    )


class GenerationStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    # Only older docs list these two; accepted so an old answer still parses.
    CANCELED = "CANCELED"
    TIMED_OUT = "TIMED_OUT"

    @property
    def is_terminal(self) -> bool:
        return self not in (GenerationStatus.PENDING, GenerationStatus.PROCESSING)


class Generation(BaseModel):
    """A Generation object: what create, get and list of the Generate API and its webhook return.

    Sync writes ``createdAt``/``outputUrl`` in camelCase and ``error_code`` in snake_case;
    both spellings are accepted for each.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    id: str = Field(min_length=1)
    status: GenerationStatus
    created_at: datetime | None = Field(
        None, validation_alias=AliasChoices("createdAt", "created_at")
    )
    output_url: str | None = Field(None, validation_alias=AliasChoices("outputUrl", "output_url"))
    output_duration: float | None = Field(
        None, validation_alias=AliasChoices("outputDuration", "output_duration")
    )
    error: str | None = None
    error_code: str | None = Field(None, validation_alias=AliasChoices("error_code", "errorCode"))
    webhook_url: str | None = Field(
        None, validation_alias=AliasChoices("webhookUrl", "webhook_url")
    )
    model: str | None = None
