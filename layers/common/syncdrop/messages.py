"""Messages on the results queue: a chunk to fan out, or a job to finish (report and email)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal


class BadMessage(ValueError):
    """Not a syncdrop results message: retrying cannot help (it goes to the DLQ)."""


@dataclass(frozen=True, slots=True)
class ResultsMessage:
    kind: Literal["chunk", "job"]
    job_id: str
    chunk: int | None = None
    batch_id: str | None = None

    @classmethod
    def for_chunk(cls, job_id: str, chunk: int, batch_id: str | None) -> ResultsMessage:
        return cls(kind="chunk", job_id=job_id, chunk=chunk, batch_id=batch_id)

    @classmethod
    def for_job(cls, job_id: str) -> ResultsMessage:
        return cls(kind="job", job_id=job_id)

    def to_json(self) -> str:
        body: dict[str, object] = {"kind": self.kind, "job_id": self.job_id}
        if self.kind == "chunk":
            body.update(chunk=self.chunk, batch_id=self.batch_id)
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ResultsMessage:
        try:
            body = json.loads(text)
            kind, job_id = body["kind"], body["job_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BadMessage(f"not a results message: {exc}") from exc
        if kind == "job" and isinstance(job_id, str):
            return cls.for_job(job_id)
        chunk, batch_id = body.get("chunk"), body.get("batch_id")
        if kind == "chunk" and isinstance(job_id, str) and isinstance(chunk, int):
            return cls.for_chunk(job_id, chunk, batch_id if isinstance(batch_id, str) else None)
        raise BadMessage(f"not a results message: {text[:200]}")
