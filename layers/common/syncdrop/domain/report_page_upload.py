"""A job's report page: its videos' links presigned, the page written beside the results CSV."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from syncdrop.domain.services import Services
from syncdrop.jobs import Job, report_page_key
from syncdrop.report.report_page import PageFacts, ReportPage
from syncdrop.report.result_lines import RowStatus
from syncdrop.report.results_csv import ReportRow, ResultCounts

PAGE_CONTENT_TYPE = "text/html; charset=utf-8"
# The email lists the first five of these; the page has room for more.
PAGE_REASONS = 10


def video_link(services: Services, bucket: str, lifetime: timedelta) -> Callable[[ReportRow], str]:
    """A finished row's video as a link that plays: the copy in the bucket presigned (it needs
    the function's s3:GetObject on outputs/*), or Sync's own link when there is no copy."""
    copies = f"s3://{bucket}/"
    seconds = int(lifetime.total_seconds())

    def link(row: ReportRow) -> str:
        if row.status is not RowStatus.COMPLETED:
            return ""
        if row.output_url.startswith(copies):
            key = row.output_url.removeprefix(copies)
            return services.objects.presign_get(bucket, key, seconds)
        return row.output_url

    return link


def put_report_page(
    services: Services,
    job: Job,
    page: ReportPage,
    *,
    counts: ResultCounts,
    reasons: Sequence[tuple[str, int]],
    now: datetime,
    lifetime: timedelta,
) -> str | None:
    """Write results/<name>.report.html from the rows ``page`` has seen; its VersionId."""
    facts = PageFacts(
        file_name=job.upload.file_name,
        counts=counts,
        reasons=reasons,
        finished_at=now,
        links_expire_at=now + lifetime,
        job_id=job.job_id,
    )
    with tempfile.TemporaryFile() as out:
        page.write(facts, out)
        out.seek(0)
        return services.objects.put_file(report_page_key(job.upload.key), out, PAGE_CONTENT_TYPE)
