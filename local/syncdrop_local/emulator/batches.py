"""Batch state for the Sync emulator: timelines on the emulated clock, metrics and result lines.

A batch's whole future is fixed when it is created. With ``c`` its creation time, ``P`` the pending
seconds, ``J`` the ``JOBS_CREATED`` seconds (0 skips that status), ``S`` the seconds per line and
``k`` the lines processed in parallel:

- ``PENDING`` on ``[c, c+P)``, ``JOBS_CREATED`` on ``[c+P, c+P+J)``, then ``PROCESSING``;
- line ``i`` (0-based, input order) finishes at ``c + P + J + (i // k + 1) * S``; ``metrics``
  count finished lines as ``success_count``/``failed_count`` and the rest as ``pending_count``;
- the batch is ``COMPLETED`` when its last line finishes; a batch that fails as a whole (see
  :mod:`.outcomes`, or ``batch_failure_rate`` of the fault plan) shows no progress and turns
  ``FAILED`` at ``c + P + J + S`` with every line failed.

Once terminal, ``outputUrl`` is ``<public url>/v2/batches/<id>/result`` and the result file is
available; before that it is ``""``.
"""

from __future__ import annotations

import copy
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .clock import isoformat, to_millis
from .faults import BatchFaults
from .outcomes import BATCH_ERROR, LineOutcome, batch_fails, failure, line_outcome
from .records import BatchSnapshot
from .validation import InputLine

BATCH_STATUSES: tuple[str, ...] = ("PENDING", "JOBS_CREATED", "PROCESSING", "COMPLETED", "FAILED")
OPEN_STATUSES = frozenset({"PENDING", "JOBS_CREATED", "PROCESSING"})
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED"})
OUTPUT_DURATION_SECONDS = 1.0


@dataclass(frozen=True)
class Timing:
    """How long each phase of a batch lasts, in emulated seconds."""

    pending_seconds: float = 30.0
    jobs_created_seconds: float = 0.0
    processing_seconds_per_line: float = 6.0
    line_parallelism: int = 1


@dataclass
class PlannedLine:
    """One input line, its precomputed outcome and when it finishes."""

    line_number: int
    record: dict[str, Any]
    outcome: LineOutcome
    generation_id: str
    done_at: float

    @property
    def request_id(self) -> str:
        return str(self.record["request_id"])


@dataclass
class Batch:
    """A created batch; its status at any instant is a pure function of the clock."""

    id: str
    ordinal: int
    created_at: float
    webhook_url: str | None
    lines: list[PlannedLine]
    jobs_created_at: float
    processing_at: float
    terminal_at: float
    batch_failed: bool
    webhook_sent: bool = field(default=False)
    injected_failure: bool = False
    result_faults: Mapping[str, str] = field(default_factory=dict)
    premature_checked: bool = False

    def status(self, now: float) -> str:
        if now >= self.terminal_at:
            return "FAILED" if self.batch_failed else "COMPLETED"
        if now >= self.processing_at:
            return "PROCESSING"
        if now >= self.jobs_created_at:
            return "JOBS_CREATED"
        return "PENDING"

    def is_open(self, now: float) -> bool:
        return self.status(now) in OPEN_STATUSES

    def is_terminal(self, now: float) -> bool:
        return now >= self.terminal_at

    def metrics(self, now: float) -> dict[str, int]:
        if self.batch_failed:
            done = self.lines if self.is_terminal(now) else []
            failed = len(done)
        else:
            done = [line for line in self.lines if line.done_at <= now]
            failed = sum(1 for line in done if line.outcome.failed)
        return {
            "total_generations": len(self.lines),
            "success_count": len(done) - failed,
            "failed_count": failed,
            "pending_count": len(self.lines) - len(done),
        }

    def result_path(self) -> str:
        return f"/v2/batches/{self.id}/result"

    def to_response(self, now: float, public_url: str) -> dict[str, Any]:
        """The ``BatchResponse`` wire object (sync-api.md §2.5)."""
        return {
            "id": self.id,
            "created_at": isoformat(self.created_at),
            "status": self.status(now),
            "metrics": self.metrics(now),
            "outputUrl": public_url + self.result_path() if self.is_terminal(now) else "",
            "webhookUrl": self.webhook_url,
        }

    def generation(self, line: PlannedLine, public_url: str) -> dict[str, Any]:
        """The Generation object (sync-api.md §4.5) placed in a completed line's ``response``."""
        payload = line.record["payload"]
        generation: dict[str, Any] = {
            "id": line.generation_id,
            "createdAt": isoformat(self.processing_at),
            "status": "COMPLETED",
            "model": payload["model"],
            "input": payload["input"],
        }
        for key in ("options", "segments", "webhookUrl", "outputFileName"):
            if key in payload:
                generation[key] = payload[key]
        generation.update(
            {
                "outputUrl": f"{public_url}/media/{line.generation_id}.mp4",
                "outputDuration": OUTPUT_DURATION_SECONDS,
                "segmentOutputUrl": None,
                "error": None,
                "error_code": None,
            }
        )
        return generation

    def result_lines(self, public_url: str) -> list[dict[str, Any]]:
        """One output line per input line, in input order (batch guide, "Check Batch Results")."""
        lines: list[dict[str, Any]] = []
        for line in self.lines:
            outcome = failure(BATCH_ERROR) if self.batch_failed else line.outcome
            finished = self.terminal_at if self.batch_failed else line.done_at
            lines.append(
                {
                    "request_id": line.request_id,
                    "endpoint": line.record["endpoint"],
                    "payload": line.record["payload"],
                    "status": outcome.status,
                    "error": (
                        {"code": outcome.error_code, "message": outcome.error_message}
                        if outcome.failed
                        else None
                    ),
                    "response": None if outcome.failed else self.generation(line, public_url),
                    "updated_at": isoformat(finished),
                }
            )
        return lines

    def outcomes(self) -> dict[str, str]:
        if self.batch_failed:
            return {line.request_id: "FAILED" for line in self.lines}
        return {line.request_id: line.outcome.status for line in self.lines}


class BatchStore:
    """All batches of one emulator, guarded by a lock; creation enforces the concurrency cap."""

    def __init__(self, *, clock_now: Callable[[], float], seed: int = 0) -> None:
        self._lock = threading.RLock()
        self._now = clock_now
        self._seed = seed
        self._batches: dict[str, Batch] = {}
        self._generation_batches: dict[str, str] = {}
        self._ordinal = 0
        self._max_open = 0

    def _open_count(self, now: float) -> int:
        return sum(1 for batch in self._batches.values() if batch.is_open(now))

    def open_count(self) -> int:
        with self._lock:
            return self._open_count(self._now())

    @property
    def max_open(self) -> int:
        with self._lock:
            return self._max_open

    def create(
        self,
        lines: list[InputLine],
        *,
        webhook_url: str | None,
        timing: Timing,
        concurrency: int,
        failure_rate: float,
        plan_faults: Callable[[int, list[str], bool], BatchFaults] | None = None,
    ) -> Batch | None:
        """Create a batch, or return ``None`` when ``concurrency`` batches are already open.

        ``plan_faults(ordinal, request_ids, already_failing)`` fixes the batch's injected faults.
        """
        with self._lock:
            now = math.floor(self._now() * 1000) / 1000  # created_at has millisecond precision
            if self._open_count(now) >= concurrency:
                return None
            self._ordinal += 1
            jobs_created_at = now + timing.pending_seconds
            processing_at = jobs_created_at + timing.jobs_created_seconds
            step = timing.processing_seconds_per_line
            parallel = max(1, timing.line_parallelism)
            records = [line.record for line in lines]
            whole_batch_fails = batch_fails(records)
            faults = BatchFaults()
            if plan_faults is not None:
                request_ids = [str(record["request_id"]) for record in records]
                faults = plan_faults(self._ordinal, request_ids, whole_batch_fails)
            injected_failure = faults.fail_batch and not whole_batch_fails
            whole_batch_fails = whole_batch_fails or faults.fail_batch
            planned = [
                PlannedLine(
                    line_number=line.line_number,
                    record=line.record,
                    outcome=line_outcome(
                        line.record,
                        seed=self._seed,
                        batch_ordinal=self._ordinal,
                        failure_rate=failure_rate,
                    ),
                    generation_id=str(uuid.uuid4()),
                    done_at=processing_at + (index // parallel + 1) * step,
                )
                for index, line in enumerate(lines)
            ]
            if whole_batch_fails:
                terminal_at = processing_at + step
            else:
                terminal_at = max((line.done_at for line in planned), default=processing_at)
            batch = Batch(
                id=f"batch_{uuid.uuid4().hex}",
                ordinal=self._ordinal,
                created_at=now,
                webhook_url=webhook_url,
                lines=planned,
                jobs_created_at=jobs_created_at,
                processing_at=processing_at,
                terminal_at=terminal_at,
                batch_failed=whole_batch_fails,
                injected_failure=injected_failure,
                result_faults=dict(faults.result_lines),
            )
            self._batches[batch.id] = batch
            if not whole_batch_fails:
                self._generation_batches.update(
                    (line.generation_id, batch.id) for line in planned if not line.outcome.failed
                )
            self._max_open = max(self._max_open, self._open_count(now))
            return batch

    def get(self, batch_id: str) -> Batch | None:
        with self._lock:
            return self._batches.get(batch_id)

    def all(self) -> list[Batch]:
        """Every batch, oldest first."""
        with self._lock:
            return list(self._batches.values())

    def query(
        self,
        *,
        status: str | None = None,
        created_after: float | None = None,
        created_before: float | None = None,
    ) -> list[Batch]:
        """Filtered batches, newest first; the date bounds are inclusive."""
        after = None if created_after is None else to_millis(created_after)
        before = None if created_before is None else to_millis(created_before)
        with self._lock:
            now = self._now()
            chosen = [
                batch
                for batch in self._batches.values()
                if (status is None or batch.status(now) == status)
                and (after is None or to_millis(batch.created_at) >= after)
                and (before is None or to_millis(batch.created_at) <= before)
            ]
        return sorted(chosen, key=lambda batch: (batch.created_at, batch.ordinal), reverse=True)

    def generation_ready(self, generation_id: str) -> bool:
        """Is this the id of a completed generation whose batch has finished?"""
        return self.ready_generation(generation_id) is not None

    def ready_generation(self, generation_id: str) -> tuple[Batch, PlannedLine] | None:
        """The finished batch and the line of a completed generation, or ``None``."""
        with self._lock:
            batch_id = self._generation_batches.get(generation_id)
            batch = self._batches.get(batch_id) if batch_id is not None else None
            if batch is None or not batch.is_terminal(self._now()):
                return None
        line = next(line for line in batch.lines if line.generation_id == generation_id)
        return batch, line

    def claim_processing(self) -> tuple[float, list[Batch]]:
        """The emulated time, and ``PROCESSING`` batches with a webhook URL not claimed before
        (marked claimed)."""
        with self._lock:
            now = self._now()
            found = [
                batch
                for batch in self._batches.values()
                if batch.webhook_url
                and not batch.premature_checked
                and batch.status(now) == "PROCESSING"
            ]
            for batch in found:
                batch.premature_checked = True
            return now, found

    def claim_due_webhooks(self) -> list[Batch]:
        """Terminal batches with a webhook URL not yet notified; marks them as notified."""
        return self.claim_due_webhooks_at()[1]

    def claim_due_webhooks_at(self) -> tuple[float, list[Batch]]:
        """Like :meth:`claim_due_webhooks`, with the emulated time of the claim."""
        with self._lock:
            now = self._now()
            due = [
                batch
                for batch in self._batches.values()
                if batch.webhook_url and not batch.webhook_sent and batch.is_terminal(now)
            ]
            for batch in due:
                batch.webhook_sent = True
            return now, due

    def snapshot(self, batch: Batch, public_url: str) -> BatchSnapshot:
        with self._lock:
            now = self._now()
            return BatchSnapshot(
                id=batch.id,
                ordinal=batch.ordinal,
                created_at=isoformat(batch.created_at),
                created_at_ts=batch.created_at,
                status=batch.status(now),
                lines=tuple(copy.deepcopy(line.record) for line in batch.lines),
                webhook_url=batch.webhook_url,
                metrics=batch.metrics(now),
                output_url=batch.to_response(now, public_url)["outputUrl"],
                outcomes=batch.outcomes(),
                batch_failed=batch.batch_failed,
                terminal_at=batch.terminal_at,
                webhook_sent=batch.webhook_sent,
                observed_at=now,
                injected_failure=batch.injected_failure,
            )
