"""Run-time settings of the Sync emulator; tests may change them while it runs."""

from __future__ import annotations

from dataclasses import dataclass

from .batches import Timing
from .generations import GenerationTiming
from .plans import DEFAULT_PLAN, generation_limit, plan_has_batch_access
from .validation import Limits


@dataclass
class EmulatorSettings:
    """Everything the HTTP routes read on each request (changes apply to the next request).

    ``public_url`` and ``signed_base`` default to the server's own URL once it is listening.
    Timing changes apply to batches created afterwards; a batch's timeline is fixed at creation.
    ``batch_access`` ``None`` follows the plan (Scale and Enterprise only); ``True``/``False``
    overrides it. ``generation_concurrency`` ``None`` is the plan's number.
    """

    api_key: str
    webhook_secret: str | None
    batch_concurrency: int = 3
    pending_seconds: float = 30.0
    jobs_created_seconds: float = 0.0
    processing_seconds_per_line: float = 6.0
    line_parallelism: int = 1
    failure_rate: float = 0.0
    seed: int = 0
    min_lines: int = 20
    max_lines: int = 500
    max_bytes: int = 5 * 1024 * 1024
    batch_access: bool | None = None
    plan: str = DEFAULT_PLAN
    generation_concurrency: int | None = None
    generate_rate_limit: int = 60  # POST /v2/generate per sliding minute; 0 turns it off
    generation_pending_seconds: float = 5.0
    generation_seconds: float = 20.0
    signature_header: str = "Sync-Signature"
    result_url_ttl: float = 900.0
    webhook_timeout: float = 5.0
    public_url: str | None = None
    signed_base: str | None = None
    # Assets API: other accounts' keys (only assets are kept apart by key), the upload-URL
    # request rate per key and minute (0: no limit), upload-URL lifetime and the plan's file cap.
    other_api_keys: tuple[str, ...] = ()
    asset_upload_rate_limit: int = 120
    asset_upload_url_ttl: float = 3600.0
    asset_max_bytes: int = 5 * 1024**3

    @property
    def limits(self) -> Limits:
        return Limits(min_lines=self.min_lines, max_lines=self.max_lines, max_bytes=self.max_bytes)

    @property
    def timing(self) -> Timing:
        return Timing(
            pending_seconds=self.pending_seconds,
            jobs_created_seconds=self.jobs_created_seconds,
            processing_seconds_per_line=self.processing_seconds_per_line,
            line_parallelism=self.line_parallelism,
        )

    @property
    def has_batch_access(self) -> bool:
        if self.batch_access is not None:
            return self.batch_access
        return plan_has_batch_access(self.plan)

    @property
    def generation_limit(self) -> int:
        return generation_limit(self.plan, self.generation_concurrency)

    @property
    def generation_timing(self) -> GenerationTiming:
        return GenerationTiming(
            pending_seconds=self.generation_pending_seconds,
            processing_seconds=self.generation_seconds,
        )
