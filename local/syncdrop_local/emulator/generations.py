"""Generation state for the Sync emulator: one ``POST /v2/generate`` each, on the emulated clock.

A generation's future is fixed when it is created. With ``c`` its creation time, ``P`` the
pending seconds and ``S`` the processing seconds it is ``PENDING`` on ``[c, c+P)``,
``PROCESSING`` on ``[c+P, c+P+S)``, then ``COMPLETED`` or ``FAILED`` (the rule of
:mod:`.outcomes`: ``sync-fail`` markers in input URLs, else the seeded ``failure_rate``).
The store keeps the idempotency keys, so a key names at most one generation, and refuses a
new generation when the plan's limit of open (PENDING + PROCESSING) generations is reached.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from .batches import OUTPUT_DURATION_SECONDS
from .clock import isoformat
from .outcomes import LineOutcome, line_outcome

GENERATION_STATUSES: tuple[str, ...] = ("PENDING", "PROCESSING", "COMPLETED", "FAILED")
OPEN_GENERATION_STATUSES = frozenset({"PENDING", "PROCESSING"})


def canonical_json(body: Any) -> str:
    """One text per JSON value, whatever the key order or spacing of the request."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class GenerationTiming:
    """How long each phase of a generation lasts, in emulated seconds."""

    pending_seconds: float = 5.0
    processing_seconds: float = 20.0


@dataclass
class Generation:
    """A created generation; its status at any instant is a pure function of the clock."""

    id: str
    ordinal: int
    created_at: float
    body: dict[str, Any]
    canonical_body: str
    idempotency_key: str | None
    processing_at: float
    terminal_at: float
    outcome: LineOutcome
    webhook_sent: bool = field(default=False)

    @property
    def webhook_url(self) -> str | None:
        url = self.body.get("webhookUrl")
        return url if isinstance(url, str) and url else None

    def status(self, now: float) -> str:
        if now >= self.terminal_at:
            return self.outcome.status
        return "PROCESSING" if now >= self.processing_at else "PENDING"

    def is_open(self, now: float) -> bool:
        return now < self.terminal_at

    def is_completed(self, now: float) -> bool:
        return self.status(now) == "COMPLETED"

    def to_response(self, now: float, public_url: str) -> dict[str, Any]:
        """The Generation object (sync-api.md §4.5) as of ``now``."""
        status = self.status(now)
        body = self.body
        generation: dict[str, Any] = {
            "id": self.id,
            "createdAt": isoformat(self.created_at),
            "status": status,
            "model": body["model"],
            "input": body["input"],
            "options": body.get("options"),
        }
        for key in ("segments", "outputFileName"):
            if key in body:
                generation[key] = body[key]
        completed = status == "COMPLETED"
        failed = status == "FAILED"
        code = self.outcome.error_code
        generation.update(
            {
                "webhookUrl": self.webhook_url,
                "outputUrl": f"{public_url}/media/{self.id}.mp4" if completed else None,
                "outputDuration": OUTPUT_DURATION_SECONDS if completed else None,
                "segmentOutputUrl": None,
                "error": self.outcome.error_message if failed else None,
                # Generation errors are snake_case codes, like the API's errorCode values.
                "error_code": code.lower() if failed and code else None,
            }
        )
        return generation


@dataclass(frozen=True)
class GenerationSnapshot:
    """A created generation as seen at ``observed_at`` (emulated time)."""

    id: str
    status: str
    idempotency_key: str | None
    webhook_url: str | None
    created_at: str
    created_at_ts: float
    body: dict[str, Any]
    output_url: str | None
    error_code: str | None
    webhook_sent: bool
    observed_at: float


@dataclass(frozen=True)
class CreateOutcome:
    """What :meth:`GenerationStore.create` did: ``created``, ``replayed`` an earlier generation
    of the same key, ``mismatch`` (same key, another body) or ``limited`` (plan limit)."""

    kind: Literal["created", "replayed", "mismatch", "limited"]
    generation: Generation | None = None


def webhook_target(webhook_url: str | None) -> tuple[str, str] | None:
    """The ``(job, chunk)`` a ``webhookUrl`` names in its query string, or ``None``."""
    if not webhook_url:
        return None
    query = parse_qs(urlsplit(webhook_url).query)
    job, chunk = query.get("job", [""])[0], query.get("chunk", [""])[0]
    return (job, chunk) if job and chunk else None


class GenerationStore:
    """Every generation of one emulator, guarded by a lock."""

    def __init__(self, *, clock_now: Callable[[], float], seed: int = 0) -> None:
        self._lock = threading.RLock()
        self._now = clock_now
        self._seed = seed
        self._generations: dict[str, Generation] = {}
        self._keys: dict[str, str] = {}
        self._ordinal = 0
        self._max_open = 0

    def _open_count(self, now: float) -> int:
        return sum(1 for generation in self._generations.values() if generation.is_open(now))

    def open_count(self) -> int:
        with self._lock:
            return self._open_count(self._now())

    @property
    def max_open(self) -> int:
        with self._lock:
            return self._max_open

    def reset_max_open(self) -> None:
        with self._lock:
            self._max_open = self._open_count(self._now())

    def replay(self, key: str | None, canonical_body: str) -> CreateOutcome | None:
        """The earlier generation of ``key`` (or a mismatch), or ``None`` for a new key."""
        if key is None:
            return None
        with self._lock:
            known = self._keys.get(key)
            if known is None:
                return None
            generation = self._generations[known]
        if generation.canonical_body != canonical_body:
            return CreateOutcome("mismatch", generation)
        return CreateOutcome("replayed", generation)

    def create(
        self,
        body: Mapping[str, Any],
        *,
        idempotency_key: str | None,
        timing: GenerationTiming,
        limit: int,
        failure_rate: float,
    ) -> CreateOutcome:
        """Create a generation unless its key already has one or ``limit`` are open.

        The key check is repeated under the lock: two copies of one request that arrive
        together make one generation, and the second is a replay.
        """
        canonical = canonical_json(body)
        with self._lock:
            earlier = self.replay(idempotency_key, canonical)
            if earlier is not None:
                return earlier
            now = math.floor(self._now() * 1000) / 1000  # createdAt has millisecond precision
            if self._open_count(now) >= limit:
                return CreateOutcome("limited")
            self._ordinal += 1
            record = {"request_id": f"generation-{self._ordinal}", "payload": dict(body)}
            # Batch ordinals start at 1, so ordinal 0 keeps these rolls apart from batch lines.
            outcome = line_outcome(
                record, seed=self._seed, batch_ordinal=0, failure_rate=failure_rate
            )
            processing_at = now + timing.pending_seconds
            generation = Generation(
                id=str(uuid.uuid4()),
                ordinal=self._ordinal,
                created_at=now,
                body=copy.deepcopy(dict(body)),
                canonical_body=canonical,
                idempotency_key=idempotency_key,
                processing_at=processing_at,
                terminal_at=processing_at + timing.processing_seconds,
                outcome=outcome,
            )
            self._generations[generation.id] = generation
            if idempotency_key is not None:
                self._keys[idempotency_key] = generation.id
            self._max_open = max(self._max_open, self._open_count(now))
            return CreateOutcome("created", generation)

    def get(self, generation_id: str) -> Generation | None:
        with self._lock:
            return self._generations.get(generation_id)

    def all(self) -> list[Generation]:
        """Every generation, oldest first."""
        with self._lock:
            return list(self._generations.values())

    def completed(self, generation_id: str) -> Generation | None:
        """The generation if it has completed (its output video exists), else ``None``."""
        with self._lock:
            generation = self._generations.get(generation_id)
            if generation is None or not generation.is_completed(self._now()):
                return None
            return generation

    def claim_due_webhooks_at(self) -> tuple[float, list[Generation]]:
        """The emulated time, and terminal generations with a webhook URL not yet notified
        (marked notified)."""
        with self._lock:
            now = self._now()
            due = [
                generation
                for generation in self._generations.values()
                if generation.webhook_url
                and not generation.webhook_sent
                and not generation.is_open(now)
            ]
            for generation in due:
                generation.webhook_sent = True
            return now, due

    def snapshot(self, generation: Generation, public_url: str) -> GenerationSnapshot:
        with self._lock:
            now = self._now()
            answer = generation.to_response(now, public_url)
            return GenerationSnapshot(
                id=generation.id,
                status=answer["status"],
                idempotency_key=generation.idempotency_key,
                webhook_url=generation.webhook_url,
                created_at=answer["createdAt"],
                created_at_ts=generation.created_at,
                body=copy.deepcopy(generation.body),
                output_url=answer["outputUrl"],
                error_code=answer["error_code"],
                webhook_sent=generation.webhook_sent,
                observed_at=now,
            )
