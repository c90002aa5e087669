"""What fan_out_results does with one message: fan a chunk out, refill capacity, finish the job."""

from __future__ import annotations

from syncdrop.domain.fan_out import FanOutOutcome, fan_out_chunk
from syncdrop.domain.reporting import FinishOutcome, finish_job
from syncdrop.domain.services import Services
from syncdrop.domain.submission import submit_ready_chunks
from syncdrop.messages import ResultsMessage


def handle_results_message(
    services: Services, message: ResultsMessage, *, batch_concurrency: int, webhook_base: str
) -> FanOutOutcome | FinishOutcome:
    if message.kind == "job" or message.chunk is None:
        return finish_job(services, message.job_id)
    outcome = fan_out_chunk(services, message.job_id, message.chunk)
    if outcome is FanOutOutcome.WRITTEN:
        # A slot just freed up: the oldest QUEUED chunk of any job goes next.
        submit_ready_chunks(
            services, batch_concurrency=batch_concurrency, webhook_base=webhook_base
        )
    if outcome in (FanOutOutcome.WRITTEN, FanOutOutcome.ALREADY_DONE):
        finish_job(services, message.job_id)
    return outcome
