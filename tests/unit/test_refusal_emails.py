"""Every way intake refuses a whole file ends in one email that says what to fix, in the email
itself: a refused file gets no results CSV, so its rejected rows are listed there too."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from syncdrop.domain.intake import IntakeLimits, accept_upload
from syncdrop.domain.reporting import FinishOutcome, finish_job
from syncdrop.domain.services import Services
from syncdrop.errors import StorageError
from syncdrop.intake import IntakeRules
from syncdrop.jobs import JobStatus, SubmitMode, UploadRef
from tests.fakes.stores import (
    FakeJobStore,
    FakeNotifier,
    FakeObjectStore,
    FakeResultStore,
    FakeSync,
)
from tests.support.csv_files import campaign_rows, to_csv

LIMITS = IntakeLimits(
    rules=IntakeRules(max_rows=50),
    max_upload_bytes=1_000_000,
    min_lines=20,
    max_lines=500,
    max_bytes=5 << 20,
)
BATCH_ONLY = replace(LIMITS, mode=SubmitMode.BATCH)


class BrokenObjectStore(FakeObjectStore):
    """A bucket whose reads keep failing (the last delivery of the intake message)."""

    def open_upload(self, upload: UploadRef):  # type: ignore[no-untyped-def]
        raise StorageError("S3 read timed out")


def refusal_email(
    body: bytes,
    *,
    limits: IntakeLimits = LIMITS,
    key: str = "incoming/campaign.csv",
    objects: FakeObjectStore | None = None,
    size: int | None = None,
    last_attempt: bool = False,
) -> str:
    """Read ``body`` as an upload, send the job's email and return its body; the job must fail."""
    objects = objects if objects is not None else FakeObjectStore()
    objects.uploads[("bkt", key)] = body
    notifier = FakeNotifier()
    services = Services(
        jobs=FakeJobStore(),
        results=FakeResultStore(),
        objects=objects,
        sync=FakeSync(),
        clock=lambda: datetime(2026, 11, 29, tzinfo=UTC),
        notifier=notifier,
    )
    upload = UploadRef("bkt", key, "v1", size=len(body) if size is None else size)
    outcome = accept_upload(services, upload, limits, last_attempt=last_attempt, attempts=5)
    assert outcome.job.status is JobStatus.FAILED
    assert finish_job(services, outcome.job.job_id) is FinishOutcome.SENT
    (email,) = notifier.published
    assert email.subject.endswith(" could not be processed")
    return email.body


def what_is_wrong(body: str) -> str:
    """The part of the body between "What is wrong:" and "What to do next:"."""
    return body.split("What is wrong:\n", 1)[1].split("\nWhat to do next:", 1)[0]


def csv_with(header: tuple[str, ...], rows: list[list[str]]) -> bytes:
    return to_csv(rows, header=header)


# --- refused before a byte is read ---------------------------------------------------------


def test_a_name_with_hidden_characters_says_to_rename_it() -> None:
    body = refusal_email(to_csv(campaign_rows(3)), key="incoming/camp\u202eaign.csv")
    assert "Rename the file using visible characters only" in what_is_wrong(body)


def test_a_file_over_the_size_limit_says_to_split_it() -> None:
    body = refusal_email(to_csv(campaign_rows(3)), size=3_000_000)
    assert "The file is 3.0 MB, more than this deployment accepts (1 MB)" in body
    assert "Split it into smaller files." in what_is_wrong(body)


def test_a_file_deleted_before_it_was_read_says_to_upload_it_again() -> None:
    objects = FakeObjectStore()
    objects.refused.add(("bkt", "incoming/campaign.csv"))
    body = refusal_email(to_csv(campaign_rows(3)), objects=objects, size=None)
    assert "Upload it again, with the bucket's default encryption." in what_is_wrong(body)


def test_a_file_that_cannot_be_read_on_its_last_attempt_says_to_upload_it_again() -> None:
    body = refusal_email(to_csv(campaign_rows(3)), objects=BrokenObjectStore(), last_attempt=True)
    wrong = what_is_wrong(body)
    assert "could not read the file after 5 attempts (S3 read timed out)" in wrong
    assert "Upload it again" in wrong


# --- refused while reading ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fix"),
    [
        pytest.param(b"", "it needs a header row (video_url, audio_url, ...)", id="empty"),
        pytest.param(
            b"\n\n", "it needs a header row (video_url, audio_url, ...)", id="blank-lines"
        ),
        pytest.param(
            csv_with(("name", "link", "sound"), [["a", "b", "c"]]),
            "Name the column with the video links video_url",
            id="no-video_url-column",
        ),
        pytest.param(
            csv_with(("https://v.example/1.mp4", "https://a.example/1.wav"), []),
            "Insert a header row at the top.",
            id="data-in-the-header",
        ),
        pytest.param(
            csv_with(("video_url", "audio_url", "Video_URL"), []),
            "rename or remove one of them",
            id="a-column-twice",
        ),
        pytest.param(
            csv_with(("video_url", "name"), [["https://v.example/1.mp4", "a"]]),
            "Add an audio_url column with links to the audio",
            id="no-audio-column",
        ),
        pytest.param(
            csv_with(("video_url", "tts_voice_id"), [["https://v.example/1.mp4", "v"]]),
            "Add a tts_script column",
            id="half-of-text-to-speech",
        ),
        pytest.param(
            to_csv(campaign_rows(51)),
            "Split it into files of at most 50 rows and upload each one.",
            id="too-many-rows",
        ),
        pytest.param(
            "video_url,audio_url\nhttps://v.example/caf\u00e9.mp4,https://a.example/1.wav\n".encode(
                "cp1252"
            ),
            "Save it from Excel as 'CSV UTF-8 (Comma delimited)'",
            id="wrong-encoding",
        ),
        pytest.param(
            b"PK\x03\x04" + b"\0" * 64,
            "This is a spreadsheet workbook (Excel or Numbers), not a CSV file. Save it",
            id="an-excel-workbook",
        ),
        pytest.param(
            b'video_url,audio_url\n"https://v.example/1.mp4,https://a.example/1.wav\n'
            + b"x" * 200_000,
            "check the quotes in that row",
            id="an-unclosed-quote",
        ),
    ],
)
def test_a_file_that_cannot_be_read_as_rows_names_the_fix(content: bytes, fix: str) -> None:
    assert fix in what_is_wrong(refusal_email(content))


@pytest.mark.parametrize(
    ("content", "fix"),
    [
        pytest.param(b"\n", "a .jsonl upload needs one JSON object per line", id="empty"),
        pytest.param(
            b"{}\n" * 51,
            "Split it into files of at most 50 lines and upload each one.",
            id="too-many-lines",
        ),
    ],
)
def test_a_jsonl_file_that_cannot_be_read_names_the_fix(content: bytes, fix: str) -> None:
    assert fix in what_is_wrong(refusal_email(content, key="incoming/lines.jsonl"))


def test_a_jsonl_file_with_only_broken_lines_lists_them() -> None:
    content = b'{"request_id": "a", "endpoint": "/v2/generate"\n'
    wrong = what_is_wrong(refusal_email(content, key="incoming/lines.jsonl"))
    assert "The rejected row:\n  - row 1: " in wrong
    assert '"endpoint": "/v2/generate"' in wrong  # the reason shows the shape to write


# --- refused after reading: its rows are listed ---------------------------------------------


def test_a_file_with_only_a_header_says_to_add_rows() -> None:
    body = refusal_email(csv_with(("video_url", "audio_url"), []))
    assert "Add one row per video and upload it again." in what_is_wrong(body)
    assert "rejected row" not in body


def test_a_file_without_a_valid_row_lists_the_reasons_with_their_rows() -> None:
    rows = campaign_rows(9)
    for row in rows[:6]:
        row[2] = ""  # no audio
    for row in rows[6:8]:
        row[1] = "http://media.example.com/v.mp4"  # not https
    rows[8][0] = "bad id!"
    wrong = what_is_wrong(refusal_email(to_csv(rows)))

    assert "None of the file's 9 rows is valid" in wrong
    listed = wrong.split("The 9 rejected rows, by reason (most common first):\n", 1)[1]
    lines = listed.splitlines()
    # Six rows share one reason: counted once, with their spreadsheet rows (header = 1).
    assert lines[0].startswith("  - 6 rows (rows 2, 3, 4, 5, 6, …): ")
    assert "audio" in lines[0]
    assert lines[1].startswith("  - 2 rows (rows 8, 9): ")
    assert "https://" in lines[1]
    assert lines[2].startswith("  - row 10: ")
    assert "request_id" in lines[2]
    assert len(lines) == 3


def test_many_distinct_reasons_are_cut_to_the_most_common_with_a_count_of_the_rest() -> None:
    rows = campaign_rows(8)
    for number, row in enumerate(rows):
        row[1] = f"ftp://media.example.com/v{number}.mp4"  # each reason names its own link
    wrong = what_is_wrong(refusal_email(to_csv(rows)))
    assert wrong.count("\n  - row ") == 5
    assert "  - row 2: " in wrong
    assert "  … and 3 more rows with other reasons." in wrong


def test_a_single_rejected_row_is_not_counted_in_the_plural() -> None:
    rows = [["r1", "not a link", "https://a.example/1.wav", "Ada"]]
    wrong = what_is_wrong(refusal_email(to_csv(rows)))
    assert "None of the file's 1 row is valid" in wrong
    assert "The rejected row:\n  - row 2: " in wrong
    assert "1 rows" not in wrong


def test_a_small_file_in_batch_mode_with_every_row_valid_does_not_say_only() -> None:
    wrong = what_is_wrong(refusal_email(to_csv(campaign_rows(5)), limits=BATCH_ONLY))
    assert wrong.startswith("  All 5 rows are valid, and Sync needs at least 20 in a batch.")
    assert "Only" not in wrong
    assert "add rows, or deploy with SubmitMode auto" in wrong
    assert "rejected row" not in wrong


def test_a_one_row_file_in_batch_mode_reads_in_the_singular() -> None:
    wrong = what_is_wrong(refusal_email(to_csv(campaign_rows(1)), limits=BATCH_ONLY))
    assert wrong.startswith("  The file's one row is valid, and Sync needs at least 20")


def test_a_small_file_in_batch_mode_with_rejections_lists_them() -> None:
    rows = campaign_rows(22)
    for row in rows[:5]:
        row[1] = "not a url"
    wrong = what_is_wrong(refusal_email(to_csv(rows), limits=BATCH_ONLY))
    assert "Only 17 rows of 22 are valid, and Sync needs at least 20" in wrong
    assert "The 5 rejected rows, by reason" in wrong
    assert "rows 2, 3, 4, 5, 6): " in wrong


def test_valid_rows_that_cannot_be_split_into_batches_say_what_to_change() -> None:
    limits = replace(LIMITS, min_lines=20, max_lines=25)
    wrong = what_is_wrong(refusal_email(to_csv(campaign_rows(30)), limits=limits))
    assert "30 rows cannot be split into batches of 20 to 25 rows. Add or remove a few rows." in (
        wrong
    )


def test_rows_too_big_for_a_batch_say_to_shorten_them() -> None:
    limits = replace(LIMITS, max_bytes=2_000)
    wrong = what_is_wrong(refusal_email(to_csv(campaign_rows(25)), limits=limits))
    assert "Shorten the longest rows (usually the tts_script) or split the file." in wrong
