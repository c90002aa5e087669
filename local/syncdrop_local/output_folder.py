"""What the local stack's user would receive, as files: each email, each job's results CSV."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from syncdrop.adapters.dynamo_jobs import DynamoJobStore
from syncdrop.jobs import JobStatus, results_key
from syncdrop_local.runtime.local_runtime import CapturedEmail
from syncdrop_local.runtime.stack import LocalStack
from syncdrop_local.stack_cli.bucket import open_results
from syncdrop_local.stack_cli.errors import StackCliError

log = logging.getLogger("syncdrop.local")


def email_text(email: CapturedEmail) -> str:
    """Subject, one ``name: value`` line per SNS attribute, a blank line, the body."""
    attributes = "".join(f"{name}: {value}\n" for name, value in email.attributes.items())
    return f"Subject: {email.subject}\n{attributes}\n{email.body}"


class OutputFolder:
    """``emails/<n>-<job>.txt`` as each email goes out, and ``results/<n>-<name>.results.csv``
    (the job's results CSV, copied when its email goes out). Files appear whole: each is
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
        target = self.emails / f"{number}-{job_id}.txt"
        _write_whole(target, email_text(email).encode())
        written = [target]
        results = self._copy_results(number, job_id)
        if results is not None:
            written.append(results)
        return written

    def _copy_results(self, number: int, job_id: str) -> Path | None:
        store = DynamoJobStore(self._stack.client("dynamodb"), self._stack.ref("JobTable"))
        job = store.get_job(job_id)
        # Only a completed job has a results CSV (a dry run and a refused file have none).
        if job is None or job.status is not JobStatus.COMPLETED:
            return None
        key = results_key(job.upload.key)
        target = self.results / f"{number}-{key.rsplit('/', 1)[-1]}"
        try:
            body = open_results(
                self._stack.client("s3"), job.upload.bucket, key, written_by=job.notified_at
            )
        except StackCliError as error:
            log.warning("no results CSV for %s: %s", job_id, error)
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
