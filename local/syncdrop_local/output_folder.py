"""What the local stack's user would receive, as files: each email, each job's results CSV."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import Job, JobStatus, report_page_key, results_key
from syncdrop_local.runtime.local_runtime import CapturedEmail
from syncdrop_local.runtime.stack import LocalStack
from syncdrop_local.stack_cli.bucket import open_results
from syncdrop_local.stack_cli.errors import StackCliError

log = logging.getLogger("syncdrop.local")


def email_text(email: CapturedEmail) -> str:
    """To, Subject, one ``name: value`` line per SNS attribute, a blank line, the body."""
    attributes = "".join(f"{name}: {value}\n" for name, value in email.attributes.items())
    return f"To: {email.recipient}\nSubject: {email.subject}\n{attributes}\n{email.body}"


def _file_safe(address: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._+-]", "_", address) or "nobody"


class OutputFolder:
    """``emails/<n>-<job>-to-<address>.txt`` as each email goes out (one per subscriber it
    reached), and ``results/<n>-<name>.results.csv``
    and ``results/<n>-<name>.report.html`` (the job's results CSV and report page, copied when
    its email goes out). Files appear whole: each is
    written under a hidden name first, then renamed."""

    def __init__(self, root: Path, stack: LocalStack) -> None:
        self.emails = root / "emails"
        self.results = root / "results"
        self.emails.mkdir(parents=True, exist_ok=True)
        self.results.mkdir(parents=True, exist_ok=True)
        self._stack = stack

    def email_sent(self, number: int, email: CapturedEmail) -> list[Path]:
        """Write the email (and its job's results CSV, if it has one); return what was written."""
        job_id = email.attributes.get("job_id", "job")
        target = self.emails / f"{number}-{job_id}-to-{_file_safe(email.recipient)}.txt"
        _write_whole(target, email_text(email).encode())
        written = [target]
        written += self._copy_results(number, job_id)
        return written

    def _copy_results(self, number: int, job_id: str) -> list[Path]:
        """The job's results CSV and the report page beside it, as far as they exist."""
        store = DynamoJobStore(self._stack.client("dynamodb"), self._stack.ref("JobTable"))
        job = store.get_job(job_id)
        # Only a completed (or cancelled) job has a results CSV (a dry run and a refused file
        # have none).
        if job is None or job.status not in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            return []
        copied = []
        for key in (results_key(job.upload.key), report_page_key(job.upload.key)):
            if (target := self._copy_one(number, job, key)) is not None:
                copied.append(target)
        return copied

    def _copy_one(self, number: int, job: Job, key: str) -> Path | None:
        job_id = job.job_id
        target = self.results / f"{number}-{key.rsplit('/', 1)[-1]}"
        try:
            body = open_results(
                self._stack.client("s3"), job.upload.bucket, key, written_by=job.notified_at
            )
        except StackCliError as error:
            log.warning("no %s for %s: %s", key.rsplit("/", 1)[-1], job_id, error)
            return None
        partial = target.with_name(f".{target.name}.part")
        with body, partial.open("wb") as out:
            shutil.copyfileobj(body, out)
        partial.replace(target)
        return target


def _write_whole(target: Path, data: bytes) -> None:
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(data)
    partial.replace(target)
