"""What fan_out_results does with one message: fan a chunk out, refill capacity, finish the job."""

from __future__ import annotations

from datetime import timedelta

from syncdrop.domain.fan_out import FanOutOutcome, FanOutPolicy, fan_out_chunk
from syncdrop.domain.generation_submit import GenerationLimits
from syncdrop.domain.reporting import REPORT_LEASE, FinishOutcome, finish_job
from syncdrop.domain.services import Services
from syncdrop.domain.submission import submit_ready_chunks
from syncdrop.errors import TransientError
from syncdrop.jobs import SubmitMode
from syncdrop.messages import ResultsMessage


class ReportInProgress(TransientError):
    """Another worker holds the report lease; the message comes back after it expires."""


def handle_results_message(
    services: Services,
    message: ResultsMessage,
    *,
    batch_concurrency: int,
    webhook_base: str,
    report_lease: timedelta = REPORT_LEASE,
    fan_out: FanOutPolicy | None = None,
    generation: GenerationLimits | None = None,
    mode: SubmitMode = SubmitMode.AUTO,
) -> FanOutOutcome | FinishOutcome:
    fan_out = fan_out or FanOutPolicy()
    if message.kind == "job" or message.chunk is None:
        return _finish(services, message.job_id, report_lease, fan_out)
    outcome = fan_out_chunk(services, message.job_id, message.chunk, fan_out)
    if outcome is FanOutOutcome.WRITTEN:
        # A slot just freed up: the oldest QUEUED chunk of each kind, of any job, goes next.
        submit_ready_chunks(
            services,
            batch_concurrency=batch_concurrency,
            webhook_base=webhook_base,
            generation=generation,
            mode=mode,
        )
    if outcome in (FanOutOutcome.WRITTEN, FanOutOutcome.ALREADY_DONE):
        _finish(services, message.job_id, report_lease, fan_out)
    return outcome


def _finish(
    services: Services, job_id: str, lease: timedelta, fan_out: FanOutPolicy
) -> FinishOutcome:
    outcome = finish_job(services, job_id, lease=lease, fan_out=fan_out)
    if outcome is FinishOutcome.BUSY:
        # If that worker died before the email, this retry (after the lease) sends it.
        raise ReportInProgress(f"the report of {job_id} is being written by another worker")
    return outcome
