"""The one email per file: subjects to scan, bodies that say what to do, filterable attributes."""

from __future__ import annotations

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncdrop.report import (
    Email,
    JobReport,
    ResultCounts,
    completed_email,
    dry_run_email,
    failed_file_email,
    top_error_reasons,
)
from syncdrop.report.email import SUBJECT_LIMIT
from syncdrop.report.wording import duration, one_line, shorten_name
from syncdrop.s3_events import KEY_SHOWN_CHARS

START = datetime(2025, 1, 15, 10, 30, tzinfo=UTC)


def report(
    completed: int = 1180,
    failed: int = 20,
    rejected: int = 34,
    *,
    file_name: str = "campaign.csv",
    took: timedelta = timedelta(hours=2, minutes=14, seconds=3),
    link: str | None = "https://drop.s3.amazonaws.com/results/campaign.results.csv?X-Amz-Sig=1",
    expires: datetime | None = START + timedelta(days=7),
    uri: str | None = "s3://drop/results/campaign.results.csv",
    top_errors: tuple[tuple[str, int], ...] = (
        ("The audio is longer than 30 s.", 30),
        ("Sync reported the generation as FAILED without a reason", 20),
    ),
) -> JobReport:
    return JobReport(
        job_id="job-7f3a",
        file_name=file_name,
        bucket="drop",
        key=f"incoming/{file_name}",
        counts=ResultCounts(completed, failed, rejected, completed + failed + rejected),
        top_errors=top_errors,
        started_at=START,
        finished_at=START + took,
        results_uri=uri,
        results_link=link,
        link_expires_at=expires,
    )


def assert_fine_subject(subject: str) -> None:
    assert len(subject) <= SUBJECT_LIMIT < 100
    assert all(unicodedata.category(char) not in ("Cc", "Zl", "Zp") for char in subject)


@pytest.mark.parametrize(
    ("counts", "subject"),
    [
        ((1180, 20, 34), "syncdrop: campaign.csv — 1,180 done, 20 failed, 34 rejected"),
        ((1234, 0, 0), "syncdrop: campaign.csv — 1,234 done"),
        ((1200, 0, 34), "syncdrop: campaign.csv — 1,200 done, 34 rejected"),
        ((0, 500, 0), "syncdrop: campaign.csv — 0 done, 500 failed"),
        ((0, 0, 7), "syncdrop: campaign.csv — 0 done, 7 rejected"),
        ((1_234_567, 1, 0), "syncdrop: campaign.csv — 1,234,567 done, 1 failed"),
    ],
)
def test_completed_subjects(counts: tuple[int, int, int], subject: str) -> None:
    email = completed_email(report(*counts))
    assert email.subject == subject
    assert_fine_subject(email.subject)


def test_long_file_name_is_shortened_keeping_the_extension() -> None:
    name = "spring-campaign-" + "very-long-part-" * 10 + "final.csv"
    email = completed_email(report(file_name=name))
    assert_fine_subject(email.subject)
    assert len(email.subject) == SUBJECT_LIMIT
    assert email.subject.startswith("syncdrop: spring-campaign-very-long")
    assert "….csv — 1,180 done, 20 failed, 34 rejected" in email.subject
    # The body has room for the whole name.
    assert name in email.body


def test_file_name_with_line_breaks_cannot_break_the_subject() -> None:
    email = completed_email(report(file_name="bad\nname\r\x00.csv"))
    # Escaped, not dropped: the person sees which characters the name holds.
    assert email.subject.startswith("syncdrop: bad\\nname\\r\\x00.csv — ")
    assert_fine_subject(email.subject)
    assert email.attributes["file_name"] == "bad\\nname\\r\\x00.csv"


HOSTILE_KEY = "incoming/team\nBcc: x@evil.example/inv\u202eoice\u2028\u200b.csv"


def assert_one_safe_line(text: str) -> None:
    assert all(unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp") for c in text), text


def emails_about(key: str) -> list[Email]:
    name = key.rsplit("/", 1)[-1]
    completed = completed_email(replace(report(file_name=name), key=key))
    failed = failed_file_email(
        job_id="job-1", file_name=name, bucket="drop", key=key, reason="r", received_at=START
    )
    dry_run = dry_run_email(
        job_id="job-2",
        file_name=name,
        bucket="drop",
        key=key,
        rows=1,
        valid=1,
        rejected=0,
        batches=[1],
        verdict="ok",
        rejections=[],
    )
    return [completed, failed, dry_run]


def test_a_key_with_newlines_and_bidi_overrides_is_shown_escaped_on_one_line() -> None:
    for email in emails_about(HOSTILE_KEY):
        assert_fine_subject(email.subject)
        assert_one_safe_line(email.subject)
        for line in email.body.splitlines():
            assert_one_safe_line(line)
        assert "\nBcc:" not in email.body
        assert "\u202e" not in email.body + email.subject
        assert all("\u202e" not in v and "\n" not in v for v in email.attributes.values())
        shown = "s3://drop/incoming/team\\nBcc: x@evil.example/inv\\u202eoice\\u2028\\u200b.csv"
        assert f"Your file: {shown}" in email.body
        assert "inv\\u202eoice" in email.subject


def test_a_refused_key_is_not_suggested_again_as_it_is() -> None:
    _, failed, _ = emails_about(HOSTILE_KEY)
    assert "as s3://drop/incoming/invoice.csv (the same name" in failed.body


def test_a_long_key_is_cut_in_the_body() -> None:
    key = "incoming/" + "deep/" * 200 + "campaign.csv"
    for email in emails_about(key):
        (line,) = [x for x in email.body.splitlines() if x.startswith("Your file: ")]
        assert len(line) <= len("Your file: s3://drop/") + KEY_SHOWN_CHARS
        assert line.endswith("…")


@given(st.text(max_size=300), st.integers(0, 10**12), st.integers(0, 10**12))
def test_any_name_and_counts_give_a_valid_subject(name: str, done: int, failed: int) -> None:
    assert_fine_subject(completed_email(report(done, failed, 0, file_name=name)).subject)
    assert_fine_subject(
        failed_file_email(
            job_id="j", file_name=name, bucket="b", key="incoming/x", reason="r", received_at=START
        ).subject
    )
    assert_fine_subject(
        dry_run_email(
            job_id="j",
            file_name=name,
            bucket="b",
            key="incoming/dry-run/x",
            rows=done + failed,
            valid=done,
            rejected=failed,
            batches=[],
            verdict="v",
            rejections=[],
        ).subject
    )


def test_body_says_what_happened_and_where_the_results_are() -> None:
    body = completed_email(report()).body
    assert body.startswith(
        "syncdrop has finished campaign.csv: 1,180 of 1,234 rows became lipsync videos "
        "and 54 did not.\n"
    )
    assert "  Done     1,180   the video is ready\n" in body
    assert "  Failed      20   " in body
    assert "  Rejected    34   " in body
    assert "  Total    1,234\n" in body
    assert "  - 30 rows: The audio is longer than 30 s.\n" in body
    assert (
        "It took 2 h 14 min (started 2025-01-15 10:30 UTC, finished 2025-01-15 12:44 UTC)." in body
    )
    assert "  s3://drop/results/campaign.results.csv\n" in body
    assert "Download it here (the link works until 2025-01-22 10:30 UTC):\n" in body
    assert "  https://drop.s3.amazonaws.com/results/campaign.results.csv?X-Amz-Sig=1\n" in body
    assert "Job id (quote it if you ask for help): job-7f3a" in body


def test_all_done_reads_as_success() -> None:
    email = completed_email(report(1234, 0, 0, top_errors=()))
    assert "all 1,234 rows became lipsync videos." in email.body
    assert "Why rows did not become videos" not in email.body
    assert email.attributes["status"] == "COMPLETED"


def test_nothing_done_reads_as_such() -> None:
    assert "none of its 500 rows became videos." in completed_email(report(0, 500, 0)).body
    assert "its one row did not become a video." in completed_email(report(0, 1, 0)).body
    assert "it had no rows to process." in completed_email(report(0, 0, 0)).body


def test_without_a_link_the_body_points_to_the_s3_uri() -> None:
    body = completed_email(report(link=None, expires=None)).body
    assert "https://" not in body
    assert "  s3://drop/results/campaign.results.csv\n" in body
    assert "fetch the file from the S3 URI above" in body


def test_link_without_expiry_and_no_results_file() -> None:
    body = completed_email(report(expires=None)).body
    assert "Download it here:\n  https://drop.s3" in body
    assert "works until" not in body
    missing = completed_email(report(uri=None, link=None, expires=None)).body
    assert "The results file could not be written." in missing


def test_naive_and_aware_times_mix() -> None:
    mixed = replace(report(), started_at=START.replace(tzinfo=None))
    assert "It took 2 h 14 min" in completed_email(mixed).body


def test_completed_attributes() -> None:
    assert completed_email(report()).attributes == {
        "job_id": "job-7f3a",
        "status": "COMPLETED_WITH_FAILURES",
        "file_name": "campaign.csv",
        "bucket": "drop",
        "completed": "1180",
        "failed": "20",
        "rejected": "34",
        "total": "1234",
    }


def test_every_attribute_is_non_empty_text() -> None:
    email = failed_file_email(
        job_id="", file_name="", bucket="", key="incoming/a/b.csv", reason="", received_at=START
    )
    assert all(isinstance(value, str) and value for value in email.attributes.values())
    assert email.attributes["file_name"] == "b.csv"


def test_failed_file_email() -> None:
    email = failed_file_email(
        job_id="job-1",
        file_name="campaign.csv",
        bucket="drop",
        key="incoming/team/campaign.csv",
        reason="The header has no video_url column.\nAdd a video_url column with links.",
        received_at=START,
    )
    assert email.subject == "syncdrop: campaign.csv could not be processed"
    assert email.body.startswith("syncdrop could not process campaign.csv, so nothing was sent")
    assert (
        "What is wrong:\n  The header has no video_url column.\n"
        "  Add a video_url column with links.\n" in email.body
    )
    assert "upload it again under incoming/" in email.body
    assert "s3://drop/incoming/team/campaign.csv" in email.body
    assert "Received: 2025-01-15 10:30 UTC" in email.body
    assert "job-1" in email.body
    assert email.attributes["status"] == "FAILED"
    assert email.attributes["completed"] == "0"


def test_dry_run_email() -> None:
    email = dry_run_email(
        job_id="job-2",
        file_name="campaign.csv",
        bucket="drop",
        key="incoming/dry-run/campaign.csv",
        rows=1214,
        valid=1180,
        rejected=34,
        batches=[500, 500, 180],
        verdict="Sync accepted the batch file",
        rejections=[(row, f"Row {row}: video_url is not a link") for row in range(2, 36)],
    )
    assert email.subject == "syncdrop: dry run of campaign.csv — 1,180 valid, 34 rejected"
    body = email.body
    assert body.startswith("Dry run of campaign.csv: Sync accepted the batch file\n")
    assert "Nothing was sent to Sync for processing" in body
    assert "Planned: 3 batches (2 of 500 rows, 1 of 180 rows)." in body
    assert "Rejected rows (first 20 of 34):\n  row 2: Row 2: video_url is not a link\n" in body
    assert "  row 21: " in body
    assert "  row 22: " not in body
    assert "  … and 14 more rows.\n" in body
    assert "for example as s3://drop/incoming/campaign.csv." in body
    assert email.attributes["status"] == "DRY_RUN"
    assert (email.attributes["valid"], email.attributes["rejected"]) == ("1180", "34")


def test_dry_run_with_nothing_rejected_or_nothing_valid() -> None:
    clean = dry_run_email(
        job_id="j",
        file_name="a.csv",
        bucket="b",
        key="incoming/dry-run/a.csv",
        rows=20,
        valid=20,
        rejected=0,
        batches=[20],
        verdict="ready",
        rejections=[],
    )
    assert clean.subject == "syncdrop: dry run of a.csv — 20 valid"
    assert "Planned: 1 batch of 20 rows." in clean.body
    assert "Rejected rows" not in clean.body
    empty = dry_run_email(
        job_id="j",
        file_name="a.csv",
        bucket="b",
        key="incoming/dry-run/a.csv",
        rows=2,
        valid=0,
        rejected=2,
        batches=[],
        verdict="no valid rows",
        rejections=[(2, "bad"), (3, "bad")],
    )
    assert "No batch would be created" in empty.body
    assert "Rejected rows:\n  row 2: bad\n  row 3: bad\n" in empty.body


def test_top_error_reasons_groups_and_orders() -> None:
    reasons = ["b", "a", "b", "c", "a", "b", " a ", "", "d\nline"]
    assert top_error_reasons(reasons) == [
        ("b", 3),
        ("a", 3),
        ("c", 1),
        ("No reason given", 1),
        ("d line", 1),
    ]
    assert top_error_reasons(reasons, limit=2) == [("b", 3), ("a", 3)]
    assert top_error_reasons(reasons, limit=0) == []
    assert top_error_reasons([]) == []


def test_reasons_in_the_body_stay_on_one_line() -> None:
    body = completed_email(report(top_errors=(("first\nsecond " + "x" * 1000, 3),))).body
    line = next(line for line in body.splitlines() if line.startswith("  - 3 rows:"))
    assert "first second" in line
    assert len(line) < 330


@pytest.mark.parametrize(
    ("elapsed", "text"),
    [
        (timedelta(0), "0 s"),
        (timedelta(seconds=0.4), "0 s"),
        (timedelta(seconds=48), "48 s"),
        (timedelta(seconds=60), "1 min"),
        (timedelta(minutes=3, seconds=5), "3 min 5 s"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=2, minutes=14, seconds=29), "2 h 14 min"),
        (timedelta(days=1), "1 day"),
        (timedelta(days=3, hours=4, minutes=59), "3 days 4 h"),
        (timedelta(seconds=-5), "0 s"),
    ],
)
def test_durations(elapsed: timedelta, text: str) -> None:
    assert duration(elapsed) == text


@pytest.mark.parametrize(
    ("name", "width", "short"),
    [
        ("campaign.csv", 20, "campaign.csv"),
        ("spring-campaign.csv", 12, "spring-….csv"),
        ("noextension-at-all", 10, "noextensi…"),
        ("weird.extension-too-long", 10, "weird.ext…"),
        (".csv", 3, ".c…"),
    ],
)
def test_shorten_name(name: str, width: int, short: str) -> None:
    assert shorten_name(name, width) == short
    assert len(short) <= width


def test_one_line() -> None:
    assert one_line("a\r\n\tb\u2028c  d") == "a b c d"
    assert one_line("abcdef", 4) == "abc…"


def test_videos_that_could_not_be_copied_are_counted_and_explained() -> None:
    copied = replace(report(), videos_uri="s3://drop/outputs/campaign/")
    assert "could not be copied" not in completed_email(copied).body
    some_left = replace(copied, videos_not_copied=6)
    body = completed_email(some_left).body
    assert "The videos are in your bucket" in body
    assert "6 finished videos could not be copied into your bucket" in body
    assert "COPY_FAILED or NOT_COPIED" in body
