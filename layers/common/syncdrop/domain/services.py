"""The collaborators one invocation works with, handed to the domain as one value."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from syncdrop.ports import (
    CopyLedger,
    JobStore,
    Notifier,
    ObjectStore,
    OutputsQueue,
    ResultLines,
    ResultsQueue,
    ResultStore,
    SyncApi,
)

if TYPE_CHECKING:  # built by wiring; a function that never submits never imports it
    from syncdrop.domain.media_assets import MediaAssets


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Services:
    jobs: JobStore
    results: ResultStore
    objects: ObjectStore
    sync: SyncApi
    clock: Callable[[], datetime] = field(default=utc_now)
    # Only the completion side needs these; intake-only tests may leave them out.
    results_queue: ResultsQueue | None = None
    notifier: Notifier | None = None
    result_lines: ResultLines | None = None
    # Set when CopyOutputs is on: videos are copied into the bucket after each fan-out.
    outputs_queue: OutputsQueue | None = None
    copies: CopyLedger | None = None
    # Rows' s3:// media as Sync assets: the functions that submit have it.
    media: MediaAssets | None = None

    def media_assets(self) -> MediaAssets:
        if self.media is None:
            raise RuntimeError("this function was built without the media uploader")
        return self.media

    def queue(self) -> ResultsQueue:
        if self.results_queue is None:
            raise RuntimeError("this function was built without the results queue")
        return self.results_queue

    def email(self) -> Notifier:
        if self.notifier is None:
            raise RuntimeError("this function was built without the notifier")
        return self.notifier

    def outputs(self) -> OutputsQueue:
        if self.outputs_queue is None:
            raise RuntimeError("this function was built without the outputs queue")
        return self.outputs_queue

    def copy_ledger(self) -> CopyLedger:
        if self.copies is None:
            raise RuntimeError("this function was built without the copy ledger")
        return self.copies

    def downloads(self) -> ResultLines:
        if self.result_lines is None:
            raise RuntimeError("this function was built without the result downloader")
        return self.result_lines
