"""One Logger and one Metrics for every function; the job id is the correlation id.

Every custom metric syncdrop emits is named in ``Metric`` (namespace ``syncdrop``, dimension
``service=syncdrop``); template.yaml's alarms and dashboard use these names and
docs/operations.md says what each one means and what normal looks like.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from syncdrop.jobs import JobStatus

if TYPE_CHECKING:
    from syncdrop.domain.services import Services
    from syncdrop.jobs import Chunk, ChunkStatus, Job
    from syncdrop.ports import JobStore, Notifier
    from syncdrop.report import Email

# botocore's DEBUG output prints whole responses, Secrets Manager values included: never below
# INFO, whatever level the function's own logger runs at.
logging.getLogger("botocore").setLevel(logging.INFO)

NAMESPACE = "syncdrop"
SERVICE = "syncdrop"  # Powertools puts it on every metric as the dimension service=syncdrop


class Metric(StrEnum):
    """The name of every custom metric, grouped by the function that emits it."""

    # submit_batch
    FILES_RECEIVED = "FilesReceived"
    FILES_REFUSED = "FilesRefused"
    ROWS_ACCEPTED = "RowsAccepted"
    ROWS_REJECTED = "RowsRejected"
    CHUNKS_QUEUED = "ChunksQueued"
    # submit_batch, fan_out_results and reconcile: every batch syncdrop created at Sync
    CHUNKS_SUBMITTED = "ChunksSubmitted"
    # receive_webhook
    WEBHOOKS_ACCEPTED = "WebhooksAccepted"
    WEBHOOKS_REJECTED = "WebhooksRejected"
    WEBHOOKS_UNREADABLE = "WebhooksUnreadable"
    WEBHOOKS_UNKNOWN_BATCH = "WebhooksUnknownBatch"
    WEBHOOKS_MISDIRECTED = "WebhooksMisdirected"
    WEBHOOKS_TOO_LARGE = "WebhooksTooLarge"
    # fan_out_results
    CHUNKS_FANNED_OUT = "ChunksFannedOut"
    RESULTS_MESSAGES_SKIPPED = "ResultsMessagesSkipped"
    GENERATIONS_COMPLETED = "GenerationsCompleted"
    GENERATIONS_FAILED = "GenerationsFailed"
    EMAILS_SENT = "EmailsSent"
    UPLOAD_TO_EMAIL_SECONDS = "UploadToEmailSeconds"
    # reconcile
    RECONCILE_ADOPTED = "ReconcileAdopted"
    RECONCILE_REPOSTED = "ReconcileReposted"
    RECONCILE_REQUEUED = "ReconcileRequeued"
    RECONCILE_POLLED = "ReconcilePolled"
    RECONCILE_ENQUEUED = "ReconcileEnqueued"
    RECONCILE_REPORTS_RESTARTED = "ReconcileReportsRestarted"
    RECONCILE_PAST_DEADLINE = "ReconcilePastDeadline"  # jobs finished at their deadline
    RECONCILE_SUBMITTED = "ReconcileSubmitted"
    OPEN_BATCHES = "OpenBatches"
    OLDEST_OPEN_BATCH_HOURS = "OldestOpenBatchHours"
    # copy_outputs
    VIDEOS_COPIED = "VideosCopied"
    VIDEO_COPIES_FAILED = "VideoCopiesFailed"


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


@dataclass(slots=True)
class Observed:
    """What one results message led to, noted at the ports where each thing happens once.

    ``handle_results_message`` returns one outcome per message; the rows a chunk closed with,
    the batches submitted after it and the email sent for its job are the winning conditional
    writes and the one publish behind that outcome. Noting them as they pass costs no read and
    counts nothing twice: a redelivered message loses those writes and notes nothing.
    """

    generations_completed: int = 0
    generations_failed: int = 0
    chunks_closed: int = 0
    chunks_submitted: int = 0
    emails_sent: int = 0
    upload_to_email_seconds: list[float] = field(default_factory=list)

    def around(self, services: Services) -> Services:
        """The same services, with the job store and the notifier passing through this."""
        jobs = _NotedJobs(services.jobs, self)
        notifier = services.notifier
        if notifier is not None:
            notifier = cast("Notifier", _NotedEmails(notifier, jobs, self, services.clock))
        return replace(services, jobs=cast("JobStore", jobs), notifier=notifier)

    def record(self) -> None:
        if self.chunks_closed:
            metrics.add_metric(
                Metric.GENERATIONS_COMPLETED, MetricUnit.Count, self.generations_completed
            )
            metrics.add_metric(Metric.GENERATIONS_FAILED, MetricUnit.Count, self.generations_failed)
        if self.chunks_submitted:
            metrics.add_metric(Metric.CHUNKS_SUBMITTED, MetricUnit.Count, self.chunks_submitted)
        if self.emails_sent:
            metrics.add_metric(Metric.EMAILS_SENT, MetricUnit.Count, self.emails_sent)
        for seconds in self.upload_to_email_seconds:
            metrics.add_metric(Metric.UPLOAD_TO_EMAIL_SECONDS, MetricUnit.Seconds, seconds)


class _NotedJobs:
    """A JobStore that notes closed chunks, submitted batches and the jobs it read."""

    def __init__(self, inner: JobStore, observed: Observed) -> None:
        self._inner = inner
        self._observed = observed
        self.read: dict[str, Job] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_job(self, job_id: str) -> Job | None:
        job = self._inner.get_job(job_id)
        if job is not None:
            self.read[job_id] = job
        return job

    # Keyword arguments pass through untouched: only the counts are read.
    def mark_submitted(self, chunk: Chunk, batch_id: str, **kwargs: Any) -> bool:
        moved = self._inner.mark_submitted(chunk, batch_id, **kwargs)
        if moved:
            self._observed.chunks_submitted += 1
        return moved

    def close_chunk(self, chunk: Chunk, to: ChunkStatus, **kwargs: Any) -> bool:
        closed = self._inner.close_chunk(chunk, to, **kwargs)
        if closed:
            self._observed.chunks_closed += 1
            self._observed.generations_completed += int(kwargs.get("completed", 0))
            self._observed.generations_failed += int(kwargs.get("failed", 0))
        return closed


class _NotedEmails:
    """A Notifier that notes each email sent and, for a processed file, its upload's age."""

    def __init__(
        self,
        inner: Notifier,
        jobs: _NotedJobs,
        observed: Observed,
        clock: Callable[[], datetime],
    ) -> None:
        self._inner = inner
        self._jobs = jobs
        self._observed = observed
        self._clock = clock

    def publish(self, email: Email) -> str:
        message_id = self._inner.publish(email)
        self._observed.emails_sent += 1
        job = self._jobs.read.get(email.attributes.get("job_id", ""))
        # A refused file or a dry run is answered at once: only processed files are timed.
        if job is not None and job.status is JobStatus.RUNNING:
            age = (self._clock() - job.created_at).total_seconds()
            self._observed.upload_to_email_seconds.append(round(max(age, 0.0), 3))
        return message_id
