"""A job's progress as a person follows it: the job item and its chunks read by key, and how
many of its videos are copied, from the counts each closed copy slice adds to its chunk item
(chunks written by an earlier version, and single generations, are counted on the results
table by Query; never a Scan).

The demo reads it from the local stack and `syncdrop status --watch` from any stack; both show
it with progress_display. Statuses are kept as text: a status this version does not know (one
added later) is shown as it is, not refused.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from syncdrop import keys

_de = TypeDeserializer()

# Statuses a job never leaves; CANCELLED may not exist in every version of the stack.
JOB_ENDED = frozenset({"COMPLETED", "FAILED", "VALIDATED", "CANCELLED"})
# A chunk whose rows reached Sync (or came back from it).
CHUNK_AT_SYNC = frozenset({"SUBMITTED", "COMPLETED", "FAILED"})
# What a row that did not become a video ends as (REJECTED rows are counted by the job item).
ROW_FAILED = frozenset({"FAILED", "TIMED_OUT"})
COPY_PENDING = "PENDING"
# The small fields of a chunk item: a single generation's item also holds its Sync line.
CHUNK_FIELDS = (
    "number",
    "kind",
    "rows",
    "status",
    "last_sync_status",
    "rows_completed",
    "rows_failed",
    "results_written",
    "copies_done",
    "first_row_key",
    "last_row_key",
    "copies_to_make",
    "copies_over",
    "copies_failed",
)


@dataclass(frozen=True)
class CopyCount:
    """The videos of some rows: how many are to be copied into the bucket and how many are
    over (copied, or given up on with the reason in the results)."""

    to_copy: int = 0
    over: int = 0
    failed: int = 0

    @classmethod
    def of(cls, statuses: Counter[str]) -> CopyCount:
        total = sum(statuses.values())
        return cls(total, total - statuses[COPY_PENDING], statuses["COPY_FAILED"])


@dataclass(frozen=True)
class ChunkProgress:
    """One line of progress: a batch chunk, or every single generation of the job together."""

    label: str
    rows: int
    status: str
    number: int = 0  # a batch chunk's; 0 for the single generations' line
    sync_status: str = ""
    at_sync: int = 0  # rows submitted to Sync
    done: int = 0  # rows Sync made a video for
    failed: int = 0  # rows Sync failed (or that timed out at the job's deadline)
    copies: CopyCount = CopyCount()

    @property
    def copying(self) -> bool:
        return self.copies.over < self.copies.to_copy


@dataclass(frozen=True)
class JobProgress:
    job_id: str
    status: str
    message: str
    rows: int
    valid: int
    rejected: int
    route: str
    notified: bool
    chunks: tuple[ChunkProgress, ...] = ()

    @property
    def ended(self) -> bool:
        """Over for good: a status that never changes again, or any status once its email went
        out (a status this version does not know is taken as over only then)."""
        return self.status in JOB_ENDED or self.notified

    @property
    def copying_videos(self) -> bool:
        """Every row is back from Sync; only their videos' copies are left to finish."""
        totals = self.totals
        back = totals.done + totals.failed >= totals.rows
        return self.status == "RUNNING" and back and totals.copying

    @property
    def totals(self) -> ChunkProgress:
        counts = [c for c in self.chunks if c.status != "REPLACED"]
        return ChunkProgress(
            label="total",
            rows=self.valid,
            status=self.status,
            at_sync=sum(c.at_sync for c in counts),
            done=sum(c.done for c in counts),
            failed=sum(c.failed for c in counts),
            copies=CopyCount(
                sum(c.copies.to_copy for c in counts),
                sum(c.copies.over for c in counts),
                sum(c.copies.failed for c in counts),
            ),
        )


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _de.deserialize(v) for k, v in item.items()}


@dataclass
class ProgressReader:
    """Reads a job's progress by key. A chunk's copies are the counts on its item; a chunk
    written by an earlier version has none, and its rows are counted instead, at most once per
    ``count_every`` seconds while it copies, once when it is over (then remembered). A job of
    single generations (one chunk item per row) is counted on its results rows instead of
    reading every chunk item."""

    dynamodb: Any
    job_table: str
    results_table: str
    count_every: float = 1.0
    clock: Callable[[], float] = time.monotonic
    # By (job id, chunk number); a job's single generations under chunk number 0.
    _final: dict[tuple[str, int], CopyCount] = field(default_factory=dict)
    _recent: dict[tuple[str, int], tuple[float, CopyCount]] = field(default_factory=dict)
    _generations: dict[str, tuple[float, ChunkProgress]] = field(default_factory=dict)

    def read(self, job_id: str) -> JobProgress | None:
        found = self.dynamodb.get_item(
            TableName=self.job_table, Key=keys.job_key(job_id), ConsistentRead=True
        )
        if "Item" not in found:
            return None
        job = _plain(found["Item"])
        progress = JobProgress(
            job_id=job_id,
            status=str(job.get("status", "")),
            message=" ".join(str(job.get("message", "")).split()),
            rows=int(job.get("rows", 0)),
            valid=int(job.get("valid", 0)),
            rejected=int(job.get("rejected", 0)),
            route=str(job.get("route", "batch")),
            notified=bool(job.get("notified_at")),
        )
        if progress.route == "generate":
            lines = [self._generation_line(job_id, progress.valid)]
        else:
            lines = [self._chunk_line(job_id, c) for c in self._batch_chunks(job_id)]
        return replace(progress, chunks=tuple(lines))

    def rows_not_done(self, job_id: str) -> int:
        """Rows of the job that did not become a video: failed, timed out or rejected (one
        COUNT Query of its results rows, for the end of a watch)."""
        kwargs: dict[str, Any] = {
            "TableName": self.results_table,
            "KeyConditionExpression": "job_id = :j",
            "FilterExpression": "#s <> :completed",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":j": {"S": job_id}, ":completed": {"S": "COMPLETED"}},
            "Select": "COUNT",
        }
        return sum(page.get("Count", 0) for page in self._pages(kwargs))

    def _pages(self, kwargs: dict[str, Any]) -> Any:
        while True:
            page = self.dynamodb.query(**kwargs)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            kwargs = {**kwargs, "ExclusiveStartKey": page["LastEvaluatedKey"]}

    def _batch_chunks(self, job_id: str) -> list[dict[str, Any]]:
        names = {f"#f{i}": name for i, name in enumerate(CHUNK_FIELDS)}
        kwargs: dict[str, Any] = {
            "TableName": self.job_table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :chunk)",
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.job_pk(job_id)},
                ":chunk": {"S": keys.CHUNK_PREFIX},
            },
            "ConsistentRead": True,
        }
        chunks = [_plain(i) for page in self._pages(kwargs) for i in page.get("Items", [])]
        return sorted(
            (c for c in chunks if c.get("kind", "BATCH") != "GENERATION"),
            key=lambda c: int(c["number"]),
        )

    def _chunk_line(self, job_id: str, chunk: dict[str, Any]) -> ChunkProgress:
        number, status = int(chunk["number"]), str(chunk["status"])
        written = bool(chunk.get("results_written"))
        done = int(chunk.get("rows_completed", 0)) if written else 0
        return ChunkProgress(
            label=f"chunk {number:>3}",
            number=number,
            rows=int(chunk.get("rows", 0)),
            status=status,
            sync_status=str(chunk.get("last_sync_status", "")),
            at_sync=int(chunk.get("rows", 0)) if status in CHUNK_AT_SYNC else 0,
            done=done,
            failed=int(chunk.get("rows_failed", 0)) if written else 0,
            copies=self._chunk_copies(job_id, number, chunk) if done else CopyCount(),
        )

    def _chunk_copies(self, job_id: str, number: int, chunk: dict[str, Any]) -> CopyCount:
        if "copies_to_make" in chunk:
            to_copy = int(chunk["copies_to_make"])
            if chunk.get("copies_done", True):
                over = to_copy
            else:
                over = min(to_copy, int(chunk.get("copies_over", 0)))
            return CopyCount(to_copy, over, int(chunk.get("copies_failed", 0)))
        known = (job_id, number)
        if known in self._final:
            return self._final[known]
        over = chunk.get("copies_done", True)
        recent = self._recent.get(known)
        if recent and not over and self.clock() - recent[0] < self.count_every:
            return recent[1]
        first, last = chunk.get("first_row_key"), chunk.get("last_row_key")
        if not first or not last:
            return CopyCount()
        counted = CopyCount.of(
            self._copy_statuses(
                "job_id = :j AND row_key BETWEEN :first AND :last",
                {":j": {"S": job_id}, ":first": {"S": first}, ":last": {"S": last}},
            )[1]
        )
        if over:
            self._final[known] = counted
        else:
            self._recent[known] = (self.clock(), counted)
        return counted

    def _generation_line(self, job_id: str, rows: int) -> ChunkProgress:
        """Every single generation as one line, from one Query of the job's results rows."""
        recent = self._generations.get(job_id)
        if recent and self.clock() - recent[0] < self.count_every:
            return recent[1]
        statuses, copies = self._copy_statuses("job_id = :j", {":j": {"S": job_id}})
        line = ChunkProgress(
            label="single generations",
            rows=rows,
            status="",
            done=statuses["COMPLETED"],
            failed=sum(statuses[s] for s in ROW_FAILED),
            copies=CopyCount.of(copies),
        )
        self._generations[job_id] = (self.clock(), line)
        return line

    def _copy_statuses(
        self, condition: str, values: dict[str, Any]
    ) -> tuple[Counter[str], Counter[str]]:
        """Row statuses and copy statuses of some results rows (two small attributes each)."""
        kwargs: dict[str, Any] = {
            "TableName": self.results_table,
            "KeyConditionExpression": condition,
            "ProjectionExpression": "#s, copy_status",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": values,
        }
        rows: Counter[str] = Counter()
        copies: Counter[str] = Counter()
        for page in self._pages(kwargs):
            for item in page.get("Items", []):
                rows[item.get("status", {}).get("S", "")] += 1
                if "copy_status" in item:
                    copies[item["copy_status"]["S"]] += 1
        return rows, copies
