"""design.md's six invariants, checked from stored state and the emulator's own records.

:func:`gather` reads a finished run once into a :class:`RunState`; each ``check_*`` function
reads only that state, so a test can hand one a broken state and see it complain.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from syncdrop_local.emulator import verify_signature_header
from syncdrop_local.state_view import table_items
from tests.support.local_system import LocalSystem

TERMINAL_ROW = {"COMPLETED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELLED"}
FINAL_JOB = {"COMPLETED", "FAILED", "VALIDATED", "CANCELLED"}
# REPLACED: a batch chunk Sync refused for the plan (402), its rows gone on as generations.
FINAL_CHUNK = {"COMPLETED", "FAILED", "REPLACED", "CANCELLED"}


@dataclass
class InvariantReport:
    files: int = 0
    rows: int = 0
    rows_by_status: Counter[str] = field(default_factory=Counter)
    rows_lost: int = 0
    duplicate_submissions: int = 0
    emails: int = 0
    duplicate_emails: int = 0
    max_open_batches: int = 0
    max_open_generations: int = 0
    unsigned_webhooks_refused: int = 0
    problems: list[str] = field(default_factory=list)

    def assert_holds(self) -> None:
        assert not self.problems, "invariants broken:\n" + "\n".join(self.problems[:50])


@dataclass(frozen=True)
class SyncBatch:
    """A batch as the emulator recorded it: who it says it belongs to, what it generated."""

    id: str
    webhook_url: str | None
    generation_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class SyncGeneration:
    """A single generation as the emulator recorded it: its key and who it belongs to."""

    id: str
    webhook_url: str | None
    idempotency_key: str | None


@dataclass(frozen=True)
class Delivery:
    """One webhook POST the emulator sent, and the answer it got."""

    batch_id: str
    body: bytes
    signature: str | None
    status_code: int | None


@dataclass
class RunState:
    """Everything the checks read, gathered once at the end of a run."""

    uploads: dict[str, bytes]
    jobs: dict[str, dict[str, Any]]
    chunks: list[dict[str, Any]]
    rows: dict[str, list[dict[str, Any]]]  # results items that are rows, by job id
    batches: list[SyncBatch]
    deliveries: list[Delivery]
    generations: list[SyncGeneration]
    max_open_generations: int
    generation_concurrency: int
    email_job_ids: list[str | None]
    max_open_batches: int
    batch_concurrency: int
    webhook_secret: str | None
    upload_versions: dict[str, list[bytes]]  # the bytes of every version of each upload key
    secrets: tuple[str, ...] = ()
    logs: str | None = None  # what the run logged, when it captured it
    webhook_invocations_killed: int = 0  # receive_webhook invocations ended mid-way
    deleted_uploads: set[str] = field(default_factory=set)  # keys with a delete marker


def owner(webhook_url: str | None) -> tuple[str, str] | None:
    """The (job, chunk) a batch's ``webhookUrl`` names, or None."""
    if not webhook_url:
        return None
    query = parse_qs(urlsplit(webhook_url).query)
    job, chunk = query.get("job", [""])[0], query.get("chunk", [""])[0]
    return (job, chunk) if job and chunk else None


def expected_row_numbers(key: str, body: bytes) -> list[int]:
    """The row numbers a person sees for an upload's data rows (a spreadsheet's numbering for
    CSV: the header is row 1, blank records count but hold no row; line numbers for JSONL)."""
    text = body.decode("utf-8-sig", errors="replace")
    if key.endswith(".jsonl"):
        return [n for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    header = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max(",;\t", key=header.count)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    numbers: list[int] = []
    header_seen = False
    for number, record in enumerate(records, start=1):
        if not any(cell.strip() for cell in record):
            continue
        if header_seen:
            numbers.append(number)
        header_seen = True
    return numbers


def gather(
    system: LocalSystem,
    uploads: dict[str, bytes],
    *,
    batch_concurrency: int,
    logs: str | None = None,
) -> RunState:
    stack = system.runtime.stack
    emulator = system.emulator
    items = table_items(stack, "JobTable")
    rows: dict[str, list[dict[str, Any]]] = {}
    for item in table_items(stack, "ResultsTable"):
        if "row_number" in item:  # the table may hold other kinds of item
            rows.setdefault(item["job_id"], []).append(item)
    batches = []
    for batch in emulator.batches:
        generations = {
            str(line["response"]["id"])
            for line in emulator.result_lines(batch.id)
            if isinstance(line.get("response"), dict)
        }
        batches.append(SyncBatch(batch.id, batch.webhook_url, frozenset(generations)))
    generations = [
        SyncGeneration(g.id, g.webhook_url, g.idempotency_key) for g in emulator.generations()
    ]
    deliveries = [
        Delivery(
            batch_id=d.batch_id,
            body=d.body,
            signature=d.headers.get(emulator.settings.signature_header),
            status_code=d.status_code,
        )
        for d in emulator.webhook_deliveries
    ]
    s3 = stack.client("s3")
    versions: dict[str, list[bytes]] = {}
    deleted: set[str] = set()
    for key in uploads:
        listing = s3.list_object_versions(Bucket=system.bucket, Prefix=key)
        if any(m["Key"] == key for m in listing.get("DeleteMarkers", [])):
            deleted.add(key)
        found = listing.get("Versions", [])
        versions[key] = [
            s3.get_object(Bucket=system.bucket, Key=key, VersionId=v["VersionId"])["Body"].read()
            for v in found
            if v["Key"] == key
        ]
    parameters = stack.resolver.parameters
    return RunState(
        uploads=uploads,
        jobs={i["job_id"]: i for i in items if i.get("type") == "job"},
        chunks=[i for i in items if i.get("type") == "chunk"],
        rows=rows,
        batches=batches,
        deliveries=deliveries,
        generations=generations,
        max_open_generations=emulator.max_generations_open(),
        generation_concurrency=int(stack.resolver.ref("GenerationConcurrency")),
        email_job_ids=[e.attributes.get("job_id") for e in system.runtime.collect_emails()],
        max_open_batches=emulator.max_concurrent_open,
        batch_concurrency=batch_concurrency,
        webhook_secret=parameters.get("SyncWebhookSecret") or None,
        upload_versions=versions,
        secrets=tuple(
            s for s in (parameters.get("SyncApiKey"), parameters.get("SyncWebhookSecret")) if s
        ),
        logs=logs,
        deleted_uploads=deleted,
        webhook_invocations_killed=getattr(
            system.runtime.functions.get("ReceiveWebhookFunction"), "kills_planned", 0
        ),
    )


def check_invariants(
    system: LocalSystem,
    uploads: dict[str, bytes],
    *,
    batch_concurrency: int,
    logs: str | None = None,
) -> InvariantReport:
    return check_state(gather(system, uploads, batch_concurrency=batch_concurrency, logs=logs))


def check_state(state: RunState) -> InvariantReport:
    report = InvariantReport(files=len(state.uploads))
    for check in (
        check_rows,
        check_submissions,
        check_emails,
        check_open_batches,
        check_webhooks_and_secrets,
        check_uploads,
    ):
        check(state, report)
    return report


# 1. Every input row ends in exactly one terminal state (with a reason when not COMPLETED).
def check_rows(state: RunState, report: InvariantReport) -> None:
    if len(state.jobs) != len(state.uploads):
        report.problems.append(f"{len(state.uploads)} files but {len(state.jobs)} jobs")
    for job_id, job in state.jobs.items():
        if job["status"] not in FINAL_JOB:
            report.problems.append(f"{job_id} ended {job['status']}")
        count = int(job.get("rows", 0))
        mine = state.rows.get(job_id, [])
        report.rows += count
        if count == 0 and not mine:
            if job["status"] != "FAILED" or not job.get("message"):
                report.problems.append(f"{job_id}: no rows and no reason")
            continue  # the whole file was refused, with its reason
        if job["status"] == "VALIDATED" and not mine:
            continue  # a dry run: its email gives the verdict, no row goes to Sync
        upload = state.uploads.get(str(job.get("key")))
        expected = (
            expected_row_numbers(str(job["key"]), upload)
            if upload is not None
            else list(range(1, count + 1))
        )
        if len(expected) != count:
            report.problems.append(f"{job_id}: the file has {len(expected)} rows, the job {count}")
        numbers = Counter(int(item["row_number"]) for item in mine)
        missing = sorted(set(expected) - set(numbers))
        doubled = sorted(n for n, c in numbers.items() if c > 1)
        strangers = sorted(set(numbers) - set(expected))
        report.rows_lost += len(missing)
        for what, found in (
            ("without a result", missing),
            ("recorded twice", doubled),
            ("not in the file", strangers),
        ):
            if found:
                report.problems.append(f"{job_id}: rows {found[:5]} {what} ({len(found)})")
        for item in mine:
            status = item.get("status")
            report.rows_by_status[str(status)] += 1
            if status not in TERMINAL_ROW:
                report.problems.append(f"{job_id} row {item['row_number']}: {status}")
            elif status != "COMPLETED" and not item.get("error_message"):
                report.problems.append(f"{job_id} row {item['row_number']}: no reason given")
    for chunk in state.chunks:
        if chunk["status"] not in FINAL_CHUNK or not chunk.get("results_written"):
            report.problems.append(f"chunk {chunk['job_id']}#{chunk['number']} {chunk['status']}")


# 2. A row reaches Sync at most once: every batch and generation names its chunk, no chunk
# twice (a generation's chunk is its one row), no key twice, and a batch chunk whose rows went
# on as generations was never created as a batch.
def check_submissions(state: RunState, report: InvariantReport) -> None:
    owners: Counter[tuple[str, str]] = Counter()
    made = [("batch", b.id, b.webhook_url) for b in state.batches]
    made += [("generation", g.id, g.webhook_url) for g in state.generations]
    for kind, sync_id, webhook_url in made:
        named = owner(webhook_url)
        if named is None:
            report.problems.append(f"{kind} {sync_id} at Sync names no job and chunk")
            continue
        if named[0] not in state.jobs:
            report.problems.append(f"{kind} {sync_id} at Sync belongs to no job: {named}")
        owners[named] += 1
    keys = Counter(g.idempotency_key for g in state.generations)
    if None in keys:
        report.problems.append(f"{keys[None]} generations created without an Idempotency-Key")
    reused = [k for k, c in keys.items() if k is not None and c > 1]
    if reused:
        report.problems.append(f"keys with more than one generation: {reused[:5]}")
    for chunk in state.chunks:
        if chunk["status"] == "REPLACED" and owners[(chunk["job_id"], str(chunk["number"]))]:
            report.problems.append(f"chunk {chunk['job_id']}#{chunk['number']} sent both ways")
    twice = [o for o, c in owners.items() if c > 1]
    report.duplicate_submissions = sum(owners[o] - 1 for o in twice)
    if twice:
        report.problems.append(f"chunks created twice at Sync: {twice[:5]}")


# 3. Exactly one email per uploaded file.
def check_emails(state: RunState, report: InvariantReport) -> None:
    emails = Counter(state.email_job_ids)
    report.emails = sum(emails.values())
    report.duplicate_emails = sum(c - 1 for c in emails.values() if c > 1)
    for job_id in state.jobs:
        if emails.get(job_id, 0) != 1:
            report.problems.append(f"{job_id}: {emails.get(job_id, 0)} emails")
    strays = [job_id for job_id in emails if job_id not in state.jobs]
    if strays:
        report.problems.append(f"emails for no job: {strays[:5]}")


# 4. Never more open batches (single generations) than BatchConcurrency
# (GenerationConcurrency).
def check_open_batches(state: RunState, report: InvariantReport) -> None:
    report.max_open_batches = state.max_open_batches
    report.max_open_generations = state.max_open_generations
    if state.max_open_batches > state.batch_concurrency:
        report.problems.append(
            f"{state.max_open_batches} batches open at once; BatchConcurrency is "
            f"{state.batch_concurrency}"
        )
    if state.max_open_generations > state.generation_concurrency:
        report.problems.append(
            f"{state.max_open_generations} generations open at once; GenerationConcurrency "
            f"is {state.generation_concurrency}"
        )


# 5. Unsigned webhooks change nothing; the signed body decides; secrets never reach logs.
def check_webhooks_and_secrets(state: RunState, report: InvariantReport) -> None:
    # An invocation Lambda ended mid-way answers its caller 5xx (or nothing), whatever it got:
    # as many unsigned webhooks may meet one as receive_webhook had invocations killed.
    unanswered: list[str] = []
    for delivery in state.deliveries:
        signed = state.webhook_secret is not None and verify_signature_header(
            delivery.signature, delivery.body, state.webhook_secret, tolerance_seconds=None
        )
        if signed:
            continue
        status = delivery.status_code
        if status is not None and 400 <= status < 500:
            report.unsigned_webhooks_refused += 1
        elif status is None or status >= 500:
            unanswered.append(
                f"a webhook for {delivery.batch_id} without a valid signature got {status}"
            )
        else:
            report.problems.append(
                f"a webhook for {delivery.batch_id} without a valid signature got {status}"
            )
    if len(unanswered) > state.webhook_invocations_killed:
        report.problems.extend(unanswered)
    # What a chunk may hold: its batch's id, or its single generation's.
    by_id: dict[str, SyncBatch | SyncGeneration] = {batch.id: batch for batch in state.batches}
    by_id.update({generation.id: generation for generation in state.generations})
    generation_owner: dict[str, str] = {}
    for batch in state.batches:
        named = owner(batch.webhook_url)
        for generation in batch.generation_ids:
            generation_owner[generation] = named[0] if named else ""
    for single in state.generations:
        named = owner(single.webhook_url)
        generation_owner[single.id] = named[0] if named else ""
    for chunk in state.chunks:
        batch_id = chunk.get("batch_id")
        if not batch_id:
            continue
        held = by_id.get(str(batch_id))
        mine = (str(chunk["job_id"]), str(chunk["number"]))
        if held is None:
            report.problems.append(f"chunk {mine} holds {batch_id}, which Sync never created")
        elif owner(held.webhook_url) != mine:
            report.problems.append(
                f"chunk {mine} holds {batch_id}, which belongs to {owner(held.webhook_url)}"
            )
    for job_id, items in state.rows.items():
        for item in items:
            generation = item.get("generation_id")
            if generation and generation_owner.get(str(generation), job_id) != job_id:
                report.problems.append(
                    f"{job_id} row {item['row_number']} holds a video of "
                    f"{generation_owner[str(generation)]}"
                )
                break
    if state.logs is not None:
        for secret in state.secrets:
            if secret in state.logs:
                report.problems.append(f"a secret ({secret[:4]}…) was logged")


# 6. The original upload is never modified or deleted.
def check_uploads(state: RunState, report: InvariantReport) -> None:
    for key, body in state.uploads.items():
        if key in state.deleted_uploads:
            report.problems.append(f"{key} was deleted")
        versions = state.upload_versions.get(key, [])
        if len(versions) != 1:
            report.problems.append(f"{key}: {len(versions)} versions")
        elif versions[0] != body:
            report.problems.append(f"{key} was modified")


class LogCapture(logging.Handler):
    """Every log record of the run (syncdrop's JSON logger, the libraries', the runtime's),
    with its extra fields and thread name: what CloudWatch would hold."""

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        *,
        skip: str = "",
        watch: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(level=logging.NOTSET)
        self.records: list[dict[str, Any]] = [] if records is None else records
        self._skip = skip
        self._watch = watch

    def emit(self, record: logging.LogRecord) -> None:
        if self._skip and (record.name == self._skip or record.name.startswith(self._skip + ".")):
            return  # taken by the handler on that logger (whether or not it propagates)
        fields = {k: v for k, v in vars(record).items() if k not in ("args", "exc_info")}
        fields["message"] = record.getMessage()
        if record.exc_info:
            fields["exception"] = logging.Formatter().formatException(record.exc_info)
        if self._watch is not None:
            # A long run keeps only the records that show a watched secret.
            text = json.dumps(fields, default=str)
            if not any(secret in text for secret in self._watch):
                return
        self.records.append(fields)

    @property
    def text(self) -> str:
        return "\n".join(json.dumps(fields, default=str) for fields in self.records)


@contextmanager
def captured_logs(watch: tuple[str, ...] | None = None) -> Iterator[LogCapture]:
    """Capture what is logged: syncdrop's logger (which may not propagate) and the root's.
    With ``watch``, only the records that contain one of those strings are kept."""
    ours = LogCapture(watch=watch)
    rest = LogCapture(ours.records, skip="syncdrop", watch=watch)
    pairs = [(logging.getLogger("syncdrop"), ours), (logging.getLogger(), rest)]
    # syncdrop's logger is one per process: a handler loaded earlier in this process may have
    # left it above INFO (a quiet demo), and what is asserted on is logged at INFO.
    syncdrop_logger = logging.getLogger("syncdrop")
    level = syncdrop_logger.level
    syncdrop_logger.setLevel(min(level or logging.INFO, logging.INFO))
    for logger, handler in pairs:
        logger.addHandler(handler)
    try:
        yield ours
    finally:
        for logger, handler in pairs:
            logger.removeHandler(handler)
        syncdrop_logger.setLevel(level)
