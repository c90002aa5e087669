"""Run-time settings of the Sync emulator; tests may change them while it runs."""

from __future__ import annotations

from dataclasses import dataclass

from .batches import Timing
from .validation import Limits


@dataclass
class EmulatorSettings:
    """Everything the HTTP routes read on each request (changes apply to the next request).

    ``public_url`` and ``signed_base`` default to the server's own URL once it is listening.
    Timing changes apply to batches created afterwards; a batch's timeline is fixed at creation.
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
    batch_access: bool = True
    signature_header: str = "Sync-Signature"
    result_url_ttl: float = 900.0
    webhook_timeout: float = 5.0
    public_url: str | None = None
    signed_base: str | None = None

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
