"""The one email per uploaded file: a subject to scan, a plain-text body, filterable attributes."""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from syncdrop.report.rejection_summary import RejectionGroup
from syncdrop.report.results_csv import ResultCounts
from syncdrop.report.wording import (
    as_utc,
    clock,
    count,
    duration,
    one_line,
    plural,
    shorten_name,
)
from syncdrop.s3_events import hidden_characters, printable_key

# SNS rejects a subject of 100 characters or more.
SUBJECT_LIMIT = 99
SUBJECT_PREFIX = "syncdrop: "
# Long enough for any reason syncdrop writes; a longer one is cut here, the results CSV has more.
REASON_CHARS = 300
# The dry-run email lists this many rejected rows; the rest are counted.
REJECTIONS_SHOWN = 20
NO_REASON = "No reason given"
SUPPORT_LINE = "Job id (quote it if you ask for help): {job_id}"


class EmailStatus(StrEnum):
    COMPLETED = "COMPLETED"  # every row became a video
    COMPLETED_WITH_FAILURES = "COMPLETED_WITH_FAILURES"  # finished, some rows did not
    FAILED = "FAILED"  # the file itself could not be used
    DRY_RUN = "DRY_RUN"  # validated only; nothing processed
    CANCELLED = "CANCELLED"  # `syncdrop cancel`: what was at Sync finished, the rest not sent


@dataclass(frozen=True, slots=True)
class JobReport:
    """Everything the completion email says, gathered once the last batch is done."""

    job_id: str
    file_name: str
    bucket: str
    key: str
    counts: ResultCounts
    # (reason, how many rows), most frequent first.
    top_errors: Sequence[tuple[str, int]]
    started_at: datetime
    finished_at: datetime
    results_uri: str | None
    results_link: str | None
    link_expires_at: datetime | None
    # Where the videos were copied (s3://bucket/outputs/<name>/), when they were.
    videos_uri: str | None = None
    # Finished videos that could not be copied: their rows keep Sync's expiring link.
    videos_not_copied: int = 0
    # Why the rows went to Sync as single generations rather than batches ("" for batches).
    route_note: str = ""
    # Who cancelled the job and when ("" when nobody did).
    cancelled_by: str = ""
    # The job whose failed rows this file resubmits ("" for a new file).
    retry_of: str = ""
    # The report page beside the results CSV (counts, reasons, every row, the videos), presigned.
    page_link: str | None = None


@dataclass(frozen=True, slots=True)
class Email:
    subject: str
    body: str
    # SNS message attributes (String values) that subscription filters can match on.
    attributes: Mapping[str, str]


def top_error_reasons(reasons: Iterable[str], limit: int = 5) -> list[tuple[str, int]]:
    """The most frequent reasons with their counts; ties keep the order they first appeared."""
    if limit <= 0:
        return []
    tally = Counter(one_line(reason) or NO_REASON for reason in reasons)
    return tally.most_common(limit)


def completed_email(report: JobReport) -> Email:
    """The email once every batch is done: counts, main reasons, time taken, where results are."""
    counts = report.counts
    status = (
        EmailStatus.COMPLETED
        if counts.failed == 0 and counts.rejected == 0 and counts.timed_out == 0
        else EmailStatus.COMPLETED_WITH_FAILURES
    )
    if report.cancelled_by:
        status = EmailStatus.CANCELLED
    parts = [f"{count(counts.completed)} done"]
    if counts.failed:
        parts.append(f"{count(counts.failed)} failed")
    if counts.timed_out:
        parts.append(f"{count(counts.timed_out)} timed out")
    if counts.rejected:
        parts.append(f"{count(counts.rejected)} rejected")
    if counts.cancelled:
        parts.append(f"{count(counts.cancelled)} not sent")
    name = _display_name(report.file_name, report.key)
    subject = _subject("cancelled: " if report.cancelled_by else "", name, " — " + ", ".join(parts))

    lines = [
        _outcome_sentence(name, counts),
        *_cancel_and_retry_lines(report),
        "",
        _table(
            [
                ("Done", counts.completed, "the video is ready"),
                ("Failed", counts.failed, "sent to Sync, which could not make the video"),
                *_timed_out_entry(counts),
                ("Rejected", counts.rejected, "not sent: syncdrop found a problem in the row"),
                *_cancelled_entry(counts),
                ("Total", counts.total, ""),
            ]
        ),
    ]
    if report.route_note:
        lines += ["", "How the rows were sent:", *_indented(textwrap.fill(report.route_note, 86))]
    if counts.timed_out:
        lines += [
            "",
            "This job reached its deadline before Sync had finished every row. If Sync finishes",
            "them later, the results file at the S3 URI below is written again with their",
            "outcome (no new email; the download link keeps this email's version).",
        ]
    if report.top_errors:
        lines += ["", "Why rows did not become videos (most common first):"]
        lines += [
            f"  - {plural(times, 'row')}: {one_line(reason, REASON_CHARS) or NO_REASON}"
            for reason, times in report.top_errors
        ]
        lines.append("The results file has the reason for every row.")
    lines += [
        "",
        f"It took {duration(as_utc(report.finished_at) - as_utc(report.started_at))} (started "
        f"{clock(report.started_at)}, finished {clock(report.finished_at)}).",
        "",
        *_results_lines(report),
        "",
        f"Your file: {_s3_uri(report.bucket, report.key)}",
        SUPPORT_LINE.format(job_id=report.job_id),
    ]
    attributes = _attributes(report.job_id, status, name, report.bucket, counts)
    if counts.cancelled:
        attributes["cancelled"] = str(counts.cancelled)
    if report.retry_of:
        attributes["retry_of"] = one_line(report.retry_of)
    return Email(subject, _body(lines), attributes)


def failed_file_email(
    *,
    job_id: str,
    file_name: str,
    bucket: str,
    key: str,
    reason: str,
    received_at: datetime,
    rejected: int = 0,
    rejection_groups: Sequence[RejectionGroup] = (),
) -> Email:
    """The email when the file as a whole cannot be used: what is wrong and how to retry.

    ``rejected`` rows were read and refused, ``rejection_groups`` their main reasons: a refused
    file gets no results CSV, so the email lists them itself.
    """
    name = _display_name(file_name, key)
    subject = _subject("", name, " could not be processed")
    # A key with hidden characters was refused for them: suggest a visible name instead.
    visible = key.startswith("incoming/") and not hidden_characters(key)
    again = printable_key(key) if visible else f"incoming/{_visible_name(file_name)}"
    lines = [
        f"syncdrop could not process {name}, so nothing was sent to Sync and no videos were made.",
        "",
        "What is wrong:",
        *_indented(reason),
        *_rejected_rows_lines(rejected, rejection_groups),
        "",
        "What to do next:",
        f"  Fix the file and upload it again under incoming/ in the bucket {bucket}, for example",
        f"  as s3://{one_line(bucket)}/{again} (the same name is fine: each upload is a new job).",
        "",
        f"Your file: {_s3_uri(bucket, key)}",
        f"Received: {clock(received_at)}",
        SUPPORT_LINE.format(job_id=job_id),
    ]
    return Email(
        subject,
        _body(lines),
        _attributes(job_id, EmailStatus.FAILED, name, bucket, ResultCounts(0, 0, 0, 0)),
    )


def dry_run_email(
    *,
    job_id: str,
    file_name: str,
    bucket: str,
    key: str,
    rows: int,
    valid: int,
    rejected: int,
    batches: Sequence[int],
    verdict: str,
    rejections: Sequence[tuple[int, str]],
    single_generations: bool = False,
) -> Email:
    """The email for a dry run: the verdict, the planned batches (or single generations) and
    the first rejected rows."""
    name = _display_name(file_name, key)
    parts = [f"{count(valid)} valid"]
    if rejected:
        parts.append(f"{count(rejected)} rejected")
    subject = _subject("dry run of ", name, " — " + ", ".join(parts))
    real_key = printable_key(key.replace("incoming/dry-run/", "incoming/", 1))
    if not key.startswith("incoming/dry-run/"):
        real_key = f"incoming/{name}"
    lines = [
        f"Dry run of {name}: {one_line(verdict) or 'no verdict'}",
        "",
        "Nothing was sent to Sync for processing: no batches were created and no videos were made.",
        "",
        _table([("Rows", rows, ""), ("Valid", valid, ""), ("Rejected", rejected, "")]),
        "",
        (
            f"Planned: {plural(valid, 'single generation')}, one POST /v2/generate per row."
            if single_generations and valid
            else _batch_plan(batches)
        ),
    ]
    if rejections:
        shown = rejections[:REJECTIONS_SHOWN]
        # The caller may pass only the first rejections; ``rejected`` is the full count.
        total = max(rejected, len(rejections))
        heading = (
            f"Rejected rows (first {len(shown)} of {count(total)}):"
            if total > len(shown)
            else "Rejected rows:"
        )
        lines += ["", heading]
        lines += [
            f"  row {count(row)}: {one_line(reason, REASON_CHARS) or NO_REASON}"
            for row, reason in shown
        ]
        if total > len(shown):
            lines.append(f"  … and {plural(total - len(shown), 'more row')}.")
    lines += [
        "",
        "To process the file for real, upload it under incoming/ but outside incoming/dry-run/,",
        f"for example as s3://{one_line(bucket)}/{real_key}.",
        "",
        f"Your file: {_s3_uri(bucket, key)}",
        SUPPORT_LINE.format(job_id=job_id),
    ]
    attributes = _attributes(
        job_id, EmailStatus.DRY_RUN, name, bucket, ResultCounts(0, 0, rejected, rows)
    )
    return Email(subject, _body(lines), {**attributes, "valid": str(valid)})


def _rejected_rows_lines(rejected: int, groups: Sequence[RejectionGroup]) -> list[str]:
    if not groups:
        return []
    total = max(rejected, sum(group.rows for group in groups))
    lines = [
        "",
        f"The {plural(total, 'rejected row')}, by reason (most common first):"
        if total > 1
        else "The rejected row:",
    ]
    lines += [f"  - {group.line(REASON_CHARS)}" for group in groups]
    others = total - sum(group.rows for group in groups)
    if others:
        lines.append(f"  … and {plural(others, 'more row')} with other reasons.")
    return lines


def _cancelled_entry(counts: ResultCounts) -> list[tuple[str, int, str]]:
    if not counts.cancelled:
        return []
    return [("Cancelled", counts.cancelled, "not sent: the job was cancelled before their turn")]


def _cancel_and_retry_lines(report: JobReport) -> list[str]:
    lines = []
    if report.cancelled_by:
        lines += [
            "",
            *textwrap.wrap(
                f"This job was cancelled by {one_line(report.cancelled_by)}. Rows already at "
                "Sync finished and are reported here; rows still waiting were never sent "
                "(status CANCELLED in the results file).",
                88,
            ),
        ]
    if report.retry_of:
        lines += ["", f"This file retries the failed rows of job {one_line(report.retry_of)}."]
    return lines


def _timed_out_entry(counts: ResultCounts) -> list[tuple[str, int, str]]:
    if not counts.timed_out:
        return []
    return [("Timed out", counts.timed_out, "Sync had not finished it by the job's deadline")]


def _outcome_sentence(name: str, counts: ResultCounts) -> str:
    done, total = counts.completed, counts.total
    if total == 0:
        return f"syncdrop has finished {name}, but it had no rows to process."
    if done == total:
        if total == 1:
            return f"syncdrop has finished {name}: its one row became a lipsync video."
        return f"syncdrop has finished {name}: all {count(total)} rows became lipsync videos."
    if done == 0 and total == 1:
        return f"syncdrop has finished {name}, but its one row did not become a video."
    if done == 0:
        return (
            f"syncdrop has finished {name}, but none of its {plural(total, 'row')} became videos."
        )
    missing = total - done
    return (
        f"syncdrop has finished {name}: {count(done)} of {plural(total, 'row')} became lipsync "
        f"videos and {count(missing)} did not."
    )


def _results_lines(report: JobReport) -> list[str]:
    if report.results_uri is None and report.results_link is None:
        return [
            "The results file could not be written. Quote the job id below if you ask for help;",
            "the outcome of every row is kept and the file can be written again.",
        ]
    lines = _page_lines(report)
    if report.videos_uri is not None:
        lines += [
            "The videos are in your bucket, one file per row (<request_id>.mp4):",
            f"  {report.videos_uri}",
            "",
        ]
    if report.videos_not_copied:
        lines += [
            f"{plural(report.videos_not_copied, 'finished video')} could not be copied into your "
            "bucket: those rows keep Sync's own link, which expires, and say why in the results "
            "file (COPY_FAILED or NOT_COPIED). Download them soon.",
            "",
        ]
    lines.append("Results file (one line per row: status, video link or reason, your own columns):")
    if report.results_uri is not None:
        lines.append(f"  {report.results_uri}")
    if report.results_link is None:
        lines += [
            "There is no download link in this email: fetch the file from the S3 URI above",
            "(for example with the S3 console or `aws s3 cp <uri> .`).",
        ]
    elif report.link_expires_at is None:
        lines += ["Download it here:", f"  {report.results_link}"]
    else:
        lines += [
            f"Download it here (the link works until {clock(report.link_expires_at)}):",
            f"  {report.results_link}",
        ]
    return lines


def _page_lines(report: JobReport) -> list[str]:
    """The report page comes first: it is what a person opens; the CSV is for spreadsheets."""
    if report.page_link is None:
        return []
    until = (
        f" (the link works until {clock(report.link_expires_at)})"
        if report.link_expires_at is not None
        else ""
    )
    return [
        f"See every row and play the videos in your browser{until}:",
        f"  {report.page_link}",
        "",
    ]


def _batch_plan(batches: Sequence[int]) -> str:
    if not batches:
        return "No batch would be created: no row is valid."
    runs: list[list[int]] = []  # [size, how many in a row]
    for size in batches:
        if runs and runs[-1][0] == size:
            runs[-1][1] += 1
        else:
            runs.append([size, 1])
    if len(batches) == 1:
        return f"Planned: 1 batch of {plural(batches[0], 'row')}."
    groups = ", ".join(f"{times} of {plural(size, 'row')}" for size, times in runs)
    return f"Planned: {count(len(batches))} batches ({groups})."


def _table(entries: Sequence[tuple[str, int, str]]) -> str:
    width = max(len(count(number)) for _, number, _ in entries)
    labels = max(9, *(len(label) + 1 for label, _, _ in entries))
    return "\n".join(
        f"  {label:<{labels}}{count(number):>{width}}" + (f"   {note}" if note else "")
        for label, number, note in entries
    )


def _subject(before_name: str, name: str, after_name: str) -> str:
    room = SUBJECT_LIMIT - len(SUBJECT_PREFIX) - len(before_name) - len(after_name)
    return SUBJECT_PREFIX + before_name + shorten_name(name, max(room, 1)) + after_name


def _display_name(file_name: str, key: str) -> str:
    # Hidden characters (a newline, a right-to-left override) shown as escapes, never raw.
    shown = one_line(printable_key(file_name)) or one_line(printable_key(key.rsplit("/", 1)[-1]))
    return shown or "your file"


def _visible_name(file_name: str) -> str:
    cleaned = "".join(c for c in file_name if not hidden_characters(c))
    return one_line(printable_key(cleaned)) or "your-file.csv"


def _s3_uri(bucket: str, key: str) -> str:
    """An S3 URI as one safe line: hidden characters escaped, length bounded."""
    return f"s3://{one_line(bucket)}/{printable_key(key)}"


def _indented(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.strip().splitlines()]
    return [f"  {line}" if line else "" for line in lines] or ["  (no reason was recorded)"]


def _attributes(
    job_id: str, status: EmailStatus, name: str, bucket: str, counts: ResultCounts
) -> dict[str, str]:
    # SNS refuses an empty attribute value, so every value is non-empty text.
    return {
        "job_id": one_line(job_id) or "-",
        "status": str(status),
        "file_name": name,
        "bucket": one_line(bucket) or "-",
        "completed": str(counts.completed),
        "failed": str(counts.failed),
        "rejected": str(counts.rejected),
        "total": str(counts.total),
        # Only when there are some: a filter on it then matches jobs that hit their deadline.
        **({"timed_out": str(counts.timed_out)} if counts.timed_out else {}),
    }


def _body(lines: Iterable[str]) -> str:
    return "\n".join(lines) + "\n"
