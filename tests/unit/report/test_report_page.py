"""The report page as bytes: escaping, counts, reasons, video links, and its size at scale."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import tempfile
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest

from syncdrop.report import ReportRow, ResultCounts, RowStatus
from syncdrop.report.report_page import PageFacts, ReportPage
from syncdrop.report.wording import one_line
from tests.support.report_pages import page_rows, video_links

NOW = datetime(2026, 12, 3, 16, 56, tzinfo=UTC)
COLUMNS = ["request_id", "video_url", "name", "status"]
HOSTILE = [
    "</script><script>alert(1)</script>",
    "</SCRIPT ><img src=x onerror=alert(2)>",
    "<!--<script>",
    "a & b \u2028 \U0001f600 \"quoted\" 'single'",
]
# A presigned GET as a Lambda role signs it: the security token makes it about 1 KB.
TOKEN = "IQoJb3JpZ2luX2VjE" + "A" * 900
# Enough rows for the page's size per row to show (docs/operations.md has 100,000's figures).
ROWS = 20_000


def presigned(key: str, signature: str) -> str:
    return (
        f"https://bkt.s3.amazonaws.com/{key}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=ASIAEXAMPLE%2F20261203%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Date=20261203T165600Z&X-Amz-Expires=21600&X-Amz-SignedHeaders=host"
        f"&X-Amz-Security-Token={TOKEN}&X-Amz-Signature={signature}"
    )


def facts(counts: ResultCounts, reasons: list[tuple[str, int]] | None = None) -> PageFacts:
    return PageFacts(
        file_name="<b>camp</b>aign.csv",
        counts=counts,
        reasons=reasons or [],
        finished_at=NOW,
        links_expire_at=NOW + timedelta(hours=6),
        job_id="job-1",
    )


def render(rows: list[ReportRow], counts: ResultCounts, **extra: object) -> str:
    with tempfile.TemporaryFile() as spool:
        page = ReportPage(spool, COLUMNS, lambda row: row.output_url)
        consumed = list(page.rows(rows))
        assert consumed == rows  # the CSV still gets every row, in order
        out = io.BytesIO()
        page.write(facts(counts, **extra), out)  # type: ignore[arg-type]
    return out.getvalue().decode("utf-8")


def test_nothing_from_the_persons_file_becomes_markup():
    rows = [
        ReportRow(
            n + 2,
            f"r{n}",
            RowStatus.FAILED,
            error_message=text,
            columns={"name": text, "video_url": text, "status": text},
        )
        for n, text in enumerate(HOSTILE)
    ]
    html = render(rows, ResultCounts(0, 4, 0, 4), reasons=[(HOSTILE[0], 1), (HOSTILE[1], 1)])
    # Only syncdrop's own three script blocks open or close; no comment opens.
    assert len(re.findall(r"<script", html, re.IGNORECASE)) == 3
    assert len(re.findall(r"</script", html, re.IGNORECASE)) == 3
    assert "<!--" not in html
    assert "<img" not in html
    assert "<title>syncdrop: &lt;b&gt;camp&lt;/b&gt;aign.csv</title>" in html
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the reasons list
    # The script gets every cell back as text, on one line (a line separator becomes a space).
    back = page_rows(html)
    assert [row[5] for row in back] == [[one_line(text)] * 3 for text in HOSTILE]
    assert one_line(HOSTILE[3]) == "a & b \U0001f600 \"quoted\" 'single'"
    assert [row[2] for row in back[:3]] == HOSTILE[:3]


def test_a_column_the_person_named_status_is_theirs_and_kept_apart():
    html = render(
        [ReportRow(2, "r1", RowStatus.REJECTED, columns={"status": "vip", "name": "Ann"})],
        ResultCounts(0, 0, 1, 1),
    )
    assert '"columns":["video_url","name","input_status"]' in html
    assert page_rows(html)[0][1] == "REJECTED"
    assert page_rows(html)[0][5] == ["", "Ann", "vip"]


def test_the_counts_and_the_bar_say_what_the_csv_says():
    counts = ResultCounts(1180, 20, 34, 1236, timed_out=2)
    html = render([], counts)
    shown = dict(re.findall(r'data-count="(\w+)">([\d,]+)<', html))
    assert shown == {
        "COMPLETED": "1,180",
        "FAILED": "20",
        "TIMED_OUT": "2",
        "REJECTED": "34",
        "TOTAL": "1,236",
    }
    assert re.findall(r'class="(\w+)" style="flex-grow:(\d+)"', html) == [
        ("COMPLETED", "1180"),
        ("FAILED", "20"),
        ("TIMED_OUT", "2"),
        ("REJECTED", "34"),
    ]
    # No timed-out or cancelled entry where there are none; failed and rejected always show.
    plain = render([], ResultCounts(3, 0, 0, 3))
    assert dict(re.findall(r'data-count="(\w+)">([\d,]+)<', plain)) == {
        "COMPLETED": "3",
        "FAILED": "0",
        "REJECTED": "0",
        "TOTAL": "3",
    }
    assert "Every row became a video." in plain


def test_the_reasons_keep_their_order_and_counts():
    reasons = [("No face", 12), ("video_url is empty", 3), ("Sync timed out", 1)]
    html = render([], ResultCounts(0, 13, 3, 16), reasons=reasons)
    listed = re.findall(r'<td data-rows="(\d+)">[^<]*</td><td>([^<]*)</td>', html)
    assert listed == [("12", "No face"), ("3", "video_url is empty"), ("1", "Sync timed out")]


def test_presigned_links_are_written_once_and_put_back_together_exactly():
    urls = {n: presigned(f"outputs/c/r{n}.mp4", f"{n:064x}") for n in range(2, 52)}
    rows = [ReportRow(n, f"r{n}", RowStatus.COMPLETED, output_url=u) for n, u in urls.items()]
    html = render(rows, ResultCounts(50, 0, 0, 50))
    assert video_links(html) == urls
    assert html.count(TOKEN) == 1  # the shared part, once


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "/relative.mp4", ""],
)
def test_only_web_links_reach_a_video(link):
    html = render(
        [ReportRow(2, "r1", RowStatus.COMPLETED, output_url=link)], ResultCounts(1, 0, 0, 1)
    )
    assert video_links(html) == {}


def test_rows_that_are_not_done_have_no_video_even_with_a_link():
    rows = [
        ReportRow(2, "r1", RowStatus.FAILED, output_url="https://cdn/r1.mp4"),
        ReportRow(3, "r2", RowStatus.COMPLETED, output_url="https://cdn/r2.mp4"),
    ]
    assert video_links(render(rows, ResultCounts(1, 1, 0, 2))) == {3: "https://cdn/r2.mp4"}


def test_only_the_pages_own_script_may_run():
    html = render([], ResultCounts(0, 0, 0, 0))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', html)
    assert policy is not None
    allowed = re.search(r"script-src 'sha256-([^']+)'", unescape(policy.group(1)))
    assert allowed is not None
    (script,) = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
    assert base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() == allowed.group(1)
    assert "default-src 'none'" in unescape(policy.group(1))


def test_each_row_costs_about_a_hundred_bytes_of_link_however_many_rows():
    rows = (
        ReportRow(
            n,
            f"row-{n}",
            RowStatus.COMPLETED,
            output_url=presigned(f"outputs/campaign/row-{n}.mp4", f"{n:064x}"),
            columns={"name": f"Person {n}", "video_url": f"https://media.example.com/v{n}.mp4"},
        )
        for n in range(2, ROWS + 2)
    )
    with tempfile.TemporaryFile() as spool, tempfile.TemporaryFile() as out:
        page = ReportPage(spool, COLUMNS, lambda row: row.output_url)
        for _ in page.rows(rows):
            pass
        page.write(facts(ResultCounts(ROWS, 0, 0, ROWS)), out)  # type: ignore[arg-type]
        size = out.tell()
    # Without the shared part written once, each row's link alone would be over 1 KB.
    assert size < ROWS * 250, size
