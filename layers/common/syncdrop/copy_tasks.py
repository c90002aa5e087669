"""Copy tasks on the outputs queue: a slice of one chunk's rows, whose videos one worker copies.

A chunk's rows are cut into slices by their position in the chunk (the same cut on every
fan-out and every repair), so a slice's number and the chunk's slice count never change, and
the chunk is done when all of its slices are. The slices go in ``COPY_CHAINS`` chains: the
fan-out queues the first slice of each, and a worker that finishes a slice queues the next of
its chain, at the back of the queue. A file therefore has a few tasks queued at a time, never
all of them, and another file's first slices wait behind those few, not behind a thousand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace

from syncdrop.messages import BadMessage

# Rows per copy task: few messages per chunk (8 for 400 rows), so one file's copies queue in
# front of another file's as a few dozen tasks, not as a thousand, and each worker has enough
# videos to copy side by side.
SLICE_ROWS = 50
# Slices of one chunk queued at once: a chunk's copies run on up to this many workers.
COPY_CHAINS = 3


@dataclass(frozen=True, slots=True)
class CopyTask:
    job_id: str
    chunk: int
    row_keys: tuple[str, ...]
    prefix: str | None = None  # outputs/<name>/ of the job, so a copy need not read the job
    # This slice's number and the chunk's count of slices; None for a one-row task of the
    # earlier format, whose chunk is checked by counting its pending rows.
    slice: int | None = None
    slices: int | None = None
    # The rows of the slices that follow this one in its chain, in order; the next one is
    # numbered ``slice + stride``.
    then: tuple[tuple[str, ...], ...] = ()
    stride: int = 1

    def next_in_chain(self) -> CopyTask | None:
        if not self.then or self.slice is None:
            return None
        return replace(
            self, row_keys=self.then[0], slice=self.slice + self.stride, then=self.then[1:]
        )

    def to_json(self) -> str:
        body: dict[str, object] = {
            "job_id": self.job_id,
            "chunk": self.chunk,
            "row_keys": list(self.row_keys),
            "prefix": self.prefix,
            "slice": self.slice,
            "slices": self.slices,
            "then": [list(keys) for keys in self.then],
            "stride": self.stride,
        }
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> CopyTask:
        try:
            body = json.loads(text)
            prefix = body.get("prefix")
            if "row_keys" in body:
                row_keys = tuple(str(k) for k in body["row_keys"])
                then = tuple(tuple(str(k) for k in keys) for keys in body.get("then") or ())
                number, count = int(body["slice"]), int(body["slices"])
                stride = int(body.get("stride") or 1)
                last = number + stride * len(then)
                if not row_keys or not all(then) or not 0 <= number <= last < count:
                    raise ValueError(f"slice {number} of {count} with {len(row_keys)} rows")
                if stride < 1:
                    raise ValueError(f"a chain's stride of {stride}")
                return cls(
                    job_id=str(body["job_id"]),
                    chunk=int(body["chunk"]),
                    row_keys=row_keys,
                    prefix=str(prefix) if prefix else None,
                    slice=number,
                    slices=count,
                    then=then,
                    stride=stride,
                )
            return cls(  # a task queued before slices: one row
                job_id=str(body["job_id"]),
                chunk=int(body["chunk"]),
                row_keys=(str(body["row_key"]),),
                prefix=str(prefix) if prefix else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise BadMessage(f"not a copy task: {exc}") from exc


def slice_tasks(
    job_id: str,
    chunk: int,
    row_keys: Sequence[str],
    *,
    prefix: str | None,
    size: int | None = None,
    chains: int | None = None,
) -> list[CopyTask]:
    """The first task of each chain over the chunk's rows (all of them, in row order), cut in
    slices of ``size`` rows (SLICE_ROWS unless given); slice n is in chain n % ``chains``
    (COPY_CHAINS unless given)."""
    size = SLICE_ROWS if size is None else size
    chains = COPY_CHAINS if chains is None else chains
    if size < 1 or chains < 1:
        raise ValueError("a slice holds at least one row, and a chunk has at least one chain")
    count = -(-len(row_keys) // size)
    cut = [tuple(row_keys[n * size : (n + 1) * size]) for n in range(count)]
    stride = min(chains, count)
    return [
        CopyTask(
            job_id=job_id,
            chunk=chunk,
            row_keys=cut[n],
            prefix=prefix,
            slice=n,
            slices=count,
            then=tuple(cut[n + stride :: stride]),
            stride=stride,
        )
        for n in range(stride)
    ]
