"""The report page of a finished job, opened from disk in Chromium.

The job runs through the domain code: fan-out of Sync's result lines, the videos copied into the
bucket, the report and its email; the bucket is moto's S3 (the page and the copies are really
written and presigned there), the other stores are the in-memory fakes. The file has finished,
Sync-failed and rejected rows and a cell that tries to inject HTML. The page is saved to disk and
opened from a file:// URL; what it shows is held against the results CSV, the filter and search
are used, and no request may leave the machine's files. The README's screenshot is taken here.
(tests/e2e/test_calls_against_roles.py fetches the page and a video by their presigned links
on the local stack, signed by the report function's own role.)
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import pytest
from moto import mock_aws
from playwright.sync_api import Page

from syncdrop.adapters.s3_objects import S3ObjectStore
from syncdrop.domain.completion import handle_results_message
from syncdrop.jobs import chunk_keys
from syncdrop.keys import row_key
from syncdrop.messages import ResultsMessage
from syncdrop.sync_models import BatchStatus
from tests.fakes.stores import FakeCopyLedger, FakeOutputsQueue
from tests.support.browser import LOCAL_SCHEMES, local_browser
from tests.unit.test_completion import JOB, World, broken, done
from tests.unit.test_copy_outputs import MP4, run_copies

pytestmark = pytest.mark.timeout(120)

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO_ROOT / "docs" / "images" / "report-page.png"
ROWS = 24
FAILED_AT_SYNC = {5, 17}
INJECTION = '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
REJECTIONS = {
    26: "video_url 'ftp://not-https.example/v.mp4' is a 'ftp' link, which Sync cannot download.",
    27: "video_url is empty: every row needs the link to its video.",
}
PAGE_LINK_INTRO = "See every row and play the videos in your browser"


@pytest.fixture
def bucket() -> Iterator[S3ObjectStore]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bkt")
        s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
        yield S3ObjectStore(s3, "bkt")


def finished_job(store: S3ObjectStore) -> World:
    """24 rows sent to Sync (two fail there), two rejected at intake, every video copied."""
    world = World(rows=ROWS)
    manifest_key = chunk_keys(JOB, 1)[1]
    manifest = [json.loads(line) for line in world.objects.objects[manifest_key].splitlines()]
    manifest[3]["columns"]["name"] = INJECTION
    manifest[6]["columns"]["name"] = "Ada Lovelace"
    for key, body in world.objects.objects.items():
        store.put_bytes(key, body, "application/octet-stream")
    store.put_bytes(
        manifest_key, "\n".join(json.dumps(m) for m in manifest).encode(), "application/x-ndjson"
    )
    world.services = replace(
        world.services,
        objects=store,
        outputs_queue=FakeOutputsQueue(),
        copies=FakeCopyLedger(world.jobs, world.results),
    )
    world.outputs = world.services.outputs_queue  # type: ignore[attr-defined]
    world.results.put_rows(
        JOB,
        [
            {
                "row_key": row_key(number),
                "row_number": number,
                "request_id": f"row-{number}",
                "status": "REJECTED",
                "error_message": reason,
                "columns": json.dumps({"name": f"Rejected {number}"}),
            }
            for number, reason in REJECTIONS.items()
        ],
    )
    ids = [f"c1r{i}" for i in range(1, ROWS + 1)]
    for rid in ids:
        world.lines.media[f"https://cdn/{rid}.mp4"] = MP4
    world.submit(1, "batch_1")
    lines = [broken(rid) if i in FAILED_AT_SYNC else done(rid) for i, rid in enumerate(ids, 1)]
    world.finish_at_sync("batch_1", BatchStatus.COMPLETED, lines)
    handle_results_message(
        world.services,
        ResultsMessage.for_chunk(JOB, 1, "batch_1"),
        batch_concurrency=2,
        webhook_base="",
    )
    run_copies(world)
    handle_results_message(
        world.services, world.queue.sent[-1], batch_concurrency=2, webhook_base=""
    )
    return world


def shown_rows(page: Page) -> list[int]:
    numbers = page.locator("#rows-body tr").evaluate_all(
        "rows => rows.map(r => r.getAttribute('data-row'))"
    )
    return [int(n) for n in numbers]


def email_reasons(body: str) -> list[str]:
    lines = body.splitlines()
    start = lines.index("Why rows did not become videos (most common first):")
    return [line[4:] for line in lines[start + 1 :] if line.startswith("  - ")]


def test_the_report_page_shows_the_job_and_plays_its_videos_from_disk(bucket, tmp_path):
    world = finished_job(bucket)
    (email,) = world.notifier.published
    # The email links the page first, then the CSV.
    assert email.body.index(PAGE_LINK_INTRO) < email.body.index("Download it here")
    s3 = bucket._s3
    page_object = s3.get_object(Bucket="bkt", Key="results/c.report.html")
    assert page_object["ContentType"] == "text/html; charset=utf-8"
    saved = tmp_path / "c.report.html"
    saved.write_bytes(page_object["Body"].read())
    text = s3.get_object(Bucket="bkt", Key="results/c.results.csv")["Body"].read()
    body = list(csv.DictReader(io.StringIO(text.decode("utf-8-sig"))))
    statuses = Counter(r["status"] for r in body)
    assert statuses == {"COMPLETED": 22, "FAILED": 2, "REJECTED": 2}, statuses
    row_of = {r["request_id"]: r["row"] for r in body}

    with local_browser(tmp_path / "profile") as (context, requests):
        page = context.new_page()
        page.goto(saved.as_uri())
        page.wait_for_selector("#rows-body tr")

        # The counts at a glance are the CSV's.
        for status in ("COMPLETED", "FAILED", "REJECTED"):
            shown = page.locator(f'[data-count="{status}"]').text_content()
            assert shown == f"{statuses[status]:,}", status
        assert page.locator('[data-count="TOTAL"]').text_content() == f"{len(body):,}"
        assert page.locator("#outcome span").count() == 3

        # The reasons: the email's list, with the CSV's counts, most common first.
        reasons = page.locator("#reasons tr").evaluate_all(
            "rows => rows.map(r => [Number(r.cells[0].dataset.rows), r.cells[1].textContent])"
        )
        csv_reasons = Counter(r["error_message"] for r in body if r["status"] != "COMPLETED")
        assert {reason: n for n, reason in reasons} == dict(csv_reasons)
        assert [n for n, _ in reasons] == sorted((n for n, _ in reasons), reverse=True)
        listed = [f"{n} row{'s' * (n != 1)}: {reason}" for n, reason in reasons]
        assert listed == email_reasons(email.body)

        # Every row, then the filter and the search narrow them.
        assert shown_rows(page) == [int(r["row"]) for r in body]
        assert page.locator("#rows-shown").text_content() == "Showing 1\u201326 of 26 rows."
        page.select_option("#status-filter", "FAILED")
        assert shown_rows(page) == [int(r["row"]) for r in body if r["status"] == "FAILED"]
        assert page.locator("#rows-shown").text_content() == (
            "Showing 1\u20132 of 2 rows (of 26 in the file)."
        )
        page.select_option("#status-filter", "REJECTED")
        assert shown_rows(page) == [26, 27]
        page.select_option("#status-filter", "COMPLETED")
        page.fill("#search", "n1")
        expected = [
            int(r["row"]) for r in body if r["status"] == "COMPLETED" and "n1" in r["name"].lower()
        ]
        assert len(expected) == 10  # N1, N10..N19 less N17 (failed at Sync)
        assert shown_rows(page) == expected
        page.select_option("#status-filter", "")
        page.fill("#search", "LOVELACE")
        assert shown_rows(page) == [int(row_of["c1r7"])]
        page.fill("#search", "")
        assert len(shown_rows(page)) == len(body)

        # The injected cell is text on the page, never markup or script.
        assert page.evaluate("() => window.pwned") is None
        assert page.locator("img").count() == 0
        assert page.locator("script").count() == 3
        column = page.locator("#rows-head th").all_text_contents().index("name")
        injected = page.locator(f'tr[data-row="{row_of["c1r4"]}"] td').nth(column)
        assert injected.text_content() == INJECTION

        # Each finished video plays from its copy in the bucket, fetched only when played.
        videos = page.locator("#rows-body video")
        assert videos.count() == statuses["COMPLETED"]
        assert set(videos.evaluate_all("vs => vs.map(v => v.preload)")) == {"none"}
        for rid in ("c1r1", "c1r24"):
            src = page.locator(f'tr[data-row="{row_of[rid]}"] video').evaluate("v => v.src")
            assert urlsplit(src).path.endswith(f"/outputs/c/{rid}.mp4"), src
            assert "Signature=" in urlsplit(src).query, src
        assert page.locator(f'tr[data-row="{row_of["c1r5"]}"] video').count() == 0
        until = email.body.split("works until ")[1][:20]
        assert f"Video links work until {until}" in " ".join(
            (page.locator("#links-note").text_content() or "").split()
        )

        page.screenshot(path=str(tmp_path / "report-page.png"))
        assert requests.refused == []
        assert requests.seen, "the page itself was not requested"
        assert all(url.startswith(LOCAL_SCHEMES) for url in requests.seen), requests.seen

    # The README's picture of the page, replaced whole (another run may be reading it).
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    partial = SCREENSHOT.with_name(f".{SCREENSHOT.name}.{os.getpid()}.part")
    partial.write_bytes((tmp_path / "report-page.png").read_bytes())
    partial.replace(SCREENSHOT)
