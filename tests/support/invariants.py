"""design.md's six invariants, checked from stored state and the emulator's own records."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from syncdrop_local.state_view import table_items
from tests.support.local_system import LocalSystem

TERMINAL_ROW = {"COMPLETED", "FAILED", "REJECTED"}
FINAL_JOB = {"COMPLETED", "FAILED", "VALIDATED"}


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
    problems: list[str] = field(default_factory=list)

    def assert_holds(self) -> None:
        assert not self.problems, "invariants broken:\n" + "\n".join(self.problems)


def _owner(webhook_url: str | None) -> tuple[str, str] | None:
    if not webhook_url:
        return None
    query = parse_qs(urlsplit(webhook_url).query)
    return query.get("job", [""])[0], query.get("chunk", [""])[0]


def check_invariants(
    system: LocalSystem, uploads: dict[str, bytes], *, batch_concurrency: int
) -> InvariantReport:
    report = InvariantReport(files=len(uploads))
    stack = system.runtime.stack
    items = table_items(stack, "JobTable")
    jobs = {i["job_id"]: i for i in items if i.get("type") == "job"}
    chunks = [i for i in items if i.get("type") == "chunk"]
    results: dict[str, list[dict[str, Any]]] = {}
    for item in table_items(stack, "ResultsTable"):
        results.setdefault(item["job_id"], []).append(item)

    # 1. Every input row ends in exactly one terminal state.
    if len(jobs) != len(uploads):
        report.problems.append(f"{len(uploads)} files but {len(jobs)} jobs")
    for job_id, job in jobs.items():
        if job["status"] not in FINAL_JOB:
            report.problems.append(f"{job_id} ended {job['status']}")
        rows = int(job.get("rows", 0))
        mine = results.get(job_id, [])
        report.rows += rows
        numbers = Counter(int(i["row_number"]) for i in mine)
        doubled = [n for n, c in numbers.items() if c > 1]
        if doubled:
            report.problems.append(f"{job_id}: rows {doubled[:5]} recorded twice")
        if job["status"] == "COMPLETED" and len(numbers) != rows:
            report.rows_lost += rows - len(numbers)
            report.problems.append(f"{job_id}: {rows} rows but {len(numbers)} results")
        for item in mine:
            report.rows_by_status[item["status"]] += 1
            if item["status"] not in TERMINAL_ROW:
                report.problems.append(f"{job_id} row {item['row_number']}: {item['status']}")
            if item["status"] != "COMPLETED" and not item.get("error_message"):
                report.problems.append(f"{job_id} row {item['row_number']}: no reason given")
    for chunk in chunks:
        if chunk["status"] not in ("COMPLETED", "FAILED") or not chunk.get("results_written"):
            report.problems.append(f"chunk {chunk['job_id']}#{chunk['number']} {chunk['status']}")

    # 2. A chunk is submitted to Sync at most once.
    owners = Counter(_owner(b.webhook_url) for b in system.emulator.batches)
    owners.pop(None, None)
    report.duplicate_submissions = sum(c - 1 for c in owners.values() if c > 1)
    if report.duplicate_submissions:
        twice = [o for o, c in owners.items() if c > 1]
        report.problems.append(f"chunks created twice at Sync: {twice[:5]}")

    # 3. Exactly one email per uploaded file.
    emails = Counter(e.attributes.get("job_id") for e in system.runtime.collect_emails())
    report.emails = sum(emails.values())
    report.duplicate_emails = sum(c - 1 for c in emails.values() if c > 1)
    for job_id in jobs:
        if emails.get(job_id, 0) != 1:
            report.problems.append(f"{job_id}: {emails.get(job_id, 0)} emails")

    # 4. Never more open batches than the configured batch concurrency.
    report.max_open_batches = system.emulator.max_concurrent_open
    if report.max_open_batches > batch_concurrency:
        report.problems.append(f"{report.max_open_batches} batches open at once")

    # 6. The original upload is never modified or deleted.
    s3 = stack.client("s3")
    for key, body in uploads.items():
        versions = s3.list_object_versions(Bucket=system.bucket, Prefix=key).get("Versions", [])
        if len([v for v in versions if v["Key"] == key]) != 1:
            report.problems.append(f"{key}: {len(versions)} versions")
        if s3.get_object(Bucket=system.bucket, Key=key)["Body"].read() != body:
            report.problems.append(f"{key} was modified")
    return report
